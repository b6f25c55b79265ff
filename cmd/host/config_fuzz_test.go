package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stratbox/stratbox/conn"
)

// configSeeds are small configurations, good and bad, of every section:
// the fuzzer's starting points beside host.example.toml.
var configSeeds = []string{
	"",
	"[sim]\nlisten = \"127.0.0.1:0\"\nseed = 7\ntick = \"50ms\"\nmin_heartbeat = \"1s\"\n",
	"[[sim.keys]]\nid = \"a\"\nsecret = \"b\"\naccount = \"acct\"\n[[sim.keys]]\nid = \"a\"\n",
	"[sim.faults]\nsilence_every = \"1s\"\nsilence_for = \"100ms\"\nmaintenance_at = \"5s\"\nmaintenance_for = \"1s\"\ndelay = \"1ms\"\n",
	"[sim.faults]\nsilence_every = \"1s\"\n",
	"[sim.rate_limits]\nnon_matching_cost = 500\nmatching_rate = 5.5\nmatching_burst = -1\n",
	"[exchange]\nurl = \"wss://test.deribit.com/ws/api/v2\"\nauth = \"client_signature\"\n",
	"[exchange]\nurl = \"http://example.com\"\n",
	"[pool]\nsize = 3\nmin_healthy = 2\npolicy = \"round_robin\"\n[pool.reconnect]\nmin = \"50ms\"\nmax = \"5s\"\njitter = 0.1\n",
	"[pool.reconnect]\nmin = \"2s\"\nmax = \"1s\"\n",
	"[host]\nmax_restarts = 0\nmax_reestablish = 3\nisolation = \"none\"\nid = \"host-1\"\ncache_dir = \"off\"\n",
	"[host]\nid = \"-bad\"\nmax_restarts = -1\n",
	"[risk]\nmax_position = 100\nprice_band_bps = 50\n[[plugin]]\npath = \"a.wasm\"\nname = \"a\"\n[plugin.risk]\nmax_position = 10\n",
	"[[plugin]]\npath = \"a.wasm\"\ninstruments = [\"BTC-PERPETUAL\", \"ETH-PERPETUAL\"]\nchannels = [\"trades.BTC-PERPETUAL.100ms\"]\n" +
		"memory_limit_pages = 16\ntimer_min = \"1ms\"\nrate_weight = 2.5\nseed = 3\n" +
		"[plugin.params]\nspread = 0.5\nsize = 10\nname = \"x\"\non = true\nlevels = [1, 2, 3]\n[plugin.params.nested]\nk = \"v\"\n",
	"[[plugin]]\npath = \"a.wasm\"\n[[plugin]]\npath = \"a.wasm\"\n",
	"[[plugin]]\nname = \"no path\"\n",
	"[[plugin]]\npath = \"a.wasm\"\nrate_weight = nan\nmemory_limit_pages = 70000\n",
	"[cluster]\nmode = \"embedded\"\nname = \"n1\"\nlisten = \"127.0.0.1:0\"\ncluster_listen = \"127.0.0.1:0\"\nroutes = [\"127.0.0.1:6222\"]\n",
	"[cluster]\nmode = \"external\"\n",
	"[telemetry]\nmetrics = \"prometheus\"\nprometheus_listen = \"127.0.0.1:0\"\nsample_ratio = 0.5\n",
	"[telemetry]\nprometheus = \"127.0.0.1:0\"\n",
	"[control]\nhttp = \"127.0.0.1:0\"\ntoken_file = \"token\"\n",
	"[control]\nhttp = \"10.0.0.1:80\"\n",
	"[simulator]\nseed = 1\n",
	"[sim]\nseed = \"one\"\ntick = \"-1s\"\n",
}

// FuzzParseConfig: any input either parses into a configuration that
// validates (and that every command can turn into its package's Config
// without an error), or is refused with an error that says it is the
// config's; it never panics.
func FuzzParseConfig(f *testing.F) {
	example, err := os.ReadFile("../../host.example.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	for _, s := range configSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseConfig("fuzz.toml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config") {
				t.Fatalf("error %q does not say it is the config's", err)
			}
			return
		}
		if err := c.validate(); err != nil {
			t.Fatalf("parsed, then does not validate: %v", err)
		}
		if err := c.Sim.Faults.schedule().Validate(); err != nil {
			t.Fatalf("[sim.faults] validated, sim.FaultSchedule did not: %v", err)
		}
		if err := c.poolConfig(conn.Config{}).Validate(); err != nil {
			t.Fatalf("[pool] validated, pool.Config did not: %v", err)
		}
		rc, err := c.replayConfig("sim", 0)
		if err != nil {
			t.Fatalf("validated, but not a replay.Config: %v", err)
		}
		if len(rc.Plugins) > 0 {
			if err := rc.Validate(); err != nil {
				t.Fatalf("validated, replay.Config did not: %v", err)
			}
		}
	})
}
