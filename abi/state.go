package abi

// Position is a Position record (README.md "position"); it also appears in
// the start-up blob, one per starting position:
//
//	 0 header (kind 0x0007), size 56
//	 8 u32 instrument
//	12 u32 flags (PositionFlags)
//	16 u64 ts (ns)
//	24 i64 size (signed: > 0 long, < 0 short; in the instrument's amount unit)
//	32 i64 avg_price
//	40 i64 realized_pnl (settlement currency)
//	48 i64 unrealized_pnl (settlement currency, at the mark price)
type Position struct {
	Seq           uint32        `json:"seq"`
	Instrument    uint32        `json:"instrument"`
	Flags         PositionFlags `json:"flags"`
	Time          uint64        `json:"ts"`
	Size          Fixed         `json:"size"`
	AvgPrice      Fixed         `json:"avg_price"`
	RealizedPnL   Fixed         `json:"realized_pnl"`
	UnrealizedPnL Fixed         `json:"unrealized_pnl"`
}

// AppendPosition appends p as a Position record.
func AppendPosition(dst []byte, p *Position) []byte {
	dst, r := grow(dst, SizePosition)
	putHeader(r, KindPosition, SizePosition, p.Seq)
	put32(r, 8, p.Instrument)
	put32(r, 12, uint32(p.Flags))
	put64(r, 16, p.Time)
	putFx(r, 24, p.Size)
	putFx(r, 32, p.AvgPrice)
	putFx(r, 40, p.RealizedPnL)
	putFx(r, 48, p.UnrealizedPnL)
	return dst
}

// DecodePosition decodes a Position record into p.
func DecodePosition(rec []byte, p *Position) error {
	rr, seq, ok := frame(rec, KindPosition, 0, SizePosition)
	if !ok {
		return checkErr(rec, KindPosition, 0, SizePosition)
	}
	r := (*[SizePosition]byte)(rr)[:] // a constant length: no bounds check below
	p.Seq = seq
	p.Instrument = u32(r, 8)
	p.Flags = PositionFlags(u32(r, 12))
	p.Time = u64(r, 16)
	p.Size = fx(r, 24)
	p.AvgPrice = fx(r, 32)
	p.RealizedPnL = fx(r, 40)
	p.UnrealizedPnL = fx(r, 48)
	return nil
}

// PoolState is a PoolState record: the health of the connections that carry
// the plugin's orders changed (README.md "pool_state"):
//
//	 0 header (kind 0x0008), size 24
//	 8 u16 healthy (connections ready for orders)
//	10 u16 total (connections configured)
//	12 u32 flags (PoolFlags)
//	16 u64 ts (host time, ns)
type PoolState struct {
	Seq     uint32    `json:"seq"`
	Healthy uint16    `json:"healthy"`
	Total   uint16    `json:"total"`
	Flags   PoolFlags `json:"flags"`
	Time    uint64    `json:"ts"`
}

// AppendPoolState appends p as a PoolState record.
func AppendPoolState(dst []byte, p *PoolState) []byte {
	dst, r := grow(dst, SizePoolState)
	putHeader(r, KindPoolState, SizePoolState, p.Seq)
	put16(r, 8, p.Healthy)
	put16(r, 10, p.Total)
	put32(r, 12, uint32(p.Flags))
	put64(r, 16, p.Time)
	return dst
}

// DecodePoolState decodes a PoolState record into p.
func DecodePoolState(rec []byte, p *PoolState) error {
	rr, seq, ok := frame(rec, KindPoolState, 0, SizePoolState)
	if !ok {
		return checkErr(rec, KindPoolState, 0, SizePoolState)
	}
	r := (*[SizePoolState]byte)(rr)[:] // a constant length: no bounds check below
	p.Seq, p.Healthy, p.Total, p.Flags, p.Time = seq, u16(r, 8), u16(r, 10), PoolFlags(u32(r, 12)), u64(r, 16)
	return nil
}

// Timer is a Timer record: a timer the plugin set with set_timer fired
// (README.md "timer"):
//
//	 0 header (kind 0x0009), size 32
//	 8 u32 id (the plugin's timer id)
//	12 u32 reserved
//	16 u64 ts (host time when it was delivered, ns)
//	24 u64 due (host time it was set to fire at, ns)
type Timer struct {
	Seq  uint32 `json:"seq"`
	ID   uint32 `json:"id"`
	Time uint64 `json:"ts"`
	Due  uint64 `json:"due"`
}

// AppendTimer appends t as a Timer record.
func AppendTimer(dst []byte, t *Timer) []byte {
	dst, r := grow(dst, SizeTimer)
	putHeader(r, KindTimer, SizeTimer, t.Seq)
	put32(r, 8, t.ID)
	put64(r, 16, t.Time)
	put64(r, 24, t.Due)
	return dst
}

// DecodeTimer decodes a Timer record into t.
func DecodeTimer(rec []byte, t *Timer) error {
	rr, seq, ok := frame(rec, KindTimer, 0, SizeTimer)
	if !ok {
		return checkErr(rec, KindTimer, 0, SizeTimer)
	}
	r := (*[SizeTimer]byte)(rr)[:] // a constant length: no bounds check below
	t.Seq, t.ID, t.Time, t.Due = seq, u32(r, 8), u64(r, 16), u64(r, 24)
	return nil
}
