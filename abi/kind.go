package abi

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is a record's type, the first field of its header. Ranges:
//
//	0x0000          invalid (a zeroed header is never a record)
//	0x0001..0x00FF  events, host → plugin, through the inbox
//	0x0100..0x01FF  start-up records, host → plugin, only in the blob given to stratbox_init
//	0x0200..0x02FF  intents, plugin → host, through the outbox
//	0xF000..0xFFFF  experimental; never assigned by a released version
type Kind uint16

// Events (host → plugin).
const (
	KindBookSnapshot   Kind = 0x0001
	KindBookChange     Kind = 0x0002
	KindTicker         Kind = 0x0003
	KindTrade          Kind = 0x0004
	KindOrderUpdate    Kind = 0x0005
	KindFill           Kind = 0x0006
	KindPosition       Kind = 0x0007
	KindPoolState      Kind = 0x0008
	KindTimer          Kind = 0x0009
	KindIntentRejected Kind = 0x000A
)

// Start-up records (host → plugin, in the stratbox_init blob only).
const (
	KindStart      Kind = 0x0100
	KindInstrument Kind = 0x0101
	KindParam      Kind = 0x0102
)

// Intents (plugin → host).
const (
	KindPlace     Kind = 0x0200
	KindAmend     Kind = 0x0201
	KindCancel    Kind = 0x0202
	KindCancelAll Kind = 0x0203
)

// Record sizes. A fixed-size record is at least this long; a longer one (a
// newer minor version appended fields) is read by ignoring the tail. A
// variable-size record (book, instrument, param) is exactly its fixed part
// plus its tail rounded up to 8.
const (
	SizeBookFixed      = 48 // + 16 per level
	SizeLevel          = 16
	SizeTicker         = 104
	SizeTrade          = 48
	SizeOrderUpdate    = 136
	SizeFill           = 72
	SizePosition       = 56
	SizePoolState      = 24
	SizeTimer          = 32
	SizeIntentRejected = 72

	SizeStart           = 80
	SizeInstrumentFixed = 160 // + 16 per tick step
	SizeTickStep        = 16
	SizeParamFixed      = 24 // + key and text, padded to 8

	SizePlace     = 80
	SizeAmend     = 40
	SizeCancel    = 16
	SizeCancelAll = 16

	// MaxBookLevels is the most levels (bids + asks) one book record holds.
	MaxBookLevels = (MaxRecordSize - SizeBookFixed) / SizeLevel // 4092
	// MaxTickSteps is the most tick steps an instrument record holds.
	MaxTickSteps = 255
	// MaxParamBytes is the most key + text bytes a param record holds.
	MaxParamBytes = MaxRecordSize - SizeParamFixed // 65504
)

// Class is the direction a record kind travels in.
type Class uint8

// Classes of kinds.
const (
	ClassUnknown Class = iota
	ClassEvent
	ClassStartup
	ClassIntent
)

type kindInfo struct {
	name     string
	minSize  int
	reserved [][2]int // [from, to) byte ranges that writers set to zero
}

var kinds = map[Kind]kindInfo{
	KindBookSnapshot:   {"book_snapshot", SizeBookFixed, [][2]int{{18, 24}}},
	KindBookChange:     {"book_change", SizeBookFixed, [][2]int{{18, 24}}},
	KindTicker:         {"ticker", SizeTicker, nil},
	KindTrade:          {"trade", SizeTrade, [][2]int{{14, 16}}},
	KindOrderUpdate:    {"order_update", SizeOrderUpdate, nil},
	KindFill:           {"fill", SizeFill, [][2]int{{22, 24}}},
	KindPosition:       {"position", SizePosition, nil},
	KindPoolState:      {"pool_state", SizePoolState, nil},
	KindTimer:          {"timer", SizeTimer, [][2]int{{12, 16}}},
	KindIntentRejected: {"intent_rejected", SizeIntentRejected, nil},
	KindStart:          {"start", SizeStart, nil},
	KindInstrument:     {"instrument", SizeInstrumentFixed, nil},
	KindParam:          {"param", SizeParamFixed, [][2]int{{9, 10}}},
	KindPlace:          {"place", SizePlace, [][2]int{{23, 24}, {26, 32}}},
	KindAmend:          {"amend", SizeAmend, [][2]int{{34, 40}}},
	KindCancel:         {"cancel", SizeCancel, nil},
	KindCancelAll:      {"cancel_all", SizeCancelAll, [][2]int{{13, 16}}},
}

// ReservedZero reports whether every reserved byte of rec, a framed record
// of a kind this version knows, is zero: the reserved fields of its layout,
// the padding after a param's text, and the bytes after the text of each
// fixed-size string. The host refuses an intent for which it is false
// (ReasonMalformed), so that a later minor version can give those bytes a
// meaning. It returns false for a record too short for its kind.
func ReservedZero(rec []byte) bool {
	if len(rec) < HeaderSize {
		return false
	}
	h := ReadHeader(rec)
	ki, ok := kinds[h.Kind]
	if !ok || len(rec) < ki.minSize || int(h.Size) > len(rec) {
		return false
	}
	zero := func(b []byte) bool {
		for _, c := range b {
			if c != 0 {
				return false
			}
		}
		return true
	}
	for _, r := range ki.reserved {
		if !zero(rec[r[0]:r[1]]) {
			return false
		}
	}
	for _, r := range strFields[h.Kind] {
		if !zero(rec[r[0]+strLen(rec[r[0]:r[1]]) : r[1]]) {
			return false
		}
	}
	if h.Kind == KindParam {
		n := SizeParamFixed + int(u16(rec, 10)) + int(u32(rec, 12))
		if n > int(h.Size) || !zero(rec[n:h.Size]) {
			return false
		}
	}
	return true
}

// strFields lists the fixed-size string fields of each kind.
var strFields = map[Kind][][2]int{
	KindOrderUpdate:    {{72, 104}, {104, 136}},
	KindFill:           {{64, 72}},
	KindIntentRejected: {{40, 72}},
	KindStart:          {{48, 80}},
	KindInstrument:     {{72, 80}, {80, 88}, {88, 96}, {96, 160}},
	KindPlace:          {{48, 80}},
}

// Known reports whether this version of the ABI defines k.
func (k Kind) Known() bool { _, ok := kinds[k]; return ok }

// Class returns the direction of k by its range (also for kinds this version
// does not define).
func (k Kind) Class() Class {
	switch {
	case k >= 0x0001 && k <= 0x00FF:
		return ClassEvent
	case k >= 0x0100 && k <= 0x01FF:
		return ClassStartup
	case k >= 0x0200 && k <= 0x02FF:
		return ClassIntent
	}
	return ClassUnknown
}

// MinSize returns the smallest valid size of a record of kind k, or 0 for a
// kind this version does not define.
func (k Kind) MinSize() int { return kinds[k].minSize }

// String returns the kind's snake_case name ("book_change"), or "0x1234"
// for a kind this version does not define.
func (k Kind) String() string {
	if ki, ok := kinds[k]; ok {
		return ki.name
	}
	return "0x" + strconv.FormatUint(uint64(k)|0x10000, 16)[1:]
}

// MarshalJSON renders k as String does.
func (k Kind) MarshalJSON() ([]byte, error) { return strconv.AppendQuote(nil, k.String()), nil }

// UnmarshalJSON reads a kind's name or "0x" and four hex digits.
func (k *Kind) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return fmt.Errorf("abi: kind %s is not a JSON string", b)
	}
	if v, ok := KindByName(s); ok {
		*k = v
		return nil
	}
	if h, ok := strings.CutPrefix(s, "0x"); ok && len(h) == 4 {
		if n, err := strconv.ParseUint(h, 16, 16); err == nil {
			*k = Kind(n)
			return nil
		}
	}
	return fmt.Errorf("abi: unknown kind %q", s)
}

// KindByName returns the kind named name (as String returns it).
func KindByName(name string) (Kind, bool) {
	for k, ki := range kinds {
		if ki.name == name {
			return k, true
		}
	}
	return 0, false
}
