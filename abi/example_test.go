package abi_test

import (
	"errors"
	"fmt"

	"github.com/stratbox/stratbox/abi"
)

// A plugin's on_events: walk the inbox, skip kinds it does not know, answer
// with intents appended to its outbox.
func Example() {
	// What the host wrote into the inbox.
	var inbox []byte
	inbox = abi.AppendTicker(inbox, &abi.Ticker{Seq: 1, Instrument: 0,
		BestBidPrice: 6500050000000, BestBidAmount: 1200 * abi.FixedScale,
		BestAskPrice: 6500100000000, BestAskAmount: 300 * abi.FixedScale})
	inbox = abi.AppendTimer(inbox, &abi.Timer{Seq: 2, ID: 1})

	outbox := make([]byte, 0, 4096) // the plugin's static outbox
	var t abi.Ticker
	for rec, err := range abi.Records(inbox) {
		if err != nil {
			panic(err)
		}
		switch rec.Kind {
		case abi.KindTicker:
			if abi.DecodeTicker(rec.Bytes, &t) == nil {
				outbox = abi.AppendPlace(outbox, &abi.Place{Seq: rec.Seq, CID: 1, Instrument: t.Instrument,
					Side: abi.Buy, Type: abi.Limit, TIF: abi.GoodTilCancelled, Flags: abi.PostOnly,
					Price: t.BestBidPrice, Amount: 10 * abi.FixedScale})
			}
		default:
			// Kinds this plugin does not handle (or know) are skipped.
		}
	}
	js, _ := abi.BatchJSON(outbox)
	fmt.Printf("%d intent bytes\n%s\n", len(outbox), js)
	// Output:
	// 80 intent bytes
	// [
	// {"kind":"place","seq":1,"cid":1,"instrument":0,"side":"buy","type":"limit","tif":"good_til_cancelled","flags":["post_only"],"price":65000.5,"amount":10,"label":""}
	// ]
}

func ExampleAppendBookChange() {
	b := abi.Book{Seq: 7, Instrument: 0, ChangeID: 297218, PrevChangeID: 297217,
		Bids: []abi.Level{{Price: 6500050000000, Amount: 1300 * abi.FixedScale}, {Price: 6499900000000, Amount: 0}}}
	rec, err := abi.AppendBookChange(nil, &b)
	if err != nil {
		panic(err)
	}
	js, _ := abi.EventJSON(rec)
	fmt.Println(len(rec))
	fmt.Println(string(js))
	// Output:
	// 80
	// {"kind":"book_change","seq":7,"instrument":0,"flags":[],"change_id":297218,"prev_change_id":297217,"ts":0,"bids":[[65000.5,1300],[64999,0]],"asks":[]}
}

func ExampleDecodeOrderUpdate() {
	rec := abi.AppendOrderUpdate(nil, &abi.OrderUpdate{CID: 42, State: abi.StateRejected,
		Reason: abi.ReasonExchangeError, ExchangeCode: 10009, Text: abi.NewStr32("not_enough_funds")})
	var o abi.OrderUpdate
	if err := abi.DecodeOrderUpdate(rec, &o); err != nil {
		panic(err)
	}
	fmt.Println(o.CID, o.State, o.Reason, o.ExchangeCode, o.Text)
	// Output: 42 rejected exchange_error 10009 not_enough_funds
}

func ExampleNextRecord() {
	buf := abi.AppendCancel(nil, &abi.Cancel{CID: 1})
	buf = append(buf, 0x02, 0x02, 0x0c, 0x00) // a header cut short, size 12
	for len(buf) > 0 {
		h, rec, rest, err := abi.NextRecord(buf)
		if err != nil {
			fmt.Println(errors.Is(err, abi.ErrTruncated), err)
			break
		}
		fmt.Println(h.Kind, len(rec))
		buf = rest
	}
	// Output:
	// cancel 16
	// true abi: record runs past the end of the buffer at offset 0: 4 bytes left, a header needs 8
}

func ExamplePluginVersion() {
	// The export names of a compiled module, before instantiation.
	exports := []string{"memory", "_initialize", "stratbox_abi_v2_0", "stratbox_buffers"}
	_, err := abi.PluginVersion("plugins/mm.wasm", exports, abi.Current)
	fmt.Println(err)
	// Output: abi: plugin "plugins/mm.wasm" is built for stratbox ABI 2.0; this host implements stratbox ABI 1.0 and runs plugins built for ABI 1.0 to 1.0
}

func ExampleParseFixed() {
	tick, _ := abi.ParseFixed("0.0005")
	price, _ := abi.ParseFixed("0.0465")
	fmt.Println(int64(tick), price%tick == 0, price.Float64())
	f, _ := abi.FixedFromFloat(65000.5)
	fmt.Println(f)
	// Output:
	// 50000 true 0.0465
	// 65000.5
}

func ExampleDecodeStartup() {
	blob, err := abi.AppendStartup(nil, &abi.Startup{
		Start: abi.Start{HostVersion: abi.Current, FirstCID: 1000, Name: abi.NewStr32("mm-btc")},
		Instruments: []abi.Instrument{{Kind: abi.Perpetual, Flags: abi.InstrumentInverse,
			TickSize: abi.FixedScale / 2, MinAmount: 10 * abi.FixedScale, Name: abi.NewStr64("BTC-PERPETUAL")}},
		Params: []abi.Param{{Type: abi.ParamFloat, Key: "spread_bps", Float: 2.5}},
	})
	if err != nil {
		panic(err)
	}
	var s abi.Startup
	if err := abi.DecodeStartup(blob, &s); err != nil {
		panic(err)
	}
	fmt.Println(len(blob), s.Start.Name, s.Start.FirstCID, s.Instruments[0].Name, s.Instruments[0].TickSize, s.Params[0].Key, s.Params[0].Float)
	// Output: 280 mm-btc 1000 BTC-PERPETUAL 0.5 spread_bps 2.5
}

func ExampleAppendRecordFromJSON() {
	rec, err := abi.AppendRecordFromJSON(nil, []byte(`{"kind":"cancel","seq":3,"cid":1001}`))
	fmt.Printf("%x %v\n", rec, err)
	// Output: 0202100003000000e903000000000000 <nil>
}
