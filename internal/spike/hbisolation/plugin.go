package main

import (
	"context"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

const (
	inPtr     = 0x1000
	outPtr    = 0x10000
	eventSize = 64
	batchN    = 64
)

type plugin struct {
	rt       wazero.Runtime
	cm       wazero.CompiledModule
	mod      api.Module
	onEvents api.Function
	onEvFuel api.Function
	spin     api.Function
	spinFuel api.Function
	fuel     api.MutableGlobal
	mem      api.Memory
	stack    []uint64
}

func newRuntime(ctx context.Context, closeOnDone bool) (wazero.Runtime, wazero.CompiledModule) {
	cfg := wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(closeOnDone).WithMemoryLimitPages(64)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	cm, err := rt.CompileModule(ctx, pluginWasm)
	if err != nil {
		panic(err)
	}
	return rt, cm
}

func newPlugin(ctx context.Context, closeOnDone bool) *plugin {
	rt, cm := newRuntime(ctx, closeOnDone)
	p := &plugin{rt: rt, cm: cm, stack: make([]uint64, 2)}
	p.instantiate(ctx)
	return p
}

func (p *plugin) instantiate(ctx context.Context) {
	mod, err := p.rt.InstantiateModule(ctx, p.cm, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		panic(err)
	}
	p.mod = mod
	p.onEvents = mod.ExportedFunction("on_events")
	p.onEvFuel = mod.ExportedFunction("on_events_fuel")
	p.spin = mod.ExportedFunction("spin")
	p.spinFuel = mod.ExportedFunction("spin_fuel")
	p.fuel = mod.ExportedGlobal("fuel").(api.MutableGlobal)
	p.mem = mod.Memory()
}

// reinstantiate closes the (possibly killed) instance and makes a fresh one: plugin state is lost.
func (p *plugin) reinstantiate(ctx context.Context) time.Duration {
	t := time.Now()
	_ = p.mod.Close(ctx)
	p.instantiate(ctx)
	return time.Since(t)
}

// dispatch writes a batch of n 64-byte events and makes one call. Returns intents count.
func (p *plugin) dispatch(ctx context.Context, batch []byte, n int) (int, error) {
	p.mem.Write(inPtr, batch[:n*eventSize])
	p.stack[0] = uint64(n)
	if err := p.onEvents.CallWithStack(ctx, p.stack); err != nil {
		return 0, err
	}
	return int(uint32(p.stack[0])), nil
}

func (p *plugin) dispatchFuel(ctx context.Context, batch []byte, n int, fuel uint64) (int, error) {
	p.mem.Write(inPtr, batch[:n*eventSize])
	p.fuel.Set(fuel)
	p.stack[0] = uint64(n)
	if err := p.onEvFuel.CallWithStack(ctx, p.stack); err != nil {
		return 0, err
	}
	return int(uint32(p.stack[0])), nil
}

func makeBatch(n int) []byte {
	b := make([]byte, n*eventSize)
	for i := 0; i < n; i++ {
		e := b[i*eventSize:]
		le64(e[0:], uint64(i))
		le64(e[8:], uint64(999000+i*50)) // price: some above 1,000,000 -> intents
		le64(e[16:], uint64(10+i))
	}
	return b
}

func le64(b []byte, v uint64) {
	_ = b[7]
	for i := 0; i < 8; i++ {
		b[i] = byte(v >> (8 * i))
	}
}
