package strategy_test

import (
	"testing"

	"github.com/stratbox/stratbox/abi"
	strategy "github.com/stratbox/stratbox/plugins/sdk/go"
	"github.com/stratbox/stratbox/plugins/sdk/go/strategytest"
)

// FuzzOnEvents: whatever the inbox holds, a call returns a byte count that
// fits the outbox or a plugin error, and never panics.
func FuzzOnEvents(f *testing.F) {
	h := strategytest.New(nil)
	for _, e := range everyEvent(h) {
		f.Add(e)
	}
	f.Add([]byte{1, 0, 8, 0})
	f.Fuzz(func(t *testing.T, batch []byte) {
		inbox := make([]byte, abi.MinInbox)
		outbox := make([]byte, abi.MinOutbox)
		r := strategy.NewRunner(&busy{}, nopHost{}, inbox, outbox)
		blob := abi.AppendStart(nil, &abi.Start{FirstCID: 1})
		copy(inbox, blob)
		if res := r.Init(int32(len(blob))); res != 0 {
			t.Fatal(res)
		}
		n := copy(inbox, batch)
		res := r.OnEvents(int32(n))
		if res > int32(len(outbox)) || (res < 0 && res != int32(abi.PluginBadInput)) {
			t.Fatalf("OnEvents = %d", res)
		}
		if res > 0 {
			if _, err := strategytest.Intents(outbox[:res]); err != nil {
				t.Fatal(err)
			}
		}
	})
}
