package host

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/host/sandbox"
)

// Another host's order requests pass this host's kill switch, validation
// and per-order limits before its connections carry them.
func TestAdmitRemote(t *testing.T) {
	lim := RiskLimits{MaxOrderAmount: fx("1000"), MaxNotional: 5000, PriceBandBps: 5000, IntentsPerSecond: -1}
	sb := newScriptBox(nil)
	cfg := Config{Plugins: []PluginSpec{{Name: "script", NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox { return sb },
		Instruments: []string{"BTC-PERPETUAL"}, Channels: []string{"ticker.{instrument}.100ms"}, Risk: &lim}}}
	// Before Run has read the instruments: nothing is placed.
	e0, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e0.AdmitRemote("private/buy", []byte(`{"instrument_name":"BTC-PERPETUAL","amount":10,"price":1000}`), ""); !errors.Is(err, ErrRemoteRefused) ||
		!strings.Contains(err.Error(), "not trading yet") {
		t.Fatalf("before Run: %v", err)
	}
	r := startRig(t, cfg, nil)
	sb.waitFor(t, "a ticker (the mark price)", func(rec []byte) bool { return abi.ReadHeader(rec).Kind == abi.KindTicker })
	mark := abi.Fixed(r.e.marks[0].Load()).Float64()
	if mark <= 0 {
		t.Fatalf("no mark price after a ticker")
	}
	near := abi.Fixed(int64(mark) * abi.FixedScale) // on the 0.5 tick
	ok := func(method, params, instrument string) {
		t.Helper()
		if err := r.e.AdmitRemote(method, []byte(params), instrument); err != nil {
			t.Fatalf("%s %s: %v", method, params, err)
		}
	}
	refused := func(method, params, instrument, want string) {
		t.Helper()
		err := r.e.AdmitRemote(method, []byte(params), instrument)
		if !errors.Is(err, ErrRemoteRefused) || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s %s: %v, want a refusal naming %q", method, params, err, want)
		}
	}
	p := func(amount, price string) string {
		return `{"instrument_name":"BTC-PERPETUAL","amount":` + amount + `,"type":"limit","price":` + price + `,"label":"x"}`
	}
	ok("private/buy", p("10", near.String()), "")
	ok("private/sell", `{"instrument_name":"BTC-PERPETUAL","amount":20,"type":"market"}`, "")
	ok("private/edit", `{"order_id":"1","amount":20,"price":`+near.String()+`}`, "BTC-PERPETUAL")
	refused("private/buy", p("2000", near.String()), "", "max_order_amount")
	refused("private/buy", `{"instrument_name":"ETH-PERPETUAL","amount":10,"price":1000}`, "", "not one this host trades")
	refused("private/buy", p("10", near.String()+".25"), "", "bad_tick")
	refused("private/buy", p("15", near.String()), "", "bad_amount")
	refused("private/buy", p("10", "1"), "", "band")
	refused("private/buy", `{"instrument_name":"BTC-PERPETUAL","amount":10,"type":"stop_limit","price":1000}`, "", "only limit and market")
	refused("private/buy", `{"instrument_name":"BTC-PERPETUAL","amount":9223372036854775807,"price":1000}`, "", "amount")
	refused("private/edit", `{"order_id":"1","amount":2000,"price":`+near.String()+`}`, "BTC-PERPETUAL", "max_order_amount")
	refused("private/edit", `{"order_id":"1","amount":10,"price":1}`, "ETH-PERPETUAL", "not one this host trades")
	// Notional: 6000 USD of an inverse perpetual over max_notional 5000.
	// The limits in force are SetRisk's (host ctl reload).
	lim2 := lim
	lim2.MaxOrderAmount = 0
	if err := r.e.SetRisk(RiskSet{Default: r.e.cfg.Risk, Plugins: map[string]RiskLimits{"script": lim2}}); err != nil {
		t.Fatal(err)
	}
	refused("private/buy", p("6000", near.String()), "", "max_notional")
	lim2.MaxOrderAmount = fx("100")
	if err := r.e.SetRisk(RiskSet{Default: r.e.cfg.Risk, Plugins: map[string]RiskLimits{"script": lim2}}); err != nil {
		t.Fatal(err)
	}
	refused("private/buy", p("200", near.String()), "", "max_order_amount 100")
	if err := r.e.SetRisk(RiskSet{Default: r.e.cfg.Risk, Plugins: map[string]RiskLimits{"script": lim}}); err != nil {
		t.Fatal(err)
	}
	// The kill switch: no place or amend, cancels and reads still go.
	r.e.Kill()
	refused("private/buy", p("10", near.String()), "", "kill switch")
	refused("private/edit", `{"order_id":"1","amount":20,"price":1000}`, "BTC-PERPETUAL", "kill switch")
	ok("private/cancel", `{"order_id":"1"}`, "")
	ok("private/get_order_state", `{"order_id":"1"}`, "")
}

// Every remote request takes a token from one bucket.
func TestAdmitRemoteRate(t *testing.T) {
	clk := clock.NewFake(time.Unix(1e9, 0))
	sb := newScriptBox(nil)
	e, err := New(Config{Risk: RiskLimits{IntentsPerSecond: 1, IntentBurst: 2}, Plugins: []PluginSpec{{Name: "script",
		NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox { return sb }, Instruments: []string{"BTC-PERPETUAL"}}}}, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := e.AdmitRemote("private/cancel", []byte(`{"order_id":"1"}`), ""); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if err := e.AdmitRemote("private/cancel", []byte(`{"order_id":"1"}`), ""); err == nil || !strings.Contains(err.Error(), "rate") {
		t.Fatalf("third request within the burst: %v", err)
	}
	clk.Advance(time.Second)
	if err := e.AdmitRemote("private/cancel", []byte(`{"order_id":"1"}`), ""); err != nil {
		t.Fatalf("a second later: %v", err)
	}
	// SetRisk's default is the bucket's from the next request on.
	if err := e.SetRisk(RiskSet{Default: RiskLimits{IntentsPerSecond: -1}}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := e.AdmitRemote("private/cancel", []byte(`{"order_id":"1"}`), ""); err != nil {
			t.Fatalf("request %d without a rate limit: %v", i, err)
		}
	}
}
