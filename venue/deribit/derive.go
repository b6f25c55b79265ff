package deribit

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// AggregateInterval is the period of Deribit's aggregated channels
// (interval 100ms) and of the ones this package derives from raw channels.
const AggregateInterval int64 = 100e6 // ns

// DerivedFrom tells whether channel want can be served from a recording
// that holds the channels for which have is true, and from which. A
// channel the recording holds is served as it is (source == want). A
// channel it does not hold is derived the way Deribit derives it from its
// raw feed:
//
//   - book.X.100ms and book.X.agg2 from book.X.raw: each 100 ms of recorded
//     time, the net change of every level the raw changes touched (new,
//     change, delete), with the last raw change_id and timestamp and, as
//     prev_change_id, the change_id of the message before it; a snapshot
//     first and after each raw snapshot. (Deribit does not document agg2's
//     period: it is derived as 100ms.)
//   - book.X.none.D.100ms (and .agg2), the grouped top-of-book snapshot of
//     depth D (1, 10 or 20) without grouping, from book.X.raw or
//     book.X.100ms: the best D levels of each side after each 100 ms that
//     changed the book. Grouped prices (group other than none) are not
//     derived.
//   - trades.X.100ms (and .agg2) from trades.X.raw: the trades of each
//     100 ms in one message, in their order.
//   - ticker.X.100ms (and .agg2) from ticker.X.raw: the last ticker of each
//     100 ms.
//
// want and have are channel names such as "book.BTC-PERPETUAL.100ms".
func DerivedFrom(want string, have func(string) bool) (source string, ok bool) {
	if have(want) {
		return want, true
	}
	parts := strings.Split(want, ".")
	if len(parts) < 3 {
		return "", false
	}
	interval := parts[len(parts)-1]
	if interval != "100ms" && interval != "agg2" {
		return "", false
	}
	switch parts[0] {
	case "book":
		switch len(parts) {
		case 3:
			return pick(have, "book."+parts[1]+".raw")
		case 5:
			if parts[2] != "none" || (parts[3] != "1" && parts[3] != "10" && parts[3] != "20") {
				return "", false
			}
			return pick(have, "book."+parts[1]+".raw", "book."+parts[1]+".100ms", "book."+parts[1]+".agg2")
		}
	case "trades", "ticker":
		if len(parts) == 3 {
			return pick(have, parts[0]+"."+parts[1]+".raw")
		}
	}
	return "", false
}

func pick(have func(string) bool, candidates ...string) (string, bool) {
	for _, c := range candidates {
		if have(c) {
			return c, true
		}
	}
	return "", false
}

// ErrNotDerivable is returned by Deriver.Add for a channel DerivedFrom
// cannot derive from the source given.
var ErrNotDerivable = errors.New("deribit: channel cannot be derived")

// Deriver derives aggregated channels from the raw notifications of a
// recording, in recorded time (see DerivedFrom). Feed it every
// notification in order with Frame; it emits each derived message when
// the first frame of a later 100 ms window arrives (before that frame), and
// the last ones on Flush. A Deriver is not safe for concurrent use.
type Deriver struct {
	targets map[string][]*derived // source channel → what derives from it
	all     []*derived
	window  int64 // the current window's index; -1 before the first frame
	out     []byte
	gaps    int
}

// derived is one derived channel and its state.
type derived struct {
	channel string
	kind    byte // 'b' book, 'g' grouped snapshot, 't' trades, 'k' ticker
	depth   int
	book    *rawBook // shared by the book channels of one source
	dirty   bool     // this window changed what the channel shows

	trades  []byte // 't': the window's trades, comma-separated
	ticker  []byte // 'k': the window's last ticker data
	started bool   // 'b': a snapshot was emitted since the last raw snapshot
	prevID  int64  // 'b': the change_id of the last message emitted
	touched [2]map[float64]bool
	shown   [2]map[float64]float64 // 'b': each side as last emitted
}

// rawBook is the book of a raw channel, as its messages left it.
type rawBook struct {
	LevelBook
	scratch Book
}

// NewDeriver returns a Deriver with no channel to derive yet.
func NewDeriver() *Deriver {
	return &Deriver{targets: map[string][]*derived{}, window: -1}
}

// Add makes the Deriver derive channel want from channel source (as
// DerivedFrom chose it).
func (d *Deriver) Add(want, source string) error {
	got, ok := DerivedFrom(want, func(c string) bool { return c == source })
	if !ok || got != source || want == source {
		return fmt.Errorf("%w: %s from %s", ErrNotDerivable, want, source)
	}
	for _, x := range d.all {
		if x.channel == want {
			return nil
		}
	}
	parts := strings.Split(want, ".")
	x := &derived{channel: want}
	switch {
	case parts[0] == "trades":
		x.kind = 't'
	case parts[0] == "ticker":
		x.kind = 'k'
	case len(parts) == 3:
		x.kind = 'b'
		x.touched = [2]map[float64]bool{{}, {}}
		x.shown = [2]map[float64]float64{{}, {}}
	default:
		x.kind = 'g'
		x.depth, _ = strconv.Atoi(parts[3])
	}
	if x.kind == 'b' || x.kind == 'g' {
		for _, y := range d.targets[source] {
			if y.book != nil {
				x.book = y.book
			}
		}
		if x.book == nil {
			x.book = &rawBook{}
		}
	}
	d.targets[source] = append(d.targets[source], x)
	d.all = append(d.all, x)
	return nil
}

// Sources reports whether channel is the source of a derived channel.
func (d *Deriver) Sources(channel []byte) bool { return d.targets[string(channel)] != nil }

// Gaps is the number of raw book changes that did not follow the change
// before them: the derived book waits for the next raw snapshot.
func (d *Deriver) Gaps() int { return d.gaps }

// Frame takes one notification received at recorded time t (ns): first it
// emits the derived messages of the windows that ended before t, each with
// the end of its window as its time; then it folds the notification into
// the channels derived from its channel. emit's frame is valid during the
// call only. The error is a notification of a source channel that cannot
// be read; it changes nothing.
func (d *Deriver) Frame(t int64, channel, data []byte, emit func(t int64, frame []byte)) error {
	d.advance(t, emit)
	targets := d.targets[string(channel)]
	if len(targets) == 0 {
		return nil
	}
	var book *rawBook
	for _, x := range targets {
		switch x.kind {
		case 't':
			a := bytes.TrimSpace(data)
			if len(a) < 2 || a[0] != '[' || a[len(a)-1] != ']' {
				return fmt.Errorf("%w trades: data is not an array", ErrDecode)
			}
			if in := bytes.TrimSpace(a[1 : len(a)-1]); len(in) > 0 {
				if len(x.trades) > 0 {
					x.trades = append(x.trades, ',')
				}
				x.trades = append(x.trades, in...)
				x.dirty = true
			}
		case 'k':
			x.ticker = append(x.ticker[:0], data...)
			x.dirty = true
		default:
			if book == nil {
				book = x.book
				if err := d.applyBook(book, data); err != nil {
					return err
				}
			}
		}
	}
	if book != nil {
		d.touchBook(book, targets)
	}
	return nil
}

// advance emits the derived messages of the windows that ended before t.
func (d *Deriver) advance(t int64, emit func(t int64, frame []byte)) {
	if w := t / AggregateInterval; w != d.window {
		if d.window >= 0 && w > d.window {
			d.flush((d.window+1)*AggregateInterval, emit)
		}
		if w > d.window {
			d.window = w
		}
	}
}

// FrameBook is Frame for a book channel that only books are derived from,
// with data that may not be the notification's data (a replay's
// conn.SplitNotification, which does not read it): it reads data as a book
// message first, and when it cannot, it returns false having changed
// nothing, and the caller goes the ordinary way (conn.ParseNotification,
// Frame). A decoding that reads data to its end is the check that data is
// the notification's data. After true, err is Frame's.
func (d *Deriver) FrameBook(t int64, channel, data []byte, emit func(t int64, frame []byte)) (ok bool, err error) {
	targets := d.targets[string(channel)]
	var book *rawBook
	for _, x := range targets {
		switch x.kind {
		case 't', 'k':
			return false, nil
		default:
			if book == nil {
				book = x.book
			}
		}
	}
	if book == nil || DecodeBook(data, &book.scratch) != nil {
		return false, nil // scratch is read only after a decoding that succeeded
	}
	d.advance(t, emit) // reads the books' levels, not their scratch
	if err := d.foldBook(book); err != nil {
		return true, err
	}
	d.touchBook(book, targets)
	return true, nil
}

// applyBook folds a raw (or 100ms) book message into b.
func (d *Deriver) applyBook(b *rawBook, data []byte) error {
	if err := DecodeBook(data, &b.scratch); err != nil {
		return err
	}
	return d.foldBook(b)
}

// foldBook folds the book message decoded into b's scratch into b.
func (d *Deriver) foldBook(b *rawBook) error {
	m := &b.scratch
	if m.Type == BookGrouped {
		return fmt.Errorf("%w book: a grouped snapshot is not a source", ErrDecode)
	}
	if _, gap := b.Apply(m); gap {
		d.gaps++
	}
	return nil
}

// touchBook records what the last book message changed for each derived
// book channel.
func (d *Deriver) touchBook(b *rawBook, targets []*derived) {
	m := &b.scratch
	if !b.valid || (m.Type != BookSnapshot && m.Type != BookChange) {
		return
	}
	for _, x := range targets {
		switch x.kind {
		case 'g':
			x.dirty = true
		case 'b':
			x.dirty = true
			if m.Type == BookSnapshot {
				x.started = false
				continue
			}
			for s, levels := range [2][]Level{m.Bids, m.Asks} {
				for _, l := range levels {
					x.touched[s][l.Price] = true
				}
			}
		}
	}
}

// Flush emits the derived messages of the window in progress, with the
// window's end as their time: call it after the last frame.
func (d *Deriver) Flush(emit func(t int64, frame []byte)) {
	if d.window >= 0 {
		d.flush((d.window+1)*AggregateInterval, emit)
	}
}

func (d *Deriver) flush(t int64, emit func(t int64, frame []byte)) {
	for _, x := range d.all {
		if !x.dirty {
			continue
		}
		x.dirty = false
		d.out = append(d.out[:0], `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"`...)
		d.out = append(d.out, x.channel...)
		d.out = append(d.out, `","data":`...)
		switch x.kind {
		case 't':
			d.out = append(append(append(d.out, '['), x.trades...), ']')
			x.trades = x.trades[:0]
		case 'k':
			d.out = append(d.out, x.ticker...)
		case 'g':
			if !x.book.valid {
				continue
			}
			d.out = x.appendGrouped(d.out)
		case 'b':
			var ok bool
			if d.out, ok = x.appendBook(d.out); !ok {
				continue
			}
		}
		d.out = append(d.out, "}}"...)
		emit(t, d.out)
	}
}

// appendBook appends the data of a book.X.100ms message: a snapshot when
// none was emitted since the last raw snapshot, else the net change of the
// levels touched in the window (false: nothing changed).
func (x *derived) appendBook(out []byte) ([]byte, bool) {
	b := x.book
	if !b.valid {
		return out, false
	}
	snapshot := !x.started
	var bids, asks []Level
	for s := range 2 {
		var levels []Level
		if snapshot {
			clear(x.shown[s])
			for p, a := range b.side[s] {
				levels = append(levels, Level{Action: ActionNew, Price: p, Amount: a})
				x.shown[s][p] = a
			}
		} else {
			for p := range x.touched[s] {
				now, in := b.side[s][p]
				was, shown := x.shown[s][p]
				switch {
				case in && !shown:
					levels = append(levels, Level{Action: ActionNew, Price: p, Amount: now})
					x.shown[s][p] = now
				case in && now != was:
					levels = append(levels, Level{Action: ActionChange, Price: p, Amount: now})
					x.shown[s][p] = now
				case !in && shown:
					levels = append(levels, Level{Action: ActionDelete, Price: p})
					delete(x.shown[s], p)
				}
			}
		}
		clear(x.touched[s])
		sortLevels(levels, s == 0)
		if s == 0 {
			bids = levels
		} else {
			asks = levels
		}
	}
	if !snapshot && len(bids) == 0 && len(asks) == 0 {
		return out, false
	}
	out = append(out, `{"type":"`...)
	if snapshot {
		out = append(out, "snapshot"...)
	} else {
		out = append(out, "change"...)
	}
	out = append(out, `","timestamp":`...)
	out = strconv.AppendInt(out, b.timestamp, 10)
	out = append(out, `,"instrument_name":"`...)
	out = append(out, b.instrument...)
	out = append(out, `","change_id":`...)
	out = strconv.AppendInt(out, b.changeID, 10)
	if !snapshot {
		out = append(out, `,"prev_change_id":`...)
		out = strconv.AppendInt(out, x.prevID, 10)
	}
	out = appendLevels(append(out, `,"bids":`...), bids, true)
	out = appendLevels(append(out, `,"asks":`...), asks, true)
	x.started, x.prevID = true, b.changeID
	return append(out, '}'), true
}

// appendGrouped appends the data of a book.X.none.D.100ms message: the
// best D levels of each side, [price, amount] pairs.
func (x *derived) appendGrouped(out []byte) []byte {
	b := x.book
	out = append(out, `{"timestamp":`...)
	out = strconv.AppendInt(out, b.timestamp, 10)
	out = append(out, `,"instrument_name":"`...)
	out = append(out, b.instrument...)
	out = append(out, `","change_id":`...)
	out = strconv.AppendInt(out, b.changeID, 10)
	for s, key := range [2]string{`,"bids":`, `,"asks":`} {
		levels := make([]Level, 0, len(b.side[s]))
		for p, a := range b.side[s] {
			levels = append(levels, Level{Price: p, Amount: a})
		}
		sortLevels(levels, s == 0)
		out = appendLevels(append(out, key...), levels[:min(len(levels), x.depth)], false)
	}
	return append(out, '}')
}

// sortLevels sorts bids best (highest) first, asks lowest first.
func sortLevels(levels []Level, bids bool) {
	slices.SortFunc(levels, func(a, b Level) int {
		if bids {
			a, b = b, a
		}
		switch {
		case a.Price < b.Price:
			return -1
		case a.Price > b.Price:
			return 1
		}
		return 0
	})
}

func appendLevels(out []byte, levels []Level, actions bool) []byte {
	out = append(out, '[')
	for i, l := range levels {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '[')
		if actions {
			out = append(out, '"')
			out = append(out, [...]string{"new", "change", "delete"}[l.Action]...)
			out = append(out, `",`...)
		}
		out = strconv.AppendFloat(out, l.Price, 'f', -1, 64)
		out = append(out, ',')
		out = strconv.AppendFloat(out, l.Amount, 'f', -1, 64)
		out = append(out, ']')
	}
	return append(out, ']')
}
