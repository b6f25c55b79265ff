//go:build !wasip1

package examples_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/internal/testplugins"
	"github.com/stratbox/stratbox/plugins/sdk/go/strategytest"
)

var F = strategytest.F

// examples lists the example directories (those with a main.go).
func examples(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob("*/main.go")
	if err != nil || len(dirs) < 2 {
		t.Fatalf("examples %v %v", dirs, err)
	}
	for i, d := range dirs {
		dirs[i] = filepath.Dir(d)
	}
	return dirs
}

// build compiles one example as `make plugins` does and returns the module.
func build(t *testing.T, name string) []byte {
	t.Helper()
	wasm := testplugins.Example(t, name)
	t.Logf("%s.wasm: %d bytes", name, len(wasm))
	return wasm
}

func sigOf(d api.FunctionDefinition) abi.Sig {
	var s abi.Sig
	for _, p := range d.ParamTypes() {
		s.Params = append(s.Params, abi.ValType(p))
	}
	for _, r := range d.ResultTypes() {
		s.Results = append(s.Results, abi.ValType(r))
	}
	return s
}

// Each example builds with GOOS=wasip1 -buildmode=c-shared, exports exactly
// what abi/README.md section 4 names, imports only the host functions and
// WASI, and runs: the scripted events of its script produce the intents
// listed there.
func TestPlugins(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every example with go build")
	}
	for _, name := range examples(t) {
		sc, ok := scripts[name]
		if !ok {
			t.Errorf("example %s has no script in this test", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			wasm := build(t, name)
			ctx := context.Background()
			// The interpreter compiles a Go plugin in a tenth of the compiler's time.
			rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
			defer rt.Close(ctx)
			cm, err := rt.CompileModule(ctx, wasm)
			if err != nil {
				t.Fatal(err)
			}
			checkInterface(t, name, cm)
			h := newHost()
			p := h.start(t, rt, cm)
			for _, st := range sc(p.h) {
				var res []byte
				var err error
				switch {
				case st.blob != nil:
					res, err = p.call("stratbox_init", st.blob)
				case st.stop:
					res, err = p.call("stratbox_on_stop", nil)
				default:
					h.now += uint64(st.advance)
					var batch []byte
					for _, e := range st.events {
						batch = append(batch, e...)
					}
					res, err = p.call("stratbox_on_events", batch)
				}
				if st.fail != 0 {
					if err == nil || err.Error() != fmt.Sprintf("result %d", st.fail) {
						t.Errorf("%s: %v, want result %d", st.name, err, st.fail)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v; log %q", st.name, err, h.logs)
				}
				intents, err := strategytest.Intents(res)
				if err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				if got := strategytest.Strings(intents); !slices.Equal(got, st.want) {
					t.Errorf("%s:\n got  %q\n want %q", st.name, got, st.want)
				}
			}
			for _, want := range scriptLogs[name] {
				if !slices.ContainsFunc(h.logs, func(l string) bool { return strings.Contains(l, want) }) {
					t.Errorf("no log line with %q in %q", want, h.logs)
				}
			}
		})
	}
}

// checkInterface checks the exports and imports against package abi.
func checkInterface(t *testing.T, name string, cm wazero.CompiledModule) {
	t.Helper()
	exports := map[string]abi.Sig{}
	var names []string
	for n, d := range cm.ExportedFunctions() {
		exports[n] = sigOf(d)
		names = append(names, n)
	}
	if v, err := abi.PluginVersion(name, names, abi.Current); err != nil || v != abi.Current {
		t.Errorf("version %v: %v", v, err)
	}
	if err := abi.CheckExports(name, exports); err != nil {
		t.Error(err)
	}
	for n := range cm.ExportedMemories() {
		names = append(names, n)
	}
	sort.Strings(names)
	want := []string{abi.ExportInitialize, abi.ExportMemory, abi.Current.Marker(), abi.ExportBuffers,
		abi.ExportInit, abi.ExportOnEvents, abi.ExportOnStop}
	sort.Strings(want)
	if !slices.Equal(names, want) {
		t.Errorf("exports %v, want exactly %v", names, want)
	}
	var hostFns []string
	for _, d := range cm.ImportedFunctions() {
		mod, fn, _ := d.Import()
		switch mod {
		case abi.ImportModule:
			hostFns = append(hostFns, fn)
			if err := abi.CheckImport(name, fn, sigOf(d)); err != nil {
				t.Error(err)
			}
		case abi.WASIModule:
		default:
			t.Errorf("imports %s.%s", mod, fn)
		}
	}
	// The linker keeps only the host functions a plugin calls: every plugin
	// logs (the SDK reports a full outbox).
	if !slices.Contains(hostFns, abi.ImportLog) {
		t.Errorf("host imports %v", hostFns)
	}
}

// host is a minimal stratbox host: a clock, timers, a log.
type host struct {
	now    uint64
	logs   []string
	timers map[uint32]uint64
}

func newHost() *host { return &host{now: strategytest.Start, timers: map[uint32]uint64{}} }

type plugin struct {
	t    *testing.T
	mod  api.Module
	desc abi.Descriptor
	h    *strategytest.Harness // builds events; its clock is not used
}

func (h *host) start(t *testing.T, rt wazero.Runtime, cm wazero.CompiledModule) *plugin {
	ctx := context.Background()
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	_, err := rt.NewHostModuleBuilder(abi.ImportModule).
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, level, ptr, n uint32) int32 {
		b, ok := m.Memory().Read(ptr, n)
		if !ok {
			return int32(abi.StatusOutOfBounds)
		}
		h.logs = append(h.logs, string(b))
		return 0
	}).Export(abi.ImportLog).
		NewFunctionBuilder().WithFunc(func() int64 { return int64(h.now) }).Export(abi.ImportNow).
		NewFunctionBuilder().WithFunc(func(id uint32, after int64) int32 {
		h.timers[id] = h.now + uint64(max(after, 0))
		return 0
	}).Export(abi.ImportSetTimer).
		NewFunctionBuilder().WithFunc(func(id uint32) int32 {
		if _, ok := h.timers[id]; !ok {
			return int32(abi.StatusNotFound)
		}
		delete(h.timers, id)
		return 0
	}).Export(abi.ImportCancelTimer).
		Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").
		WithStartFunctions(abi.ExportInitialize))
	if err != nil {
		t.Fatal(err)
	}
	res, err := mod.ExportedFunction(abi.ExportBuffers).Call(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := mod.Memory().Read(uint32(res[0]), abi.SizeDescriptor)
	d, err := abi.DecodeDescriptor(b)
	if err == nil {
		err = d.Check(abi.Current, uint64(mod.Memory().Size()))
	}
	if err != nil || d.InboxCap != 256<<10 || d.OutboxCap != 64<<10 {
		t.Fatalf("descriptor %+v: %v", d, err)
	}
	return &plugin{t: t, mod: mod, desc: d, h: strategytest.New(nil)}
}

// call writes in into the inbox and calls the export; it returns the
// outbox's intent bytes.
func (p *plugin) call(export string, in []byte) ([]byte, error) {
	ctx := context.Background()
	if !p.mod.Memory().Write(p.desc.InboxPtr, in) {
		return nil, errors.New("the batch does not fit the inbox")
	}
	var args []uint64
	if export != "stratbox_on_stop" {
		args = []uint64{uint64(len(in))}
	}
	res, err := p.mod.ExportedFunction(export).Call(ctx, args...)
	if err != nil {
		return nil, err
	}
	n := int32(res[0])
	if n < 0 || uint32(n) > p.desc.OutboxCap {
		return nil, fmt.Errorf("result %d", n)
	}
	out, _ := p.mod.Memory().Read(p.desc.OutboxPtr, uint32(n))
	return append([]byte(nil), out...), nil
}

// A step of a script: a start-up blob, a batch of events (after the clock
// advanced), or a stop; and the intents it must produce.
type step struct {
	name    string
	blob    []byte
	advance time.Duration
	events  [][]byte
	stop    bool
	want    []string
	fail    int32 // the plugin error the call must return
}

func blob(params ...abi.Param) []byte {
	b, err := abi.AppendStartup(nil, &abi.Startup{
		Start:       abi.Start{HostVersion: abi.Current, FirstCID: 100, Time: strategytest.Start},
		Instruments: []abi.Instrument{strategytest.Perpetual("BTC-PERPETUAL")},
		Params:      params,
	})
	if err != nil {
		panic(err)
	}
	return b
}

func trade(h *strategytest.Harness, side abi.Side, amount float64) []byte {
	return h.Trade(0, side, F(65000), F(amount))
}

var scripts = map[string]func(h *strategytest.Harness) []step{
	"marketmaker": func(h *strategytest.Harness) []step {
		return []step{
			{name: "init", blob: blob(abi.Param{Type: abi.ParamInt, Key: "max_position", Int: 40})},
			{name: "ticker", events: [][]byte{h.Ticker(0, F(64990), F(65010))}, want: []string{
				`place #100 buy 10 @ 64967.5 limit good_til_cancelled post_only "mm-bid"`,
				`place #101 sell 10 @ 65032.5 limit good_til_cancelled post_only "mm-ask"`}},
			{name: "pool degraded", events: [][]byte{h.Pool(1, 2, abi.PoolDegraded)}, want: []string{"cancel_all instrument=0"}},
			{name: "stop", stop: true, want: []string{"cancel_all"}},
		}
	},
	"taker": func(h *strategytest.Harness) []step {
		return []step{
			{name: "init", blob: blob(abi.Param{Type: abi.ParamInt, Key: "size", Int: 100},
				abi.Param{Type: abi.ParamInt, Key: "min_volume", Int: 300})},
			{name: "ticker and a buy burst", events: [][]byte{h.Ticker(0, F(64990), F(65010)),
				trade(h, abi.Buy, 100), trade(h, abi.Buy, 200), trade(h, abi.Sell, 10)},
				want: []string{`place #100 buy 100 @ 65043 limit immediate_or_cancel "taker"`}},
			{name: "status timer", advance: time.Minute, events: [][]byte{abi.AppendTimer(nil, &abi.Timer{ID: 1})}},
			{name: "an unknown kind is skipped", events: [][]byte{{0xF7, 0, 16, 0, 9, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}, h.Pool(2, 2, 0)}},
			{name: "a batch that cannot be framed", events: [][]byte{{4, 0, 48, 0, 1, 0, 0, 0}}, fail: int32(abi.PluginBadInput)},
		}
	},
}

// scriptLogs are lines each script must have logged through the host.
var scriptLogs = map[string][]string{
	"marketmaker": {"marketmaker: connection pool degraded, pulling quotes"},
	"taker":       {"taker: position 0, flow buy 0 sell 10 over 1 trades"},
}
