package deribit

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/sim"
)

// instrumentsJSON is a public/get_instruments result in Deribit's shapes
// (deribit.md §7: BTC-PERPETUAL as in the docs, an inverse option with
// tick_size_steps, a linear perpetual, a dated future, a spot pair).
const instrumentsJSON = `[
 {"tick_size_steps":[],"tick_size":0.5,"taker_commission":0.0005,"settlement_period":"perpetual","settlement_currency":"BTC","quote_currency":"USD","price_index":"btc_usd","min_trade_amount":10,"max_liquidation_commission":0.0075,"max_leverage":50,"maker_commission":0,"kind":"future","is_active":true,"instrument_name":"BTC-PERPETUAL","instrument_id":124972,"instrument_type":"reversed","expiration_timestamp":32503708800000,"creation_timestamp":1534242287000,"counter_currency":"USD","contract_size":10,"block_trade_tick_size":0.01,"block_trade_min_trade_amount":200000,"block_trade_commission":0.00025,"base_currency":"BTC","future_type":"reversed"},
 {"tick_size_steps":[{"above_price":0.005,"tick_size":0.0005}],"tick_size":0.0001,"taker_commission":0.0003,"strike":60000.0,"settlement_period":"month","settlement_currency":"BTC","quote_currency":"BTC","price_index":"btc_usd","option_type":"call","min_trade_amount":0.1,"maker_commission":0.0003,"kind":"option","is_active":true,"instrument_name":"BTC-27JUN25-60000-C","instrument_id":400000,"instrument_type":"reversed","expiration_timestamp":1751011200000,"creation_timestamp":1719000000000,"counter_currency":"USD","contract_size":1.0,"base_currency":"BTC"},
 {"tick_size_steps":[],"tick_size":0.05,"taker_commission":0.0005,"settlement_period":"perpetual","settlement_currency":"ETH","quote_currency":"USD","min_trade_amount":1,"maker_commission":0,"kind":"future","instrument_name":"ETH-PERPETUAL","instrument_type":"reversed","expiration_timestamp":32503708800000,"contract_size":1,"base_currency":"ETH"},
 {"tick_size":0.1,"taker_commission":0.0005,"settlement_period":"perpetual","settlement_currency":"USDC","quote_currency":"USDC","min_trade_amount":0.001,"maker_commission":-0.0001,"kind":"future","instrument_name":"ETH_USDC-PERPETUAL","instrument_type":"linear","expiration_timestamp":32503708800000,"contract_size":0.001,"base_currency":"ETH","counter_currency":"USDC"},
 {"tick_size":2.5,"taker_commission":0.0005,"settlement_period":"month","settlement_currency":"BTC","quote_currency":"USD","min_trade_amount":10,"maker_commission":-1e-4,"kind":"future","instrument_name":"BTC-27JUN25","instrument_type":"reversed","expiration_timestamp":1751011200000,"contract_size":10,"base_currency":"BTC"},
 {"tick_size":1e-8,"taker_commission":0.0001,"settlement_period":"perpetual","settlement_currency":"USDC","quote_currency":"USDC","min_trade_amount":0.0001,"maker_commission":0.00001,"kind":"spot","instrument_name":"BTC_USDC","instrument_type":"linear","expiration_timestamp":32503708800000,"contract_size":0.0001,"base_currency":"BTC"}
]`

func testTable(t testing.TB) *Table {
	t.Helper()
	list, err := Instruments([]byte(instrumentsJSON))
	if err != nil {
		t.Fatal(err)
	}
	tab, err := NewTable(list)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func TestInstruments(t *testing.T) {
	list, err := Instruments([]byte(instrumentsJSON))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"kind":"instrument","seq":0,"index":0,"instrument_kind":"perpetual","option_type":"none","flags":["inverse"],"tick_size":0.5,"contract_size":10,"min_amount":10,"strike":0,"expiry":0,"maker_fee":0,"taker_fee":0.0005,"base_currency":"BTC","quote_currency":"USD","settlement_currency":"BTC","name":"BTC-PERPETUAL","tick_steps":[]}`,
		`{"kind":"instrument","seq":0,"index":1,"instrument_kind":"option","option_type":"call","flags":[],"tick_size":0.0001,"contract_size":1,"min_amount":0.1,"strike":60000,"expiry":1751011200000000000,"maker_fee":0.0003,"taker_fee":0.0003,"base_currency":"BTC","quote_currency":"BTC","settlement_currency":"BTC","name":"BTC-27JUN25-60000-C","tick_steps":[{"above_price":0.005,"tick_size":0.0005}]}`,
		`{"kind":"instrument","seq":0,"index":2,"instrument_kind":"perpetual","option_type":"none","flags":["inverse"],"tick_size":0.05,"contract_size":1,"min_amount":1,"strike":0,"expiry":0,"maker_fee":0,"taker_fee":0.0005,"base_currency":"ETH","quote_currency":"USD","settlement_currency":"ETH","name":"ETH-PERPETUAL","tick_steps":[]}`,
		`{"kind":"instrument","seq":0,"index":3,"instrument_kind":"perpetual","option_type":"none","flags":[],"tick_size":0.1,"contract_size":0.001,"min_amount":0.001,"strike":0,"expiry":0,"maker_fee":-0.0001,"taker_fee":0.0005,"base_currency":"ETH","quote_currency":"USDC","settlement_currency":"USDC","name":"ETH_USDC-PERPETUAL","tick_steps":[]}`,
		`{"kind":"instrument","seq":0,"index":4,"instrument_kind":"future","option_type":"none","flags":["inverse"],"tick_size":2.5,"contract_size":10,"min_amount":10,"strike":0,"expiry":1751011200000000000,"maker_fee":-0.0001,"taker_fee":0.0005,"base_currency":"BTC","quote_currency":"USD","settlement_currency":"BTC","name":"BTC-27JUN25","tick_steps":[]}`,
		`{"kind":"instrument","seq":0,"index":5,"instrument_kind":"spot","option_type":"none","flags":[],"tick_size":0.00000001,"contract_size":0.0001,"min_amount":0.0001,"strike":0,"expiry":0,"maker_fee":0.00001,"taker_fee":0.0001,"base_currency":"BTC","quote_currency":"USDC","settlement_currency":"USDC","name":"BTC_USDC","tick_steps":[]}`,
	}
	if len(list) != len(want) {
		t.Fatalf("%d instruments", len(list))
	}
	for i := range list {
		rec, err := abi.AppendInstrument(nil, &list[i])
		if err != nil {
			t.Fatal(err)
		}
		js, err := abi.RecordJSON(rec)
		if err != nil {
			t.Fatal(err)
		}
		if string(js) != want[i] {
			t.Errorf("instrument %d:\n got %s\nwant %s", i, js, want[i])
		}
	}
	opt := list[1]
	if opt.TickAt(50000) != 10000 || opt.TickAt(500000) != 10000 || opt.TickAt(500001) != 50000 {
		t.Fatal("tick steps")
	}
}

func TestInstrumentsRefused(t *testing.T) {
	base := `{"instrument_name":"X","kind":"future","tick_size":0.5,"contract_size":10,"min_trade_amount":10`
	for _, in := range []string{
		`{`, `{}`, `[1]`,
		`[` + base + `,"tick_size":1e-9}]`,     // not exact
		`[` + base + `,"tick_size":0}]`,        // not positive
		`[` + base + `,"contract_size":1e12}]`, // out of range
		`[` + strings.Replace(base, `"kind":"future"`, `"kind":"weird"`, 1) + `}]`,
		`[` + strings.Replace(base, `"kind":"future"`, `"kind":"option"`, 1) + `,"strike":1,"option_type":"x"}]`,
		`[` + strings.Replace(base, `"kind":"future"`, `"kind":"option"`, 1) + `,"option_type":"call"}]`, // no strike
		`[` + base + `,"base_currency":"TOOLONGCUR"}]`,
		`[` + base + `,"tick_size_steps":[{"above_price":2,"tick_size":1},{"above_price":1,"tick_size":2}]}]`,
		`[` + strings.Replace(base, `"X"`, `"`+strings.Repeat("X", 65)+`"`, 1) + `}]`,
		`[` + strings.Replace(base, `,"min_trade_amount":10`, ``, 1) + `}]`,
	} {
		if _, err := Instruments([]byte(in)); !errors.Is(err, ErrDecode) {
			t.Errorf("%s: err %v", in, err)
		}
	}
	list, _ := Instruments([]byte(instrumentsJSON))
	if _, err := NewTable(append(list, list[0])); err == nil {
		t.Fatal("duplicate accepted")
	}
}

// TestInstrumentsSim converts the simulator's instruments (as its
// get_instruments marshals them) and checks them against its own values.
func TestInstrumentsSim(t *testing.T) {
	src := sim.DefaultInstruments(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	raw, err := json.Marshal(src)
	if err != nil {
		t.Fatal(err)
	}
	list, err := Instruments(raw)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := NewTable(list)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range src {
		in := tab.At(uint32(i))
		if j, ok := tab.Lookup([]byte(s.InstrumentName)); !ok || j != uint32(i) || in.Name.String() != s.InstrumentName {
			t.Fatalf("%s: lookup %d %v", s.InstrumentName, j, ok)
		}
		if in.TickSize.Float64() != s.TickSize || in.ContractSize.Float64() != s.ContractSize ||
			in.MinAmount.Float64() != s.MinTradeAmount || in.Strike.Float64() != s.Strike {
			t.Errorf("%s: %+v", s.InstrumentName, in)
		}
		perp := s.SettlementPeriod == "perpetual"
		if (in.Kind == abi.Perpetual) != perp || (perp && in.Expiry != 0) ||
			(!perp && in.Expiry != uint64(s.ExpirationTimestamp)*1e6) {
			t.Errorf("%s: kind %v expiry %d", s.InstrumentName, in.Kind, in.Expiry)
		}
		if (in.Flags&abi.InstrumentInverse != 0) != (s.Kind == "future") {
			t.Errorf("%s: flags %v", s.InstrumentName, in.Flags)
		}
	}
	if _, ok := tab.Index("BTC-PERPETUAL"); !ok || tab.Len() != len(src) || len(tab.Instruments()) != len(src) {
		t.Fatal("table")
	}
	name := []byte("ETH-PERPETUAL")
	if n := testing.AllocsPerRun(100, func() { tab.Lookup(name) }); n != 0 {
		t.Fatalf("Lookup: %v allocations", n)
	}
}
