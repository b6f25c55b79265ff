package replay

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host"
)

// observer writes the intents and order events as JSON Lines (WithOutput)
// and gathers the report's series (WithReport). It runs on the replay's
// goroutine (host.Lockstep calls it).
type observer struct {
	w     *bufio.Writer
	err   error
	rep   *reportData
	names map[string][]byte // plugin → its name as a JSON string
	line  []byte
}

var _ host.Observer = (*observer)(nil)

func newObserver(w io.Writer, rep *reportData) *observer {
	o := &observer{rep: rep, names: map[string][]byte{}}
	if w != nil {
		o.w = bufio.NewWriterSize(w, 64<<10)
	}
	return o
}

func (o *observer) Events(plugin string, now time.Time, batch []byte) {
	if o.w == nil && o.rep == nil {
		return
	}
	for rec, err := range abi.Records(batch) {
		if err != nil {
			return
		}
		switch rec.Kind {
		case abi.KindOrderUpdate, abi.KindFill, abi.KindPosition, abi.KindIntentRejected:
			o.write(plugin, now, "event", rec.Bytes)
		case abi.KindTicker:
		default:
			continue
		}
		if o.rep != nil {
			o.rep.add(plugin, rec.Kind, rec.Bytes, now)
		}
	}
}

func (o *observer) Intents(plugin string, now time.Time, intents []byte) {
	if o.w == nil {
		return
	}
	for rec, err := range abi.Records(intents) {
		if err != nil {
			return
		}
		o.write(plugin, now, "intent", rec.Bytes)
	}
}

func (o *observer) write(plugin string, now time.Time, what string, rec []byte) {
	if o.w == nil || o.err != nil {
		return
	}
	j, err := abi.RecordJSON(rec)
	if err != nil {
		j = []byte(`{"kind":"unknown"}`)
	}
	o.line = append(o.line[:0], `{"t":`...)
	o.line = fmt.Appendf(o.line, "%d", now.UnixNano())
	o.line = append(o.line, `,"plugin":`...)
	o.line = append(o.line, o.quoted(plugin)...)
	o.line = append(o.line, `,"`...)
	o.line = append(o.line, what...)
	o.line = append(o.line, `":`...)
	o.line = append(o.line, j...)
	o.line = append(o.line, "}\n"...)
	_, o.err = o.w.Write(o.line)
}

// quoted is name as a JSON string (plugin names come from the config).
func (o *observer) quoted(name string) []byte {
	if q, ok := o.names[name]; ok {
		return q
	}
	q, _ := json.Marshal(name)
	o.names[name] = q
	return q
}

func (o *observer) flush() error {
	if o.w == nil {
		return nil
	}
	if o.err != nil {
		return o.err
	}
	return o.w.Flush()
}

// tee is two observers (options.tap).
type tee [2]host.Observer

func (t tee) Events(plugin string, now time.Time, batch []byte) {
	t[0].Events(plugin, now, batch)
	t[1].Events(plugin, now, batch)
}

func (t tee) Intents(plugin string, now time.Time, intents []byte) {
	t[0].Intents(plugin, now, intents)
	t[1].Intents(plugin, now, intents)
}
