package host_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"

	"github.com/stratbox/stratbox/host"
	"github.com/stratbox/stratbox/host/sandbox"
)

// Load a plugin, configure an engine from the defaults and make it. Run
// then starts it on an exchange connection or a pool (host.Exchange): a live
// one (`host run`) or the lock step of a replay (host.NewLockstep); this
// example stops before, so that its output does not depend on a market.
func Example() {
	ctx := context.Background()
	wasm, err := os.ReadFile("sandbox/testdata/count.wasm") // a WAT test plugin
	if err != nil {
		log.Fatal(err)
	}
	p, err := sandbox.Load(ctx, "count", wasm, sandbox.PluginConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(ctx)

	cfg := host.DefaultConfig()
	cfg.Plugins = []host.PluginSpec{{Name: "count", Plugin: p, Instruments: []string{"BTC-PERPETUAL"}}}
	cfg.MaxRestarts = 1
	eng, err := host.New(cfg, host.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("plugin %s, ABI %v; orders placed: %d\n", p.Name(), p.Version(), eng.Stats().Placed)
	// Output:
	// plugin count, ABI 1.0; orders placed: 0
}

// Validate names the first field it refuses.
func ExampleConfig_Validate() {
	cfg := host.DefaultConfig()
	cfg.Plugins = []host.PluginSpec{{Name: "mm", Instruments: []string{"BTC-PERPETUAL"}}}
	fmt.Println(cfg.Validate())
	cfg.MaxRestarts = -1
	cfg.Plugins = nil
	fmt.Println(cfg.Validate())
	// Output:
	// Plugins[0]: host: invalid config: plugin "mm": Plugin: none (and no NewSandbox)
	// host: invalid config: Plugins: none
}
