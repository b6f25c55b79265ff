package sim

import (
	"testing"
)

// nopListener is a Listener that drops everything, so benchmarks measure
// the engine including the construction of what it reports.
type nopListener struct{}

func (nopListener) OrderChanged(Order)             {}
func (nopListener) Filled(Fill)                    {}
func (nopListener) BookChanged(BookChange)         {}
func (nopListener) PositionChanged(string, string) {}

// benchEngine is an engine with the synthetic market's ladders on every
// instrument and no flow.
func benchEngine(b *testing.B) *Engine {
	e := NewEngine(EngineConfig{Instruments: DefaultInstruments(engStart), Listener: nopListener{}})
	m := NewMarket(e, MarketConfig{Seed: 1, FlowProbability: -1, Volatility: -1})
	m.Step(engStart.UnixMilli())
	return e
}

// BenchmarkEnginePlaceCancel places a non-crossing limit order for a
// margin-checked account below a 10-level book and cancels it.
func BenchmarkEnginePlaceCancel(b *testing.B) {
	e := benchEngine(b)
	now := engStart.UnixMilli()
	req := OrderRequest{Instrument: btcPerp, Direction: "buy", Amount: 100, Price: 59900, HasPrice: true, Owner: "bench"}
	b.ReportAllocs()
	for b.Loop() {
		o, _, err := e.Place(now, req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Cancel(now, "bench", o.OrderID, "user_request"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEngineCross rests a maker order and fills it with a taker order
// (two margin-checked accounts, alternating sides so positions stay flat).
func BenchmarkEngineCross(b *testing.B) {
	e := benchEngine(b)
	now := engStart.UnixMilli()
	sides := [2]string{"buy", "sell"}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		d := i & 1
		i++
		if _, _, err := e.Place(now, OrderRequest{Instrument: btcPerp, Direction: sides[d], Amount: 100, Price: 60000, HasPrice: true, Owner: "maker"}); err != nil {
			b.Fatal(err)
		}
		_, tr, err := e.Place(now, OrderRequest{Instrument: btcPerp, Direction: sides[1-d], Amount: 100, Price: 60000, HasPrice: true, Owner: "taker"})
		if err != nil || len(tr) != 1 {
			b.Fatal(err, tr)
		}
	}
}

// BenchmarkMarketStep is one 100 ms tick of the default synthetic market on
// the default instruments.
func BenchmarkMarketStep(b *testing.B) {
	e := NewEngine(EngineConfig{Instruments: DefaultInstruments(engStart), Listener: nopListener{}})
	m := NewMarket(e, MarketConfig{Seed: 1})
	now := engStart.UnixMilli()
	b.ReportAllocs()
	for b.Loop() {
		m.Step(now)
		now += 100
	}
	if m.errs != 0 {
		b.Fatal(m.lastErr)
	}
}
