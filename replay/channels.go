package replay

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/host"
	"github.com/stratbox/stratbox/record"
	"github.com/stratbox/stratbox/venue/deribit"
)

// Channels reads a whole recording and counts the notifications of each
// channel it holds (recorded frames from the exchange only): what a replay
// can serve. Read the file once with it, then pass the counts to Run with
// WithChannels so that channels the file does not hold are derived from
// the ones it does (PlanChannels). A truncated recording counts up to its
// last complete block, with the truncation as the error.
func Channels(rd record.Reader) (map[string]uint64, error) {
	counts := map[string]uint64{}
	for {
		f, err := rd.Next()
		if err != nil {
			if err == io.EOF {
				return counts, nil
			}
			return counts, err
		}
		if f.Dir == record.Out || f.Disconnect {
			continue
		}
		fr := conn.Classify(f.Data)
		if fr.Kind != conn.KindNotification {
			continue
		}
		if ch, _, err := conn.ParseNotification(f.Data, fr); err == nil {
			if n, ok := counts[string(ch)]; ok {
				counts[string(ch)] = n + 1
			} else {
				counts[string(ch)] = 1
			}
		}
	}
}

// Plan is how a replay serves the market channels its plugins subscribe to.
type Plan struct {
	// Served are the channels the recording holds as they are.
	Served []string
	// Derived maps each channel the recording does not hold but that can be
	// derived, the way Deribit derives it, to the recorded channel it is
	// derived from (deribit.DerivedFrom): book.X.100ms from book.X.raw, …
	Derived map[string]string
	// Missing are the subscriptions nothing in the recording can serve,
	// with the plugins that made them.
	Missing []Subscription
}

// Subscription is a channel and the plugins subscribed to it.
type Subscription struct {
	Channel string
	Plugins []string
}

// PlanChannels decides how each plugin subscription of cfg is served from
// a recording holding the channels of have (Channels' counts).
func PlanChannels(cfg Config, have map[string]uint64) Plan {
	p := Plan{Derived: map[string]string{}}
	subs := map[string][]string{}
	for _, pc := range cfg.Plugins {
		tpls := pc.Channels
		if len(tpls) == 0 {
			tpls = host.DefaultChannels
		}
		for _, tpl := range tpls {
			for _, inst := range pc.instruments() {
				ch := strings.ReplaceAll(tpl, "{instrument}", inst)
				if !slices.Contains(subs[ch], pc.Name) {
					subs[ch] = append(subs[ch], pc.Name)
				}
			}
		}
	}
	for _, ch := range sortedKeys(subs) {
		src, ok := deribit.DerivedFrom(ch, func(c string) bool { return have[c] > 0 })
		switch {
		case !ok:
			p.Missing = append(p.Missing, Subscription{Channel: ch, Plugins: subs[ch]})
		case src == ch:
			p.Served = append(p.Served, ch)
		default:
			p.Derived[ch] = src
		}
	}
	return p
}

// ErrNothingToReplay is PlanChannels' verdict, through Plan.Check, on a
// recording that serves none of the plugins' subscriptions.
var ErrNothingToReplay = errors.New("replay: the recording holds nothing the plugins subscribe to")

// Check returns ErrNothingToReplay, naming the channels the recording
// holds, when the plan serves no subscription at all.
func (p Plan) Check(have map[string]uint64) error {
	if len(p.Served) > 0 || len(p.Derived) > 0 {
		return nil
	}
	return fmt.Errorf("%w (%s); the recording holds %s", ErrNothingToReplay, p.MissingText(), HaveText(have, 12))
}

// MissingText lists the missing subscriptions: "book.X.100ms (mm, q)".
func (p Plan) MissingText() string {
	var parts []string
	for _, m := range p.Missing {
		parts = append(parts, fmt.Sprintf("%s (%s)", m.Channel, strings.Join(m.Plugins, ", ")))
	}
	return strings.Join(parts, ", ")
}

// HaveText lists the channels of a recording with their counts, the most
// frequent first, at most max of them.
func HaveText(have map[string]uint64, max int) string {
	if len(have) == 0 {
		return "no notification at all"
	}
	chs := sortedKeys(have)
	sort.SliceStable(chs, func(i, j int) bool { return have[chs[i]] > have[chs[j]] })
	var parts []string
	for i, ch := range chs {
		if i == max {
			parts = append(parts, fmt.Sprintf("and %d more", len(chs)-max))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%d)", ch, have[ch]))
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// deriver wraps deribit.Deriver for the driver: the derived channels of a
// plan, delivered through step's path.
func newDeriver(p Plan) (*deribit.Deriver, error) {
	if len(p.Derived) == 0 {
		return nil, nil
	}
	d := deribit.NewDeriver()
	for _, ch := range sortedKeys(p.Derived) {
		if err := d.Add(ch, p.Derived[ch]); err != nil {
			return nil, fmt.Errorf("replay: %w", err)
		}
	}
	return d, nil
}
