package sim

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultInstruments(t *testing.T) {
	ins := DefaultInstruments(engStart)
	if !reflect.DeepEqual(ins, DefaultInstruments(engStart)) {
		t.Fatal("not deterministic")
	}
	want := []string{"BTC-PERPETUAL", "ETH-PERPETUAL", "BTC-27MAR26", "BTC-27MAR26-60000-C", "BTC-27MAR26-60000-P", "BTC-27MAR26-70000-C", "BTC-27MAR26-70000-P"}
	if len(ins) != len(want) {
		t.Fatalf("%d instruments", len(ins))
	}
	exp := time.Date(2026, 3, 27, 8, 0, 0, 0, time.UTC).UnixMilli()
	for i, in := range ins {
		if in.InstrumentName != want[i] || in.InstrumentID != i+1 || !in.IsActive || in.State != "open" || in.CreationTimestamp != engStart.UnixMilli() {
			t.Fatalf("%d: %+v", i, in)
		}
		if i >= 2 && in.ExpirationTimestamp != exp {
			t.Fatalf("%s expires %d", in.InstrumentName, in.ExpirationTimestamp)
		}
	}
	p := ins[0]
	if p.TickSize != 0.5 || p.ContractSize != 10 || p.MinTradeAmount != 10 || p.TakerCommission != 0.0005 || p.MakerCommission != 0 ||
		p.MaxLeverage != 50 || p.ExpirationTimestamp != PerpetualExpiration || p.SettlementPeriod != "perpetual" || p.InstrumentType != "reversed" || p.PriceIndex != "btc_usd" {
		t.Fatalf("%+v", p)
	}
	if e := ins[1]; e.TickSize != 0.05 || e.ContractSize != 1 || e.MinTradeAmount != 1 || e.SettlementCurrency != "ETH" || e.PriceIndex != "eth_usd" {
		t.Fatalf("%+v", e)
	}
	if f := ins[2]; f.TickSize != 2.5 || f.ContractSize != 10 || f.SettlementPeriod != "month" {
		t.Fatalf("%+v", f)
	}
	for _, o := range ins[3:] {
		if o.Kind != "option" || o.TickSize != 0.0005 || o.ContractSize != 1 || o.MinTradeAmount != 0.1 || o.MakerCommission != 0.0003 || o.Strike == 0 {
			t.Fatalf("%+v", o)
		}
		if (o.OptionType == "call") != strings.HasSuffix(o.InstrumentName, "-C") {
			t.Fatalf("%+v", o)
		}
	}
}

func TestQuarterlyExpiry(t *testing.T) {
	for _, c := range []struct {
		start time.Time
		name  string
	}{
		{time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), "27JUN25"},
		{time.Date(2025, 3, 31, 23, 0, 0, 0, time.UTC), "27JUN25"},
		{time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC), "26SEP25"},
		{time.Date(2025, 8, 15, 0, 0, 0, 0, time.UTC), "26DEC25"},
		{time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC), "27MAR26"},
		{time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), "25DEC26"},
	} {
		e := quarterlyExpiry(c.start)
		if got := expiryCode(e); got != c.name || e.Weekday() != time.Friday || e.Hour() != 8 {
			t.Errorf("%v: %s (%v)", c.start, got, e)
		}
	}
	if got := expiryCode(time.Date(2023, 8, 5, 8, 0, 0, 0, time.UTC)); got != "5AUG23" {
		t.Errorf("%s", got)
	}
}

func TestCurrenciesJSON(t *testing.T) {
	b, err := json.Marshal(DefaultCurrencies())
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"currency":"BTC"`, `"coin_type":"BITCOIN"`, `"withdrawal_priorities":[]`, `"fee_precision":4`, `{"name":"very_low","value":0.15}`} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %s in %s", want, s)
		}
	}
	if strings.Contains(s, "apr") {
		t.Errorf("apr should be omitted: %s", s)
	}
}

func TestBlackScholes(t *testing.T) {
	s, k, tt, v := 60000.0, 65000.0, 0.3, 0.6
	c, p := bsPrice(true, s, k, tt, v), bsPrice(false, s, k, tt, v)
	if math.Abs((c-p)-(s-k)) > 1e-6 || c <= 0 || p <= 0 {
		t.Fatalf("parity: c %v p %v", c, p)
	}
	if bsPrice(true, s, k, 0, v) != 0 || bsPrice(false, s, k, 0, v) != 5000 {
		t.Fatal("intrinsic")
	}
	if d := bsDelta(true, s, k, tt, v) - bsDelta(false, s, k, tt, v); math.Abs(d-1) > 1e-12 {
		t.Fatalf("delta parity %v", d)
	}
}

func TestTickAndLotConversion(t *testing.T) {
	in := newInstState(DefaultInstruments(engStart)[3], 0)
	for i := int64(1); i < 400; i++ {
		p := in.price(i)
		if back, ok := in.toTicks(p); !ok || back != i {
			t.Fatalf("ticks %d -> %v -> %d", i, p, back)
		}
		a := in.amount(i)
		if back, ok := in.toLots(a); !ok || back != i {
			t.Fatalf("lots %d -> %v -> %d", i, a, back)
		}
	}
	if _, ok := in.toTicks(0.0502); ok {
		t.Fatal("0.0502 on tick")
	}
}
