package hostbench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes r as one indented JSON object.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteTable writes r as a human table: each figure's median, spread
// (min–max over the repetitions), target and whether it is met.
func (r *Result) WriteTable(w io.Writer) error {
	m := r.Machine
	load := func(v float64) string {
		if v < 0 {
			return "?"
		}
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	fmt.Fprintf(w, "host bench: %d CPUs (%s), %s/%s, %s, load average %s at the start, %s at the end\n",
		m.CPUs, orQ(m.CPUModel), m.OS, m.Arch, m.Go, load(m.Load1), load(m.Load1End))
	what := "built-in suite"
	if r.Plugin != "" {
		what = "built-in suite and " + r.Plugin + " (rows \"plugin\")"
	}
	quick := ""
	if r.Quick {
		quick = ", --quick (short windows: noisy)"
	}
	fmt.Fprintf(w, "%s; median and spread (min–max) of %d repetitions after a warm-up%s; took %.0f s\n\n",
		what, r.Reps, quick, r.Seconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tmedian\tspread\tunit\ttarget\tmet\t")
	group := ""
	for _, k := range r.Order {
		f := r.Figures[k]
		if g, _, _ := strings.Cut(k, "."); g != group {
			if group != "" {
				fmt.Fprintln(tw, "\t\t\t\t\t\t")
			}
			group = g
		}
		unit, scale := displayUnit(f.Unit)
		met := ""
		if f.Met != nil {
			met = "no"
			if *f.Met {
				met = "yes"
			}
		}
		med, spread := "n/a", ""
		if len(f.Reps) > 0 {
			med = num(f.Median / scale)
			spread = num(f.Min/scale) + "–" + num(f.Max/scale)
		}
		target := f.Target
		if f.Note != "" {
			target = strings.TrimSpace(target + " (" + f.Note + ")")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", k, med, spread, unit, target, met)
	}
	return tw.Flush()
}

// WriteBenchfmt writes r in the Go benchmark format, one line per
// repetition of each figure ("BenchmarkHost/<key> 1 <value> <unit>"), so
// that benchstat compares two runs.
func (r *Result) WriteBenchfmt(w io.Writer) error {
	fmt.Fprintf(w, "goos: %s\ngoarch: %s\npkg: github.com/stratbox/stratbox/cmd/host/bench\n", r.Machine.OS, r.Machine.Arch)
	if r.Machine.CPUModel != "" {
		fmt.Fprintf(w, "cpu: %s\n", r.Machine.CPUModel)
	}
	for _, k := range r.Order {
		f := r.Figures[k]
		unit := strings.NewReplacer("×", "x", " ", "-").Replace(f.Unit)
		for _, v := range f.Reps {
			if _, err := fmt.Fprintf(w, "BenchmarkHost/%s 1 %s %s\n", k, strconv.FormatFloat(v, 'g', 6, 64), unit); err != nil {
				return err
			}
		}
	}
	return nil
}

func orQ(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// displayUnit is the unit a figure is shown in, and its scale.
func displayUnit(u string) (string, float64) {
	if u == "bytes" {
		return "KiB", 1024
	}
	return u, 1
}

// num formats v with 3 significant digits (at least), thousands separated.
func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	a := math.Abs(v)
	prec := 0
	switch {
	case a < 10:
		prec = 2
	case a < 100:
		prec = 1
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if frac != "" {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}
