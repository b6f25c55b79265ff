package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"

	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/internal/hostbench"
)

// benchHelperFlag makes `host bench` serve the helper process of the
// suite (the simulator and the wire relay) instead of measuring.
const benchHelperFlag = "helper"

// benchHelperCmd is the command of the helper process: this binary again.
// Tests replace it (the test binary is not the host).
var benchHelperCmd = func() *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cmd := exec.Command(exe, "bench", "--"+benchHelperFlag)
	cmd.Stderr = os.Stderr
	return cmd
}

// paramFlags are --param key=value flags.
type paramFlags map[string]any

func (p paramFlags) String() string { return fmt.Sprintf("%d param(s)", len(p)) }

func (p paramFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", v)
	}
	switch {
	case val == "true" || val == "false":
		p[k] = val == "true"
	default:
		if i, err := strconv.ParseInt(val, 10, 64); err == nil {
			p[k] = i
		} else if f, err := strconv.ParseFloat(val, 64); err == nil {
			p[k] = f
		} else {
			p[k] = val
		}
	}
	return nil
}

// runBench is `host bench [strategy.wasm]`: the host-level benchmark suite
// (package internal/hostbench), with a user's plugin measured next to the
// no-op baseline.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("host bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: host bench [flags] [strategy.wasm]\n\n"+
			"Measures the host on this machine (dispatch, end to end, heartbeats under load, tick-to-order,\n"+
			"replay, memory, hostile plugins, churn) and prints median and spread per figure, with the\n"+
			"targets of BENCHMARKS.md; with a plugin, its figures next to the no-op baseline. Every figure\n"+
			"and the keys of --json are described in docs/host-bench.md.\n\nflags:")
		fs.PrintDefaults()
	}
	jsonOut := fs.Bool("json", false, "print one JSON object instead of the table")
	benchfmt := fs.Bool("benchfmt", false, "print Go benchmark lines (BenchmarkHost/<key> 1 <value> <unit>, one per repetition) for benchstat")
	quick := fs.Bool("quick", false, "short measurement windows and 2 repetitions (smoke test; noisy figures)")
	reps := fs.Int("reps", 0, "repetitions of each figure after the warm-up (default 5, 2 with --quick)")
	only := fs.String("only", "", "comma-separated figure groups to run: "+strings.Join(hostbench.Groups, ","))
	prm := paramFlags{}
	fs.Var(prm, "param", "key=value parameter for the plugin's start-up blob (repeatable)")
	outFile := fs.String("out", "", "also write the JSON object to this file")
	progress := fs.Bool("progress", false, "print each figure on stderr as it is measured")
	priority := fs.String("priority", "", "CPU priority of the plugins' child processes, as the priority key of [[plugin]] (default "+sandbox.DefaultPriority.String()+")")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measured host's process (not its plugin children nor the helper) to this file, for go tool pprof")
	logLevel := fs.String("log", "", "log of the measured host (engine, pool, connections, plugins) on stderr at this level: debug, info, warn or error (default: none)")
	helper := fs.Bool(benchHelperFlag, false, "internal: serve the suite's helper process on stdin/stdout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *helper {
		if code := hostbench.ServeHelper(os.Stdin, stdout); code != 0 {
			return fmt.Errorf("helper process exited with %d", code)
		}
		return nil
	}
	if fs.NArg() > 1 {
		return fmt.Errorf("%w: host bench takes at most one plugin (.wasm), got %d arguments", errUsage, fs.NArg())
	}
	if *jsonOut && *benchfmt {
		return fmt.Errorf("%w: --json and --benchfmt exclude each other", errUsage)
	}
	if *reps < 0 {
		return fmt.Errorf("%w: --reps %d: want a positive number", errUsage, *reps)
	}
	opt := hostbench.Options{Reps: *reps, Quick: *quick, Helper: func(...string) *exec.Cmd { return benchHelperCmd() },
		CacheDir: hostConfig{}.cacheDir()}
	if *priority != "" {
		p, err := sandbox.ParsePriority(*priority)
		if err != nil {
			return fmt.Errorf("%w: --priority: %s", errUsage, strings.TrimPrefix(err.Error(), sandbox.ErrConfig.Error()+": "))
		}
		opt.Child.Limits.Priority = p
	}
	if *only != "" {
		for _, g := range strings.Split(*only, ",") {
			if g = strings.TrimSpace(g); g != "" {
				opt.Only = append(opt.Only, g)
			}
		}
		if err := hostbench.CheckOnly(opt.Only); err != nil {
			return fmt.Errorf("%w: --only: %s", errUsage, usageText(err))
		}
	}
	if *progress {
		opt.Progress = stderr
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if *logLevel != "" {
		if !slices.Contains([]string{"debug", "info", "warn", "error"}, *logLevel) {
			return fmt.Errorf("%w: --log %q: want debug, info, warn or error", errUsage, *logLevel)
		}
		opt.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: parseLevel(*logLevel)}))
	}
	if fs.NArg() == 1 {
		path := fs.Arg(0)
		wasm, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("%w: %w", errUsage, err)
		}
		opt.Plugin, opt.PluginName = wasm, strings.TrimSuffix(filepath.Base(path), ".wasm")
		if opt.PluginParams, err = params(prm); err != nil {
			return fmt.Errorf("%w: --param: %w", errUsage, err)
		}
	} else if len(prm) > 0 {
		return fmt.Errorf("%w: --param needs a plugin", errUsage)
	}
	res, err := hostbench.Run(ctx, opt)
	if errors.Is(err, hostbench.ErrUsage) {
		return fmt.Errorf("%w: %s", errUsage, usageText(err))
	}
	if err != nil {
		return err
	}
	if *outFile != "" {
		var b bytes.Buffer
		if err := res.WriteJSON(&b); err != nil {
			return err
		}
		if err := os.WriteFile(*outFile, b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	switch {
	case *jsonOut:
		return res.WriteJSON(stdout)
	case *benchfmt:
		return res.WriteBenchfmt(stdout)
	}
	return res.WriteTable(stdout)
}

// usageText is the message of a hostbench.ErrUsage error without its
// prefix.
func usageText(err error) string {
	return strings.TrimPrefix(err.Error(), hostbench.ErrUsage.Error()+": ")
}
