package abi

// Byte offsets of the record fields that a router or a queue reads in place,
// without decoding the record (the layouts are on each record's type and in
// README.md §9). They are part of the ABI: no version moves a field.
const (
	// OffInstrument is the u32 instrument of a book, ticker, trade or
	// position record.
	OffInstrument = 8
	// OffFlags is the u32 flags of a ticker (TickerFlags) or a position
	// (PositionFlags).
	OffFlags = 12
	// OffBookFlags is the u16 flags (BookFlags) of a book record.
	OffBookFlags = 16
	// OffChangeID is the u64 change_id of a book record.
	OffChangeID = 24
	// OffPrevChangeID is the u64 prev_change_id of a book record.
	OffPrevChangeID = 32
	// OffMarkPrice is the i64 mark_price of a ticker.
	OffMarkPrice = 64
	// OffCID is the u64 cid of an order_update or a fill.
	OffCID = 8
)
