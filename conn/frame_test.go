package conn_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/conn/jsonscan"
)

// Frames in the shapes Deribit sends (deribit.md §0, §1, §5, §6) and the
// simulator's encoders produce.
var (
	frameTestRequest = `{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}`
	frameHeartbeat   = `{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}}`
	frameResponse    = `{"jsonrpc":"2.0","id":8163,"result":{"version":"1.2.26"},"testnet":false,"usIn":1535043730126248,"usOut":1535043730126250,"usDiff":2}`
	frameError       = `{"jsonrpc":"2.0","id":8163,"error":{"code":10009,"message":"not_enough_funds","data":{"reason":"x"}},"testnet":false,"usIn":1,"usOut":2,"usDiff":1}`
	frameBookChange  = `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms","data":{"type":"change","timestamp":1700000000000,"prev_change_id":297217,"instrument_name":"BTC-PERPETUAL","change_id":297218,"bids":[["change",65000.5,1200.0],["new",64999.0,500.0]],"asks":[["delete",65001.0,0.0]]}}}`
	frameOrder       = `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"user.orders.BTC-PERPETUAL.raw","data":{"time_in_force":"good_til_cancelled","replaced":false,"reduce_only":false,"price":65000.5,"post_only":false,"order_type":"limit","order_state":"open","order_id":"USDC-104819327443","max_show":10.0,"last_update_timestamp":1700000000000,"label":"mm-1","is_liquidation":false,"instrument_name":"BTC-PERPETUAL","filled_amount":0.0,"direction":"buy","creation_timestamp":1700000000000,"average_price":0.0,"api":true,"amount":10.0}}}`
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name  string
		frame string
		kind  conn.Kind
		id    uint64
		hasID bool
	}{
		{"test_request", frameTestRequest, conn.KindTestRequest, 0, false},
		{"heartbeat", frameHeartbeat, conn.KindHeartbeat, 0, false},
		{"response", frameResponse, conn.KindResponse, 8163, true},
		{"error", frameError, conn.KindError, 8163, true},
		{"notification", frameBookChange, conn.KindNotification, 0, false},
		{"order notification", frameOrder, conn.KindNotification, 0, false},
		{"params before method", `{"params":{"type":"test_request"},"method":"heartbeat","jsonrpc":"2.0"}`, conn.KindTestRequest, 0, false},
		{"result before id", `{"result":[1,{"a":"}"}],"usIn":1,"id":7}`, conn.KindResponse, 7, true},
		{"error with null id", `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`, conn.KindError, 0, false},
		{"error without id", `{"error":{"code":-32700,"message":"Parse error"}}`, conn.KindError, 0, false},
		{"string id", `{"id":"abc","result":1}`, conn.KindResponse, 0, false},
		{"negative id", `{"id":-1,"result":1}`, conn.KindResponse, 0, false},
		{"unknown method", `{"method":"public/x","params":{}}`, conn.KindOther, 0, false},
		{"heartbeat without params", `{"method":"heartbeat"}`, conn.KindHeartbeat, 0, false},
		{"white space", " \n{ \"method\" : \"heartbeat\" , \"params\" : { \"type\" : \"test_request\" } } ", conn.KindTestRequest, 0, false},
		{"not an object", `[1,2]`, conn.KindInvalid, 0, false},
		{"garbage", `garbage`, conn.KindInvalid, 0, false},
		{"empty", ``, conn.KindInvalid, 0, false},
		{"id only", `{"id":1}`, conn.KindInvalid, 0, false},
		{"truncated", `{"jsonrpc":"2.0","meth`, conn.KindInvalid, 0, false},
		{"subscription without params", `{"method":"subscription"}`, conn.KindInvalid, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := conn.Classify([]byte(tt.frame))
			if f.Kind != tt.kind || f.ID != tt.id || f.HasID != tt.hasID {
				t.Fatalf("Classify = %+v (%v), want %v id %d/%v", f, f.Kind, tt.kind, tt.id, tt.hasID)
			}
		})
	}
}

func TestClassifyDoesNotAllocate(t *testing.T) {
	for _, fr := range []string{frameTestRequest, frameResponse, frameError, frameBookChange} {
		b := []byte(fr)
		if n := testing.AllocsPerRun(100, func() { conn.Classify(b) }); n != 0 {
			t.Fatalf("%s: %v allocations", fr[:40], n)
		}
	}
}

func TestParsers(t *testing.T) {
	b := []byte(frameBookChange)
	ch, data, err := conn.ParseNotification(b, conn.Classify(b))
	if err != nil || string(ch) != "book.BTC-PERPETUAL.100ms" || !json.Valid(data) || data[0] != '{' {
		t.Fatalf("%s %s %v", ch, data, err)
	}
	b = []byte(frameResponse)
	raw, err := conn.ParseResult(b, conn.Classify(b))
	if err != nil || string(raw) != `{"version":"1.2.26"}` {
		t.Fatalf("%s %v", raw, err)
	}
	b = []byte(frameError)
	e, err := conn.ParseError(b, conn.Classify(b))
	if err != nil || e.Code != 10009 || e.Message != "not_enough_funds" || string(e.Data) != `{"reason":"x"}` {
		t.Fatalf("%+v %v", e, err)
	}
	bad := []struct {
		name  string
		frame string
		parse func(b []byte, f conn.Frame) error
	}{
		{"notification without data", `{"method":"subscription","params":{"channel":"x"}}`, func(b []byte, f conn.Frame) error {
			_, _, err := conn.ParseNotification(b, f)
			return err
		}},
		{"broken data", `{"method":"subscription","params":{"channel":"x","data":{"a":]}}}`, func(b []byte, f conn.Frame) error {
			_, _, err := conn.ParseNotification(b, f)
			return err
		}},
		{"broken result", `{"id":1,"result":{"a":`, func(b []byte, f conn.Frame) error {
			_, err := conn.ParseResult(b, f)
			return err
		}},
		{"error without code", `{"id":1,"error":{"message":"x"}}`, func(b []byte, f conn.Frame) error {
			_, err := conn.ParseError(b, f)
			return err
		}},
		{"wrong kind", frameTestRequest, func(b []byte, f conn.Frame) error {
			_, err := conn.ParseResult(b, f)
			return err
		}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			b := []byte(tt.frame)
			if err := tt.parse(b, conn.Classify(b)); !errors.Is(err, conn.ErrMalformed) {
				t.Fatalf("err %v", err)
			}
		})
	}
}

// reference classifies with encoding/json, for the fuzz target.
func reference(b []byte) (conn.Kind, uint64, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil || m == nil {
		return conn.KindInvalid, 0, false
	}
	if raw, ok := m["method"]; ok {
		var method string
		if json.Unmarshal(raw, &method) != nil {
			return conn.KindInvalid, 0, false
		}
		params, hasParams := m["params"]
		switch method {
		case "subscription":
			if !hasParams {
				return conn.KindInvalid, 0, false
			}
			return conn.KindNotification, 0, false
		case "heartbeat":
			var p struct {
				Type *string `json:"type"`
			}
			if hasParams && json.Unmarshal(params, &p) == nil && p.Type != nil && *p.Type == "test_request" {
				return conn.KindTestRequest, 0, false
			}
			return conn.KindHeartbeat, 0, false
		}
		return conn.KindOther, 0, false
	}
	idRaw, hasID := m["id"]
	var id uint64
	idOK := hasID && json.Unmarshal(idRaw, &id) == nil && isPlainUint(idRaw)
	if !idOK {
		id = 0
	}
	_, hasResult := m["result"]
	_, hasErr := m["error"]
	switch {
	case hasID && hasResult && hasErr:
		return conn.KindInvalid, 0, false // ambiguous: the scanner takes whichever comes first
	case hasID && hasResult:
		return conn.KindResponse, id, idOK
	case hasErr:
		return conn.KindError, id, idOK
	}
	return conn.KindInvalid, 0, false
}

func isPlainUint(raw json.RawMessage) bool {
	for _, c := range raw {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(raw) > 0
}

// FuzzClassify checks the classifier against encoding/json on every valid
// JSON object without duplicate or escaped keys, and checks that the
// classifier and the parsers never panic on anything.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{frameTestRequest, frameHeartbeat, frameResponse, frameError, frameBookChange, frameOrder,
		`{"params":{"type":"test_request"},"method":"heartbeat"}`, `{"result":[1],"id":7}`, `{"id":null,"error":{"code":1}}`,
		`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.100ms","data":{"timestamp":1,"stats":{"volume":1.5},"best_bid_price":1e3}}}`,
		`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.none.10.100ms","data":{"timestamp":1,"instrument_name":"BTC-PERPETUAL","change_id":2,"bids":[[65000.5,10]],"asks":[]}}}`,
		`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.raw","data":{"ty`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr := conn.Classify(b)
		switch fr.Kind {
		case conn.KindNotification:
			_, _, _ = conn.ParseNotification(b, fr)
		case conn.KindResponse:
			_, _ = conn.ParseResult(b, fr)
		case conn.KindError:
			_, _ = conn.ParseError(b, fr)
		}
		if !json.Valid(b) || bytes.IndexByte(b, '\\') >= 0 || hasTrickyKeys(b) {
			return
		}
		kind, id, hasID := reference(b)
		if kind == conn.KindInvalid && fr.Kind != conn.KindInvalid {
			return // the classifier stops early and may accept what the reference rejects
		}
		if fr.Kind != kind || fr.ID != id || fr.HasID != hasID {
			t.Fatalf("Classify(%s) = %v %d %v; reference %v %d %v", b, fr.Kind, fr.ID, fr.HasID, kind, id, hasID)
		}
		if kind == conn.KindNotification {
			var top map[string]json.RawMessage
			var params map[string]json.RawMessage
			ch, data, err := conn.ParseNotification(b, fr)
			if json.Unmarshal(b, &top) == nil && json.Unmarshal(top["params"], &params) == nil {
				var channel string
				if json.Unmarshal(params["channel"], &channel) == nil && params["data"] != nil {
					if err != nil || string(ch) != channel || !json.Valid(data) {
						t.Fatalf("ParseNotification(%s) = %q %q %v", b, ch, data, err)
					}
				}
			}
		}
	})
}

func hasEscape(s string) bool {
	b, _ := json.Marshal(s)
	return len(b) != len(s)+2
}

// hasTrickyKeys reports duplicate keys or keys with escapes at any level:
// encoding/json resolves them differently from a scanner that stops at the
// first match, on purpose.
func hasTrickyKeys(b []byte) bool {
	dec := json.NewDecoder(bytesReader(b))
	type frame struct {
		obj  bool
		seen map[string]bool
		key  bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.obj {
					top.key = true
				}
				stack = append(stack, &frame{obj: v == '{', seen: map[string]bool{}, key: true})
				continue
			default:
				stack = stack[:len(stack)-1]
				continue
			}
		case string:
			if top != nil && top.obj && top.key {
				if top.seen[v] || hasEscape(v) || v != string([]byte(v)) {
					return true
				}
				top.seen[v] = true
				top.key = false
				continue
			}
		}
		if top != nil && top.obj {
			top.key = true
		}
	}
}

// TestSplitNotification: in Deribit's layout the split gives the channel
// and data ParseNotification gives; in any other layout it declines; data
// it cannot vouch for (the caller's parse is the check) comes back as the
// bytes up to the frame's closing braces.
func TestSplitNotification(t *testing.T) {
	ok := []string{
		`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms","data":{"type":"change","bids":[["new",1,2]]}}}`,
		`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.BTC-PERPETUAL.raw","data":[{"price":1}]}}`,
		"{\"method\":\"subscription\", \"params\" : { \"x\": [1,{\"}\":2}], \"channel\" : \"c\" , \"data\" :\n {\"a\":\"}}\"} \n} \r\n}\n",
	}
	for _, s := range ok {
		b := []byte(s)
		f := conn.Classify(b)
		ch, data, split := conn.SplitNotification(b, f)
		wantCh, wantData, err := conn.ParseNotification(b, f)
		if !split || err != nil || string(ch) != string(wantCh) || string(data) != string(wantData) {
			t.Errorf("%s: split %v %q %q, parse %v %q %q", s, split, ch, data, err, wantCh, wantData)
		}
	}
	declined := []string{
		`{"jsonrpc":"2.0","method":"subscription","params":{"data":{"a":1},"channel":"c"}}`, // data first
		`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"c"}}`,                // no data
		`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"c","data":{"a":1}]}`, // no params brace
		`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"c","data": }}`,       // empty data
		`{"jsonrpc":"2.0","method":"subscription","params":{"channel":3,"data":{}}}`,        // channel not a string
		`{"jsonrpc":"2.0","id":1,"result":{}}`,                                              // not a notification
	}
	for _, s := range declined {
		b := []byte(s)
		if ch, data, split := conn.SplitNotification(b, conn.Classify(b)); split {
			t.Errorf("%s: split into %q %q", s, ch, data)
		}
	}
	// Not one value: the split hands it on; a strict parse refuses it.
	unchecked := map[string]string{
		`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"c","data":{"a":1},"x":2}}`:       `{"a":1},"x":2`,
		`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"c","data":{"a":1}},"z":{"q":1}}`: `{"a":1}},"z":{"q":1`,
		`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"c","data":{"a":}}}`:              `{"a":}`,
	}
	for s, want := range unchecked {
		b := []byte(s)
		if _, data, split := conn.SplitNotification(b, conn.Classify(b)); !split || string(data) != want {
			t.Errorf("%s: split %v %q, want %q", s, split, data, want)
		}
	}
}

// FuzzSplitNotification: whenever the split's data is one whole JSON value
// (the check its caller makes), ParseNotification accepts the frame with
// the same channel and data.
func FuzzSplitNotification(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms","data":{"type":"change","bids":[["new",1,2]]}}}`,
		`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"c","data":{"a":1},"x":2}}`,
		`{"method":"subscription","params":{"channel":"c","data":[1,"]}"]} }`,
		`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"c","data":{"a":1}},"z":{"q":1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr := conn.Classify(b)
		ch, data, split := conn.SplitNotification(b, fr)
		if !split {
			return
		}
		var s jsonscan.Scanner
		s.Reset(data)
		if _, ok := s.Skip(); !ok || !s.End() {
			return
		}
		wantCh, wantData, err := conn.ParseNotification(b, fr)
		if err != nil || string(ch) != string(wantCh) || string(data) != string(wantData) {
			t.Fatalf("%q: split %q %q, parse %v %q %q", b, ch, data, err, wantCh, wantData)
		}
	})
}
