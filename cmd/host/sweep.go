package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/record"
	"github.com/stratbox/stratbox/replay"
)

// sweep is `host replay --sweep`: one replay per combination, --jobs at a
// time, and a table of their figures (--json; --report: one HTML page).
func (f replayFlags) sweep(ctx context.Context, path, cacheDir string, rc replay.Config, stdout, stderr io.Writer) error {
	open := func() (record.Reader, io.Closer, error) {
		file, err := os.Open(path)
		if err != nil {
			return nil, nil, err
		}
		rd, err := record.Open(file)
		if err != nil {
			file.Close()
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return rd, file, nil
	}
	opts := []replay.Option{replay.WithLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: parseLevel(f.logLevel)})))}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%w: --sweep reads the recording once per combination: %s is not a regular file (save it to one first)", errUsage, path)
	}
	counts, err := scanChannels(path, nil)
	if err != nil {
		return err
	}
	opts = append(opts, replay.WithChannels(counts))
	cache, err := sandbox.NewCache(cacheDir)
	if err != nil {
		return err
	}
	defer cache.Close(context.Background())
	opts = append(opts, replay.WithCache(cache))
	began := time.Now()
	params := []replay.SweepParam(f.sweeps)
	runs, err := replay.Sweep(ctx, open, rc, params, f.jobs, opts...)
	if err != nil {
		return err
	}
	if f.report != "" {
		rf, err := os.Create(f.report)
		if err != nil {
			return err
		}
		if err := replay.WriteSweepReport(rf, path, params, runs); err != nil {
			rf.Close()
			return err
		}
		if err := rf.Close(); err != nil {
			return err
		}
	}
	if f.json {
		err = printSweepJSON(stdout, params, runs)
	} else {
		printSweepTable(stdout, params, runs, time.Since(began))
	}
	if err != nil {
		return err
	}
	var failed []string
	for _, r := range runs {
		if r.Err != nil {
			failed = append(failed, strings.Join(r.Values, ","))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d replays failed (%s)", len(failed), len(runs), strings.Join(failed, "; "))
	}
	return nil
}

func printSweepTable(w io.Writer, params []replay.SweepParam, runs []replay.SweepRun, took time.Duration) {
	fmt.Fprintf(w, "sweep: %d replays in %v\n", len(runs), took.Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	var head []string
	for _, p := range params {
		name := p.Key
		if p.Plugin != "" {
			name = p.Plugin + "." + p.Key
		}
		head = append(head, name)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\tPNL\tREALIZED\tFILLS\tMIN POS\tMAX POS\tMAX DRAWDOWN\tREFUSED\tREJECTED\tFAULTS\t")
	for _, r := range runs {
		if r.Err != nil {
			fmt.Fprintf(tw, "%s\tfailed: %v\t\t\t\t\t\t\t\t\t\n", strings.Join(r.Values, "\t"), r.Err)
			continue
		}
		fmt.Fprintf(tw, "%s\t%.8f\t%.8f\t%d\t%g\t%g\t%.8f\t%d\t%d\t%d\t\n", strings.Join(r.Values, "\t"),
			r.PnL, r.Realized, r.Fills, r.MinPosition, r.MaxPosition, r.MaxDrawdown, r.Refused, r.Rejected, r.Faults)
	}
	tw.Flush()
}

func printSweepJSON(w io.Writer, params []replay.SweepParam, runs []replay.SweepRun) error {
	type row struct {
		Params      map[string]string `json:"params"`
		Error       string            `json:"error,omitempty"`
		PnL         float64           `json:"pnl"`
		Realized    float64           `json:"realized_pnl"`
		Fills       uint64            `json:"fills"`
		MinPosition float64           `json:"min_position"`
		MaxPosition float64           `json:"max_position"`
		MaxDrawdown float64           `json:"max_drawdown"`
		Refused     uint64            `json:"refused"`
		Rejected    uint64            `json:"rejected"`
		Faults      uint64            `json:"faults"`
	}
	out := make([]row, 0, len(runs))
	for _, r := range runs {
		x := row{Params: map[string]string{}, PnL: r.PnL, Realized: r.Realized, Fills: r.Fills, MinPosition: r.MinPosition,
			MaxPosition: r.MaxPosition, MaxDrawdown: r.MaxDrawdown, Refused: r.Refused, Rejected: r.Rejected, Faults: r.Faults}
		for i, p := range params {
			name := p.Key
			if p.Plugin != "" {
				name = p.Plugin + "." + p.Key
			}
			x.Params[name] = r.Values[i]
		}
		if r.Err != nil {
			x.Error = r.Err.Error()
		}
		out = append(out, x)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return errors.Join(errors.New("sweep: --json"), err)
	}
	return nil
}
