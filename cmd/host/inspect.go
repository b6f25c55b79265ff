package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host/sandbox"
)

// runInspect loads each plugin as `host run` will and reports what it is:
// ABI version, exports, imports, size, compile time, and whether it starts.
func runInspect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("host inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: host inspect takes one or more .wasm files", errUsage)
	}
	var failed error
	for _, path := range fs.Args() {
		if err := inspectOne(ctx, path, stdout); err != nil {
			fmt.Fprintf(stdout, "  would load:   no: %v\n", err)
			failed = errors.Join(failed, err)
		}
	}
	return failed
}

func inspectOne(ctx context.Context, path string, out io.Writer) error {
	fmt.Fprintf(out, "%s\n", path)
	wasm, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  size:         %d bytes\n", len(wasm))
	p, err := sandbox.Load(ctx, path, wasm, sandbox.PluginConfig{})
	if err != nil {
		return err
	}
	defer p.Close(ctx)
	fmt.Fprintf(out, "  ABI:          %v (this host runs %v)\n", p.Version(), abi.Current)
	fmt.Fprintf(out, "  compile time: %v\n", p.CompileTime())
	printSorted(out, "exports", p.Exports())
	printSorted(out, "imports", p.Imports())
	startup, err := abi.AppendStartup(nil, &abi.Startup{Start: abi.Start{HostVersion: abi.Current, FirstCID: 1}})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  would load:   yes\n")
	// Start it with an empty configuration: no instruments, no parameters.
	// A strategy may refuse that (plugin error -3, bad configuration), which
	// says nothing against the module.
	in, _, err := p.Start(ctx, startup)
	var f *sandbox.Fault
	switch {
	case errors.As(err, &f) && f.Kind == sandbox.FaultError && f.Code == -3:
		fmt.Fprintf(out, "  empty config: refused by the strategy (plugin error -3, bad configuration): it needs its parameters\n")
		return nil
	case err != nil:
		return fmt.Errorf("instantiation failed: %w", err)
	}
	d := in.Descriptor()
	st := in.Stats()
	_, _ = in.Stop(ctx)
	fmt.Fprintf(out, "  buffers:      inbox %d bytes at %#x, outbox %d bytes at %#x, features %#x\n",
		d.InboxCap, d.InboxPtr, d.OutboxCap, d.OutboxPtr, uint32(d.Features))
	fmt.Fprintf(out, "  memory:       %d KiB after init\n", st.MemoryBytes/1024)
	fmt.Fprintf(out, "  empty config: starts\n")
	return nil
}

func printSorted(out io.Writer, title string, m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(out, "  %s:\n", title)
	if len(keys) == 0 {
		fmt.Fprintf(out, "    (none)\n")
	}
	for _, k := range keys {
		fmt.Fprintf(out, "    %-40s %s\n", k, m[k])
	}
}
