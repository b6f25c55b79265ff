package record

import (
	"bytes"
	"strconv"
	"time"

	"github.com/stratbox/stratbox/conn/jsonscan"
)

// The text formats are read with the connection's zero-allocation scanner
// (conn/jsonscan), one pass over each line, no encoding/json and no
// time.Parse on the hot path: JSON Lines at the speed of the native format
// (BenchmarkRead). A line is as valid as the live connection would find the
// same frame: keys and scalars are checked, nested values are skipped with
// balanced brackets and well-formed strings.

// lineFields are what a JSON Lines line says about its frame.
type lineFields struct {
	ts     []byte // "ts": the wrapped frame's time, ns (a number's text)
	frame  []byte // "frame": the wrapped frame
	out    bool   // "dir": "out"
	conn   uint64 // "conn"
	usOut  int64  // a raw frame's usOut (µs)
	dataTS int64  // a raw frame's params.data.timestamp, or its first element's (ms)
}

// scanLine reads one JSON object's members into f; false when the line is
// not a JSON object or a known member has the wrong type.
func scanLine(sc *jsonscan.Scanner, line []byte, f *lineFields) bool {
	sc.Reset(line)
	if !sc.Object() {
		return false
	}
	for {
		key, ok := sc.Key()
		if !ok {
			break
		}
		switch string(key) {
		case "ts":
			if sc.Null() {
				f.ts = nil
				continue
			}
			num, ok := sc.Number()
			if !ok {
				return false
			}
			f.ts = num
		case "frame":
			if sc.Null() {
				f.frame = nil
				continue
			}
			if sc.Peek() != jsonscan.Object {
				return false
			}
			raw, ok := sc.Skip()
			if !ok {
				return false
			}
			f.frame = raw
		case "dir":
			if sc.Null() {
				continue
			}
			s, ok := sc.String()
			if !ok {
				return false
			}
			f.out = string(s) == "out"
		case "conn":
			if sc.Null() {
				continue
			}
			n, ok := sc.Uint()
			if !ok {
				return false
			}
			f.conn = n
		case "usOut":
			if sc.Null() {
				continue
			}
			n, ok := sc.Int()
			if !ok {
				return false
			}
			f.usOut = n
		case "params":
			if sc.Null() {
				continue
			}
			if !scanParams(sc, f) {
				return false
			}
		default:
			if _, ok := sc.Skip(); !ok {
				return false
			}
		}
	}
	return sc.End()
}

// scanParams reads a notification's params for its data's timestamp.
func scanParams(sc *jsonscan.Scanner, f *lineFields) bool {
	if !sc.Object() {
		return false
	}
	for {
		key, ok := sc.Key()
		if !ok {
			return sc.Err() == nil
		}
		raw, ok := sc.Skip()
		if !ok {
			return false
		}
		if string(key) == "data" {
			f.dataTS = dataTimestamp(raw)
		}
	}
}

// dataTimestamp is the "timestamp" of a notification's data object, or of
// the first element of its data array; 0 when it has none.
func dataTimestamp(raw []byte) int64 {
	var sc jsonscan.Scanner
	sc.Reset(raw)
	if sc.Peek() == jsonscan.Array {
		if !sc.Array() || !sc.Elem() {
			return 0
		}
	}
	if sc.Peek() != jsonscan.Object || !sc.Object() {
		return 0
	}
	for {
		key, ok := sc.Key()
		if !ok {
			return 0
		}
		if string(key) == "timestamp" {
			ms, ok := sc.Int()
			if !ok {
				return 0
			}
			return ms
		}
		if _, ok := sc.Skip(); !ok {
			return 0
		}
	}
}

// rawTime is a raw frame's time: usOut, else its data's timestamp (ms).
func (f *lineFields) rawTime() int64 {
	if f.usOut > 0 {
		return f.usOut * 1000
	}
	return f.dataTS * int64(time.Millisecond)
}

func (r *textReader) jsonl(line []byte) (Frame, bool) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return Frame{}, false
	}
	var l lineFields
	if line[0] != '{' || !scanLine(&r.sc, line, &l) {
		r.stats.Skipped++
		return Frame{}, false
	}
	f := Frame{Dir: In, Conn: l.conn}
	if l.out {
		f.Dir = Out
	}
	if l.frame != nil {
		f.Data = l.frame
		if l.ts != nil {
			ns, err := strconv.ParseInt(string(l.ts), 10, 64)
			if err != nil {
				r.stats.Skipped++
				return Frame{}, false
			}
			f.Time = ns
		} else {
			var inner lineFields
			_ = scanLine(&r.sc, l.frame, &inner)
			f.Time = inner.rawTime()
		}
		return f, true
	}
	f.Data = line
	f.Time = l.rawTime()
	if l.ts != nil {
		if ns, err := strconv.ParseInt(string(l.ts), 10, 64); err == nil {
			f.Time = ns
		}
	}
	return f, true
}

// parseTime reads Tardis.dev's arrival time, an RFC 3339 instant. The
// common UTC shape (2019-10-01T00:00:00.0466405Z) is read by hand; anything
// else (an offset, a lower-case z) goes to time.Parse.
func parseTime(b []byte) (int64, bool) {
	if ns, ok := parseUTC(b); ok {
		return ns, true
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return 0, false
	}
	return t.UnixNano(), true
}

// parseUTC reads YYYY-MM-DDTHH:MM:SS[.fraction]Z.
func parseUTC(b []byte) (int64, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return 0, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	var frac int64
	if rest := b[19 : len(b)-1]; len(rest) > 0 {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return 0, false
		}
		n, ok := digits(rest[1:])
		if !ok {
			return 0, false
		}
		for i := len(rest) - 1; i < 9; i++ {
			n *= 10
		}
		frac = n
	}
	days := daysFromCivil(year, month, day)
	return ((days*24+hour)*60+minute)*60*1e9 + sec*1e9 + frac, true
}

func digits(b []byte) (int64, bool) {
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func daysIn(month, year int64) int64 {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is the number of days from 1970-01-01 to the date (Howard
// Hinnant's algorithm, proleptic Gregorian).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
