package abi

// NoInstrument is the instrument field's value for "none" or "all".
const NoInstrument = 0xFFFFFFFF

// OrderUpdate is an OrderUpdate record: the host's view of one of the
// plugin's orders changed (README.md "order_update"):
//
//	  0 header (kind 0x0005), size 136
//	  8 u64 cid
//	 16 u32 instrument
//	 20 u8  state (OrderState)
//	 21 u8  side
//	 22 u8  type (OrderType)
//	 23 u8  tif (TimeInForce)
//	 24 u16 flags (OrderFlags)
//	 26 u16 reason (Reason)
//	 28 i32 exchange_code (the exchange's error code with ReasonExchangeError, else 0)
//	 32 u64 ts (exchange time of the change, or host time when the host decided, ns)
//	 40 i64 price (0 for a market order)
//	 48 i64 amount (the order's total amount)
//	 56 i64 filled_amount (cumulative)
//	 64 i64 avg_price (of the filled part; 0 when nothing filled)
//	 72 [32] exchange_order_id (empty until the exchange acknowledged it)
//	104 [32] text (the exchange's cancel reason or error message, cut to 32 bytes)
type OrderUpdate struct {
	Seq             uint32      `json:"seq"`
	CID             uint64      `json:"cid"`
	Instrument      uint32      `json:"instrument"`
	State           OrderState  `json:"state"`
	Side            Side        `json:"side"`
	Type            OrderType   `json:"type"`
	TIF             TimeInForce `json:"tif"`
	Flags           OrderFlags  `json:"flags"`
	Reason          Reason      `json:"reason"`
	ExchangeCode    int32       `json:"exchange_code"`
	Time            uint64      `json:"ts"`
	Price           Fixed       `json:"price"`
	Amount          Fixed       `json:"amount"`
	FilledAmount    Fixed       `json:"filled_amount"`
	AvgPrice        Fixed       `json:"avg_price"`
	ExchangeOrderID Str32       `json:"exchange_order_id"`
	Text            Str32       `json:"text"`
}

// AppendOrderUpdate appends o as an OrderUpdate record.
func AppendOrderUpdate(dst []byte, o *OrderUpdate) []byte {
	dst, r := grow(dst, SizeOrderUpdate)
	putHeader(r, KindOrderUpdate, SizeOrderUpdate, o.Seq)
	put64(r, 8, o.CID)
	put32(r, 16, o.Instrument)
	r[20] = uint8(o.State)
	r[21] = uint8(o.Side)
	r[22] = uint8(o.Type)
	r[23] = uint8(o.TIF)
	put16(r, 24, uint16(o.Flags))
	put16(r, 26, uint16(o.Reason))
	put32(r, 28, uint32(o.ExchangeCode))
	put64(r, 32, o.Time)
	putFx(r, 40, o.Price)
	putFx(r, 48, o.Amount)
	putFx(r, 56, o.FilledAmount)
	putFx(r, 64, o.AvgPrice)
	copy(r[72:104], o.ExchangeOrderID[:])
	copy(r[104:136], o.Text[:])
	return dst
}

// DecodeOrderUpdate decodes an OrderUpdate record into o.
func DecodeOrderUpdate(rec []byte, o *OrderUpdate) error {
	rr, seq, ok := frame(rec, KindOrderUpdate, 0, SizeOrderUpdate)
	if !ok {
		return checkErr(rec, KindOrderUpdate, 0, SizeOrderUpdate)
	}
	r := (*[SizeOrderUpdate]byte)(rr)[:] // a constant length: no bounds check below
	o.Seq = seq
	o.CID = u64(r, 8)
	o.Instrument = u32(r, 16)
	o.State = OrderState(r[20])
	o.Side = Side(r[21])
	o.Type = OrderType(r[22])
	o.TIF = TimeInForce(r[23])
	o.Flags = OrderFlags(u16(r, 24))
	o.Reason = Reason(u16(r, 26))
	o.ExchangeCode = i32(r, 28)
	o.Time = u64(r, 32)
	o.Price = fx(r, 40)
	o.Amount = fx(r, 48)
	o.FilledAmount = fx(r, 56)
	o.AvgPrice = fx(r, 64)
	copy(o.ExchangeOrderID[:], r[72:104])
	copy(o.Text[:], r[104:136])
	return nil
}

// Fill is a Fill record: one of the plugin's orders traded (README.md
// "fill"):
//
//	 0 header (kind 0x0006), size 72
//	 8 u64 cid (0: an order the plugin did not place)
//	16 u32 instrument
//	20 u8  side
//	21 u8  liquidity (Liquidity)
//	22 u16 reserved
//	24 u64 ts (exchange time, ns)
//	32 u64 trade_seq
//	40 i64 price
//	48 i64 amount
//	56 i64 fee (in fee_currency; negative is a rebate)
//	64 [8] fee_currency
type Fill struct {
	Seq         uint32    `json:"seq"`
	CID         uint64    `json:"cid"`
	Instrument  uint32    `json:"instrument"`
	Side        Side      `json:"side"`
	Liquidity   Liquidity `json:"liquidity"`
	Time        uint64    `json:"ts"`
	TradeSeq    uint64    `json:"trade_seq"`
	Price       Fixed     `json:"price"`
	Amount      Fixed     `json:"amount"`
	Fee         Fixed     `json:"fee"`
	FeeCurrency Str8      `json:"fee_currency"`
}

// AppendFill appends f as a Fill record.
func AppendFill(dst []byte, f *Fill) []byte {
	dst, r := grow(dst, SizeFill)
	putHeader(r, KindFill, SizeFill, f.Seq)
	put64(r, 8, f.CID)
	put32(r, 16, f.Instrument)
	r[20] = uint8(f.Side)
	r[21] = uint8(f.Liquidity)
	put64(r, 24, f.Time)
	put64(r, 32, f.TradeSeq)
	putFx(r, 40, f.Price)
	putFx(r, 48, f.Amount)
	putFx(r, 56, f.Fee)
	copy(r[64:72], f.FeeCurrency[:])
	return dst
}

// DecodeFill decodes a Fill record into f.
func DecodeFill(rec []byte, f *Fill) error {
	rr, seq, ok := frame(rec, KindFill, 0, SizeFill)
	if !ok {
		return checkErr(rec, KindFill, 0, SizeFill)
	}
	r := (*[SizeFill]byte)(rr)[:] // a constant length: no bounds check below
	f.Seq = seq
	f.CID = u64(r, 8)
	f.Instrument = u32(r, 16)
	f.Side = Side(r[20])
	f.Liquidity = Liquidity(r[21])
	f.Time = u64(r, 24)
	f.TradeSeq = u64(r, 32)
	f.Price = fx(r, 40)
	f.Amount = fx(r, 48)
	f.Fee = fx(r, 56)
	copy(f.FeeCurrency[:], r[64:72])
	return nil
}

// IntentRejected is an IntentRejected record: the host or the exchange
// refused an Amend, Cancel or CancelAll (a refused Place is an OrderUpdate
// with StateRejected instead, so that every order's life ends in an order
// update) or an intent of a kind the host does not support (README.md
// "intent_rejected"):
//
//	 0 header (kind 0x000A), size 72
//	 8 u16 intent_kind
//	10 u16 reason (Reason)
//	12 i32 exchange_code
//	16 u64 cid (0 for CancelAll or an unsupported kind)
//	24 u32 intent_seq (the refused intent's header seq)
//	28 u32 instrument (NoInstrument when none)
//	32 u64 ts (host time, ns)
//	40 [32] text
type IntentRejected struct {
	Seq          uint32 `json:"seq"`
	IntentKind   Kind   `json:"intent_kind"`
	Reason       Reason `json:"reason"`
	ExchangeCode int32  `json:"exchange_code"`
	CID          uint64 `json:"cid"`
	IntentSeq    uint32 `json:"intent_seq"`
	Instrument   uint32 `json:"instrument"`
	Time         uint64 `json:"ts"`
	Text         Str32  `json:"text"`
}

// AppendIntentRejected appends x as an IntentRejected record.
func AppendIntentRejected(dst []byte, x *IntentRejected) []byte {
	dst, r := grow(dst, SizeIntentRejected)
	putHeader(r, KindIntentRejected, SizeIntentRejected, x.Seq)
	put16(r, 8, uint16(x.IntentKind))
	put16(r, 10, uint16(x.Reason))
	put32(r, 12, uint32(x.ExchangeCode))
	put64(r, 16, x.CID)
	put32(r, 24, x.IntentSeq)
	put32(r, 28, x.Instrument)
	put64(r, 32, x.Time)
	copy(r[40:72], x.Text[:])
	return dst
}

// DecodeIntentRejected decodes an IntentRejected record into x.
func DecodeIntentRejected(rec []byte, x *IntentRejected) error {
	rr, seq, ok := frame(rec, KindIntentRejected, 0, SizeIntentRejected)
	if !ok {
		return checkErr(rec, KindIntentRejected, 0, SizeIntentRejected)
	}
	r := (*[SizeIntentRejected]byte)(rr)[:] // a constant length: no bounds check below
	x.Seq = seq
	x.IntentKind = Kind(u16(r, 8))
	x.Reason = Reason(u16(r, 10))
	x.ExchangeCode = i32(r, 12)
	x.CID = u64(r, 16)
	x.IntentSeq = u32(r, 24)
	x.Instrument = u32(r, 28)
	x.Time = u64(r, 32)
	copy(x.Text[:], r[40:72])
	return nil
}
