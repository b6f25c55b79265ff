package replay

import (
	"fmt"
	"html"
	"io"
	"slices"
	"strings"
)

// WriteSweepReport writes one HTML page comparing the runs of a sweep of
// the recording source: a table of every combination's figures, best PnL
// first, and each combination's PnL curve on one chart.
func WriteSweepReport(w io.Writer, source string, params []SweepParam, runs []SweepRun) error {
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><meta charset="utf-8"><title>stratbox sweep report</title><style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222}h1{font-size:20px}table{border-collapse:collapse}
td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}th{background:#f3f3f3}.err{color:#b00;text-align:left}
svg{background:#fafafa;border:1px solid #ddd;margin:6px 0}text{font:11px system-ui,sans-serif;fill:#555}.note{color:#666}
</style></head><body>`)
	fmt.Fprintf(&b, "<h1>Sweep over %s</h1>\n<p class=\"note\">%d combinations, each replayed in lock step on the recorded clock.</p>\n<table><tr>",
		html.EscapeString(source), len(runs))
	for _, p := range params {
		fmt.Fprintf(&b, "<th>%s</th>", html.EscapeString(sweepName(p)))
	}
	b.WriteString("<th>PnL</th><th>realized</th><th>fills</th><th>position range</th><th>max drawdown</th><th>refused</th><th>rejected</th><th>faults</th></tr>\n")
	order := make([]int, len(runs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, c int) int {
		ra, rc := runs[a], runs[c]
		switch {
		case (ra.Err == nil) != (rc.Err == nil):
			if ra.Err == nil {
				return -1
			}
			return 1
		case ra.PnL > rc.PnL:
			return -1
		case ra.PnL < rc.PnL:
			return 1
		}
		return 0
	})
	for _, i := range order {
		r := runs[i]
		b.WriteString("<tr>")
		for _, v := range r.Values {
			fmt.Fprintf(&b, "<td>%s</td>", html.EscapeString(v))
		}
		if r.Err != nil {
			fmt.Fprintf(&b, `<td class="err" colspan="8">%s</td></tr>`+"\n", html.EscapeString(r.Err.Error()))
			continue
		}
		fmt.Fprintf(&b, "<td>%s</td><td>%s</td><td>%d</td><td>%s … %s</td><td>%s</td><td>%d</td><td>%d</td><td>%d</td></tr>\n",
			fmtNum(r.PnL), fmtNum(r.Realized), r.Fills, fmtNum(r.MinPosition), fmtNum(r.MaxPosition), fmtNum(r.MaxDrawdown), r.Refused, r.Rejected, r.Faults)
	}
	b.WriteString("</table>\n")
	var ss []series
	var t0, t1 int64
	palette := []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}
	var legend []string
	for n, i := range order {
		r := runs[i]
		if r.Err != nil || r.Result == nil || r.Result.report == nil || n >= len(palette) {
			continue
		}
		if t0 == 0 || r.Result.Start.UnixNano() < t0 {
			t0 = r.Result.Start.UnixNano()
		}
		t1 = max(t1, r.Result.End.UnixNano())
		ss = append(ss, series{pnlSeries(r.Result.report), palette[n], true})
		legend = append(legend, fmt.Sprintf(`<span style="color:%s">■</span> %s`, palette[n], html.EscapeString(strings.Join(r.Values, ", "))))
	}
	if len(ss) > 0 {
		fmt.Fprintf(&b, "<h2>PnL over time (the %d best)</h2><div>%s</div>\n", len(ss), strings.Join(legend, " &nbsp; "))
		chart(&b, t0, t1, ss, nil)
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// sweepName is a swept parameter's column name.
func sweepName(p SweepParam) string {
	if p.Plugin != "" {
		return p.Plugin + "." + p.Key
	}
	return p.Key
}
