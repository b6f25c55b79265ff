package abi

// Place is a Place intent: a new order (README.md "place"):
//
//	 0 header (kind 0x0200, seq chosen by the plugin), size 80
//	 8 u64 cid (chosen by the plugin: != 0, >= Start.FirstCID, never reused by the instance)
//	16 u32 instrument
//	20 u8  side
//	21 u8  type (OrderType)
//	22 u8  tif (TimeInForce)
//	23 u8  reserved
//	24 u16 flags (OrderFlags)
//	26 u16 reserved, 28 u32 reserved
//	32 i64 price (limit price; 0 for a market order)
//	40 i64 amount (> 0, in the instrument's amount unit)
//	48 [32] label (free text for the plugin's own use; may be empty)
type Place struct {
	Seq        uint32      `json:"seq"`
	CID        uint64      `json:"cid"`
	Instrument uint32      `json:"instrument"`
	Side       Side        `json:"side"`
	Type       OrderType   `json:"type"`
	TIF        TimeInForce `json:"tif"`
	Flags      OrderFlags  `json:"flags"`
	Price      Fixed       `json:"price"`
	Amount     Fixed       `json:"amount"`
	Label      Str32       `json:"label"`
}

// AppendPlace appends p as a Place record. Like every intent's encoder, it
// writes each byte of the record, reserved ones included (extend).
func AppendPlace(dst []byte, p *Place) []byte {
	dst, rr := extend(dst, SizePlace)
	r := (*[SizePlace]byte)(rr)[:] // a constant length: no bounds check below
	put64(r, 0, header(KindPlace, SizePlace, p.Seq))
	put64(r, 8, p.CID)
	put64(r, 16, uint64(p.Instrument)|uint64(p.Side)<<32|uint64(p.Type)<<40|uint64(p.TIF)<<48) // 23 reserved
	put64(r, 24, uint64(uint16(p.Flags)))                                                      // 26 reserved
	putFx(r, 32, p.Price)
	putFx(r, 40, p.Amount)
	l := p.Label[:]
	put64(r, 48, u64(l, 0)) // the label a word at a time: copy would be a memmove call in wasm
	put64(r, 56, u64(l, 8))
	put64(r, 64, u64(l, 16))
	put64(r, 72, u64(l, 24))
	return dst
}

// DecodePlace decodes a Place record into p. It checks the layout only; the
// host's validation (README.md "Validation of intents") is separate.
func DecodePlace(rec []byte, p *Place) error {
	rr, seq, ok := frame(rec, KindPlace, 0, SizePlace)
	if !ok {
		return checkErr(rec, KindPlace, 0, SizePlace)
	}
	r := (*[SizePlace]byte)(rr)[:] // a constant length: no bounds check below
	*p = Place{
		Seq:        seq,
		CID:        u64(r, 8),
		Instrument: u32(r, 16),
		Side:       Side(r[20]),
		Type:       OrderType(r[21]),
		TIF:        TimeInForce(r[22]),
		Flags:      OrderFlags(u16(r, 24)),
		Price:      fx(r, 32),
		Amount:     fx(r, 40),
	}
	copy(p.Label[:], r[48:80])
	return nil
}

// Amend is an Amend intent: change the price and amount of an open order
// (Deribit private/edit) (README.md "amend"):
//
//	 0 header (kind 0x0201), size 40
//	 8 u64 cid
//	16 i64 price (the new limit price, > 0)
//	24 i64 amount (the new total amount, filled part included, > 0)
//	32 u16 flags (OrderFlags: post_only, reject_post_only, reduce_only for the edit)
//	34 u16 reserved, 36 u32 reserved
type Amend struct {
	Seq    uint32     `json:"seq"`
	CID    uint64     `json:"cid"`
	Price  Fixed      `json:"price"`
	Amount Fixed      `json:"amount"`
	Flags  OrderFlags `json:"flags"`
}

// AppendAmend appends a as an Amend record.
func AppendAmend(dst []byte, a *Amend) []byte {
	dst, rr := extend(dst, SizeAmend)
	r := (*[SizeAmend]byte)(rr)[:] // a constant length: no bounds check below
	put64(r, 0, header(KindAmend, SizeAmend, a.Seq))
	put64(r, 8, a.CID)
	putFx(r, 16, a.Price)
	putFx(r, 24, a.Amount)
	put64(r, 32, uint64(uint16(a.Flags))) // 34 reserved
	return dst
}

// DecodeAmend decodes an Amend record into a.
func DecodeAmend(rec []byte, a *Amend) error {
	rr, seq, ok := frame(rec, KindAmend, 0, SizeAmend)
	if !ok {
		return checkErr(rec, KindAmend, 0, SizeAmend)
	}
	r := (*[SizeAmend]byte)(rr)[:] // a constant length: no bounds check below
	*a = Amend{Seq: seq, CID: u64(r, 8), Price: fx(r, 16), Amount: fx(r, 24), Flags: OrderFlags(u16(r, 32))}
	return nil
}

// Cancel is a Cancel intent: cancel one order (README.md "cancel"):
//
//	0 header (kind 0x0202), size 16
//	8 u64 cid
type Cancel struct {
	Seq uint32 `json:"seq"`
	CID uint64 `json:"cid"`
}

// AppendCancel appends c as a Cancel record.
func AppendCancel(dst []byte, c *Cancel) []byte {
	dst, rr := extend(dst, SizeCancel)
	r := (*[SizeCancel]byte)(rr)[:] // a constant length: no bounds check below
	put64(r, 0, header(KindCancel, SizeCancel, c.Seq))
	put64(r, 8, c.CID)
	return dst
}

// DecodeCancel decodes a Cancel record into c.
func DecodeCancel(rec []byte, c *Cancel) error {
	rr, seq, ok := frame(rec, KindCancel, 0, SizeCancel)
	if !ok {
		return checkErr(rec, KindCancel, 0, SizeCancel)
	}
	r := (*[SizeCancel]byte)(rr)[:] // a constant length: no bounds check below
	*c = Cancel{Seq: seq, CID: u64(r, 8)}
	return nil
}

// CancelAll is a CancelAll intent: cancel every open order of this plugin
// instance, optionally only of one instrument and one side (README.md
// "cancel_all"). It never touches orders of other plugins or of the account.
//
//	 0 header (kind 0x0203), size 16
//	 8 u32 instrument (NoInstrument: every instrument)
//	12 u8  side (SideNone: both sides)
//	13 u8 reserved, 14 u16 reserved
type CancelAll struct {
	Seq        uint32 `json:"seq"`
	Instrument uint32 `json:"instrument"`
	Side       Side   `json:"side"`
}

// AppendCancelAll appends c as a CancelAll record.
func AppendCancelAll(dst []byte, c *CancelAll) []byte {
	dst, rr := extend(dst, SizeCancelAll)
	r := (*[SizeCancelAll]byte)(rr)[:] // a constant length: no bounds check below
	put64(r, 0, header(KindCancelAll, SizeCancelAll, c.Seq))
	put64(r, 8, uint64(c.Instrument)|uint64(c.Side)<<32) // 13 reserved
	return dst
}

// DecodeCancelAll decodes a CancelAll record into c.
func DecodeCancelAll(rec []byte, c *CancelAll) error {
	rr, seq, ok := frame(rec, KindCancelAll, 0, SizeCancelAll)
	if !ok {
		return checkErr(rec, KindCancelAll, 0, SizeCancelAll)
	}
	r := (*[SizeCancelAll]byte)(rr)[:] // a constant length: no bounds check below
	*c = CancelAll{Seq: seq, Instrument: u32(r, 8), Side: Side(r[12])}
	return nil
}
