// Command host runs trading strategies compiled to WebAssembly next to an
// exchange, and the tools around them.
//
//	host run     run strategy plugins against the exchange (default: the built-in simulator)
//	host sim     run the Deribit-compatible simulator alone
//	host inspect what a strategy plugin is, and whether it would load
//	host replay  replay a recorded session through the host, deterministically
//	host record  record an exchange session (market channels, no strategy)
//	host cluster status: the cluster's nodes, connections, health and controller
//	host cluster credentials: a new credentials file for a cluster (random secrets, mode 0600)
//	host bench   measure the host on this machine (and a strategy next to the no-op baseline)
//
// Only this package exits the process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/stratbox/stratbox/host"
)

// errUsage marks an error the user fixes by changing the command line.
var errUsage = errors.New("usage")

func main() {
	if len(os.Args) > 1 && os.Args[1] == host.ChildArg {
		// A plugin's child process (host.IsolateProcess): not a command.
		os.Exit(host.ServeChild(os.Stdin, os.Stdout))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "host:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "host:", err)
		os.Exit(1)
	}
}

const usage = `usage: host <command> [flags]

commands:
  run     run strategy plugins (.wasm) against the exchange; the built-in simulator by default
  sim     run the Deribit-compatible exchange simulator and print its ws:// URL
  inspect report a plugin's ABI version, exports, imports, size, compile time and whether it loads
  replay  replay a recording through strategy plugins, deterministically; --fill sim for a backtest
  record  record market channels of the exchange (or the simulator) to a file, for replay
  cluster status: the cluster's nodes, connections, pool health and current controller
  cluster credentials: write a new cluster credentials file (random route password, a status login; mode 0600)
  ctl     steer a running 'host run': status, kill, pause, resume, swap, reload
  bench   measure the host on this machine: dispatch, end to end, heartbeats, tick-to-order, replay, memory

Run 'host <command> -h' for a command's flags.`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("%w: no command", errUsage)
	}
	switch args[0] {
	case "run":
		return runRun(ctx, args[1:], stdout, stderr)
	case "sim":
		return runSim(ctx, args[1:], stdout, stderr)
	case "inspect":
		return runInspect(ctx, args[1:], stdout, stderr)
	case "replay":
		return runReplay(ctx, args[1:], stdout, stderr)
	case "record":
		return runRecord(ctx, args[1:], stdout, stderr)
	case "cluster":
		return runCluster(ctx, args[1:], stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "ctl":
		return runCtl(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
}

// parseFlags parses a subcommand's flags; a bad flag is a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return err
}
