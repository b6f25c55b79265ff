package replay

import (
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"time"

	"github.com/stratbox/stratbox/abi"
)

// reportData gathers the series of a --report from the events the plugins
// received: prices (tickers), fills, positions and PnL.
type reportData struct {
	plugins []*reportPlugin
	byName  map[string]*reportPlugin
}

type reportPlugin struct {
	name   string
	insts  map[uint32]*reportInst
	order  []uint32
	pnl    []point // Σ realized + unrealized over its instruments
	last   map[uint32]float64
	fills  int
	maxPos float64
}

type reportInst struct {
	price []point
	pos   []point
	fills []reportFill
}

type point struct {
	t int64
	v float64
}

type reportFill struct {
	t      int64
	price  float64
	amount float64
	buy    bool
}

func (r *reportData) plugin(name string) *reportPlugin {
	if r.byName == nil {
		r.byName = map[string]*reportPlugin{}
	}
	p := r.byName[name]
	if p == nil {
		p = &reportPlugin{name: name, insts: map[uint32]*reportInst{}, last: map[uint32]float64{}}
		r.byName[name] = p
		r.plugins = append(r.plugins, p)
	}
	return p
}

func (p *reportPlugin) inst(i uint32) *reportInst {
	in := p.insts[i]
	if in == nil {
		in = &reportInst{}
		p.insts[i] = in
		p.order = append(p.order, i)
	}
	return in
}

// add takes one event a plugin received.
func (r *reportData) add(plugin string, k abi.Kind, rec []byte, now time.Time) {
	p := r.plugin(plugin)
	t := now.UnixNano()
	switch k {
	case abi.KindTicker:
		var x abi.Ticker
		if abi.DecodeTicker(rec, &x) == nil {
			v := x.MarkPrice.Float64()
			if x.BestBidPrice > 0 && x.BestAskPrice > 0 {
				v = (x.BestBidPrice.Float64() + x.BestAskPrice.Float64()) / 2
			}
			if v > 0 {
				in := p.inst(x.Instrument)
				in.price = append(in.price, point{t, v})
			}
		}
	case abi.KindFill:
		var f abi.Fill
		if abi.DecodeFill(rec, &f) == nil {
			in := p.inst(f.Instrument)
			in.fills = append(in.fills, reportFill{t, f.Price.Float64(), f.Amount.Float64(), f.Side == abi.Buy})
			p.fills++
		}
	case abi.KindPosition:
		var x abi.Position
		if abi.DecodePosition(rec, &x) == nil {
			in := p.inst(x.Instrument)
			in.pos = append(in.pos, point{t, x.Size.Float64()})
			p.maxPos = math.Max(p.maxPos, math.Abs(x.Size.Float64()))
			p.last[x.Instrument] = x.RealizedPnL.Float64() + x.UnrealizedPnL.Float64()
			sum := 0.0
			for _, i := range p.order {
				sum += p.last[i]
			}
			p.pnl = append(p.pnl, point{t, sum})
		}
	}
}

// ErrNoReport is WriteReport's error for a Result of a Run without
// WithReport.
var ErrNoReport = errors.New("replay: no report gathered (run with WithReport)")

// WriteReport writes the report of the replay to w: a self-contained HTML
// page with inline SVG charts of each plugin's PnL, positions, and prices
// with its fills, titled "Replay of <source>" (source: the recording's
// name). It needs a Run with WithReport.
func (res *Result) WriteReport(w io.Writer, source string) error {
	r := res.report
	if r == nil {
		return ErrNoReport
	}
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><meta charset="utf-8"><title>stratbox replay report</title><style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222}h1{font-size:20px}h2{font-size:16px;margin-top:28px}
svg{background:#fafafa;border:1px solid #ddd;margin:6px 0}.note{color:#666}text{font:11px system-ui,sans-serif;fill:#555}
</style></head><body>`)
	fmt.Fprintf(&b, "<h1>Replay of %s</h1>\n", html.EscapeString(source))
	fmt.Fprintf(&b, `<p class="note">%s format, %d frames, %s to %s (%v). Orders %d placed, %d filled (%d fills), %d cancelled, %d rejected; %d intents refused by the host.</p>`+"\n",
		res.Format, res.Frames, res.Start.UTC().Format(time.RFC3339), res.End.UTC().Format(time.RFC3339), res.End.Sub(res.Start).Round(time.Millisecond),
		res.Stats.Placed, res.Stats.Filled, res.Stats.Fills, res.Stats.Cancelled, res.Stats.Rejected, res.Stats.Refused)
	t0, t1 := res.Start.UnixNano(), res.End.UnixNano()
	for _, p := range r.plugins {
		names := pluginInstruments(res, p.name)
		fmt.Fprintf(&b, "<h2>%s</h2>\n", html.EscapeString(p.name))
		if len(p.pnl) == 0 && p.fills == 0 {
			b.WriteString(`<p class="note">No fills.</p>`)
		}
		if len(p.pnl) > 0 {
			b.WriteString("<div>PnL (realized, fees included, plus unrealized at the mark)</div>\n")
			chart(&b, t0, t1, []series{{p.pnl, "#1f77b4", true}}, nil)
		}
		for _, i := range p.order {
			in := p.insts[i]
			name := fmt.Sprintf("instrument %d", i)
			if int(i) < len(names) {
				name = names[i]
			}
			if len(in.pos) > 0 {
				fmt.Fprintf(&b, "<div>Position on %s</div>\n", html.EscapeString(name))
				chart(&b, t0, t1, []series{{in.pos, "#2ca02c", true}}, nil)
			}
			if len(in.price) > 0 || len(in.fills) > 0 {
				fmt.Fprintf(&b, "<div>%s: price (mid of the ticker) and fills (▲ buy, ▼ sell)</div>\n", html.EscapeString(name))
				chart(&b, t0, t1, []series{{in.price, "#888", false}}, in.fills)
			}
		}
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func pluginInstruments(res *Result, name string) []string {
	for _, p := range res.Stats.Plugins {
		if p.Name == name {
			var out []string
			for _, q := range p.Positions {
				out = append(out, q.Instrument)
			}
			return out
		}
	}
	return nil
}

type series struct {
	pts  []point
	col  string
	step bool
}

const chartW, chartH, padL, padB = 900, 220, 70, 20

// chart draws series (thinned to at most 2000 points each) and fills as
// one SVG.
func chart(b *strings.Builder, t0, t1 int64, ss []series, fills []reportFill) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for _, p := range s.pts {
			lo, hi = math.Min(lo, p.v), math.Max(hi, p.v)
		}
	}
	for _, f := range fills {
		lo, hi = math.Min(lo, f.price), math.Max(hi, f.price)
	}
	if math.IsInf(lo, 0) {
		return
	}
	if hi == lo {
		hi, lo = hi+1, lo-1
	}
	if t1 <= t0 {
		t1 = t0 + 1
	}
	x := func(t int64) float64 { return padL + float64(t-t0)/float64(t1-t0)*(chartW-padL-10) }
	y := func(v float64) float64 { return 10 + (hi-v)/(hi-lo)*(chartH-padB-20) }
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`, chartW, chartH, chartW, chartH)
	for _, v := range []float64{lo, (lo + hi) / 2, hi} {
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e4e4e4"/><text x="4" y="%.1f">%s</text>`,
			padL, chartW-10, y(v), y(v), y(v)+4, fmtNum(v))
	}
	if lo < 0 && hi > 0 {
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#bbb" stroke-dasharray="4"/>`, padL, chartW-10, y(0), y(0))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d">+0s</text><text x="%d" y="%d" text-anchor="end">+%v</text>`,
		padL, chartH-4, chartW-10, chartH-4, time.Duration(t1-t0).Round(time.Second))
	for _, s := range ss {
		pts := thin(s.pts, 2000)
		if len(pts) == 0 {
			continue
		}
		var d strings.Builder
		for i, p := range pts {
			if i == 0 {
				fmt.Fprintf(&d, "M%.1f %.1f", x(p.t), y(p.v))
				continue
			}
			if s.step {
				fmt.Fprintf(&d, "H%.1fV%.1f", x(p.t), y(p.v))
			} else {
				fmt.Fprintf(&d, "L%.1f %.1f", x(p.t), y(p.v))
			}
		}
		if s.step {
			fmt.Fprintf(&d, "H%.1f", x(t1))
		}
		fmt.Fprintf(b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.3"/>`, d.String(), s.col)
	}
	for _, f := range thinFills(fills, 3000) {
		px, py := x(f.t), y(f.price)
		if f.buy {
			fmt.Fprintf(b, `<path d="M%.1f %.1fl-4 7h8z" fill="#2ca02c"><title>buy %s at %s</title></path>`, px, py, fmtNum(f.amount), fmtNum(f.price))
		} else {
			fmt.Fprintf(b, `<path d="M%.1f %.1fl-4 -7h8z" fill="#d62728"><title>sell %s at %s</title></path>`, px, py, fmtNum(f.amount), fmtNum(f.price))
		}
	}
	b.WriteString("</svg>\n")
}

func fmtNum(v float64) string {
	if math.Abs(v) >= 1000 || v == math.Trunc(v) {
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.6g", v)
}

// thin keeps at most n points: every k-th, and the last.
func thin(pts []point, n int) []point {
	if len(pts) <= n {
		return pts
	}
	k := (len(pts) + n - 1) / n
	out := make([]point, 0, n+1)
	for i := 0; i < len(pts); i += k {
		out = append(out, pts[i])
	}
	if out[len(out)-1] != pts[len(pts)-1] {
		out = append(out, pts[len(pts)-1])
	}
	return out
}

func thinFills(fs []reportFill, n int) []reportFill {
	if len(fs) <= n {
		return fs
	}
	k := (len(fs) + n - 1) / n
	out := make([]reportFill, 0, n)
	for i := 0; i < len(fs); i += k {
		out = append(out, fs[i])
	}
	return out
}
