package deribit

import (
	"errors"
	"fmt"

	"github.com/stratbox/stratbox/conn/jsonscan"
)

// ErrDecode is wrapped by every decoding error.
var ErrDecode = errors.New("deribit: cannot decode")

func decodeErr(what string, s *jsonscan.Scanner) error {
	if err := s.Err(); err != nil {
		return fmt.Errorf("%w %s: %w", ErrDecode, what, err)
	}
	return fmt.Errorf("%w %s", ErrDecode, what)
}

// BookType is the kind of a book message.
type BookType uint8

// Book message types.
const (
	// BookGrouped: a grouped book message, a full snapshot of [price, amount]
	// levels with no type and no prev_change_id.
	BookGrouped BookType = iota
	// BookSnapshot: the first message of book.{instrument}.{interval}.
	BookSnapshot
	// BookChange: every later message; levels carry an action.
	BookChange
)

// Action is what a level of a book change does.
type Action uint8

// Level actions.
const (
	ActionNew Action = iota
	ActionChange
	ActionDelete
)

// Level is one price level. A delete carries amount 0.
type Level struct {
	Action Action
	Price  float64
	Amount float64
}

// Book is one book notification. Decode into the same Book again and again:
// its level slices and instrument name are reused.
type Book struct {
	Type         BookType
	Instrument   string
	Timestamp    int64 // ms
	ChangeID     int64
	PrevChangeID int64 // 0 when absent (snapshots, grouped books)
	Bids, Asks   []Level
}

// DecodeBook decodes the data of a book notification into dst. It does not
// allocate once dst's level slices are large enough and the instrument is
// the one dst already holds.
func DecodeBook(data []byte, dst *Book) error {
	var s jsonscan.Scanner
	s.Reset(data)
	dst.Type, dst.Timestamp, dst.ChangeID, dst.PrevChangeID = BookGrouped, 0, 0, 0
	dst.Bids, dst.Asks = dst.Bids[:0], dst.Asks[:0]
	if !s.Object() {
		return decodeErr("book", &s)
	}
	for {
		k, ok := s.Key()
		if !ok {
			break
		}
		switch string(k) {
		case "type":
			v, ok := s.String()
			if !ok {
				return decodeErr("book type", &s)
			}
			switch string(v) {
			case "snapshot":
				dst.Type = BookSnapshot
			case "change":
				dst.Type = BookChange
			default:
				return decodeErr("book type "+string(v), &s)
			}
		case "instrument_name":
			v, ok := s.String()
			if !ok {
				return decodeErr("book instrument_name", &s)
			}
			if string(v) != dst.Instrument {
				dst.Instrument = string(v)
			}
		case "timestamp":
			dst.Timestamp, ok = s.Int()
		case "change_id":
			dst.ChangeID, ok = s.Int()
		case "prev_change_id":
			dst.PrevChangeID, ok = s.Int()
		case "bids":
			dst.Bids, ok = levels(&s, dst.Bids)
		case "asks":
			dst.Asks, ok = levels(&s, dst.Asks)
		default:
			_, ok = s.Skip()
		}
		if !ok {
			return decodeErr("book "+string(k), &s)
		}
	}
	if !s.End() {
		return decodeErr("book", &s)
	}
	return nil
}

// levels reads [[action, price, amount], …] or, grouped, [[price, amount], …].
func levels(s *jsonscan.Scanner, dst []Level) ([]Level, bool) {
	if !s.Array() {
		return dst, false
	}
	for s.Elem() {
		if !s.Array() || !s.Elem() {
			return dst, s.Fail("level expected")
		}
		var l Level
		if s.Peek() == jsonscan.String {
			a, _ := s.String()
			switch string(a) {
			case "new":
				l.Action = ActionNew
			case "change":
				l.Action = ActionChange
			case "delete":
				l.Action = ActionDelete
			default:
				return dst, s.Fail("unknown level action")
			}
			if !s.Elem() {
				return dst, s.Fail("level price expected")
			}
		}
		var ok bool
		if l.Price, ok = s.Float(); !ok {
			return dst, false
		}
		if !s.Elem() {
			return dst, s.Fail("level amount expected")
		}
		if l.Amount, ok = s.Float(); !ok {
			return dst, false
		}
		if s.Elem() {
			return dst, s.Fail("level has too many members")
		}
		if s.Err() != nil {
			return dst, false
		}
		dst = append(dst, l)
	}
	return dst, s.Err() == nil
}
