package benchkit

import (
	"bytes"
	"fmt"
	"io"

	"github.com/stratbox/stratbox/record"
)

// SyntheticRecording is n frames of a busy BTC-PERPETUAL in our record
// format: a 20-level book snapshot, then book changes (70 %), tickers
// (20 %) and trades (10 %), 100 µs apart (the feed of BenchmarkReplay and of `host bench`'s replay figures).
func SyntheticRecording(n int) ([]byte, error) { return SyntheticRecordingStamped(n, 1) }

// SyntheticRecordingStamped is SyntheticRecording with perStamp frames
// sharing each recorded time (100 µs × perStamp apart), as in files whose
// stamps are coarser than the feed.
func SyntheticRecordingStamped(n, perStamp int) ([]byte, error) {
	if perStamp < 1 {
		return nil, fmt.Errorf("benchkit: %d frames per stamp", perStamp)
	}
	var buf bytes.Buffer
	w, err := record.NewWriter(&buf, record.Header{Source: "benchmark"})
	if err != nil {
		return nil, err
	}
	t := int64(1_767_225_600_000_000_000) // 2026-01-01
	var werr error
	k := 0
	frame := func(data []byte) {
		if k%perStamp == 0 {
			t += 100_000 * int64(perStamp)
		}
		k++
		if werr == nil {
			werr = w.Write(record.Frame{Time: t, Conn: 1, Data: data})
		}
	}
	var snap bytes.Buffer
	snap.WriteString(`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms","data":{"type":"snapshot","timestamp":1767225600000,"instrument_name":"BTC-PERPETUAL","change_id":1,"bids":[`)
	for i := range 20 {
		if i > 0 {
			snap.WriteByte(',')
		}
		fmt.Fprintf(&snap, `["new",%d.5,%d]`, 59999-i, 10*(i+1))
	}
	snap.WriteString(`],"asks":[`)
	for i := range 20 {
		if i > 0 {
			snap.WriteByte(',')
		}
		fmt.Fprintf(&snap, `["new",%d,%d]`, 60001+i, 10*(i+1))
	}
	snap.WriteString(`]}}}`)
	frame(snap.Bytes())
	change := int64(1)
	var b []byte
	for i := 1; i < n; i++ {
		ms := t / 1_000_000
		switch k := i % 10; {
		case k < 7:
			change++
			lvl := i % 20
			b = fmt.Appendf(b[:0], `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms","data":{"type":"change","timestamp":%d,"instrument_name":"BTC-PERPETUAL","change_id":%d,"prev_change_id":%d,"bids":[["change",%d.5,%d]],"asks":[["change",%d,%d]]}}}`,
				ms, change, change-1, 59999-lvl, 10*(1+i%7), 60001+lvl, 10*(1+i%5))
		case k < 9:
			b = fmt.Appendf(b[:0], `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.100ms","data":{"timestamp":%d,"state":"open","instrument_name":"BTC-PERPETUAL","index_price":60000.12,"mark_price":60000.5,"last_price":60000.5,"best_bid_price":59999.5,"best_bid_amount":10,"best_ask_price":60001,"best_ask_amount":10,"open_interest":1000,"funding_8h":0.0001,"current_funding":0,"min_price":59000,"max_price":61000,"settlement_price":60000,"interest_value":0,"estimated_delivery_price":60000.12,"stats":{"high":61000,"low":59000,"price_change":0.1,"volume":10,"volume_usd":600000}}}}`, ms)
		default:
			dir := "buy"
			if i%20 >= 10 {
				dir = "sell"
			}
			b = fmt.Appendf(b[:0], `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.BTC-PERPETUAL.100ms","data":[{"trade_seq":%d,"trade_id":"%d","timestamp":%d,"tick_direction":0,"price":60001,"mark_price":60000.5,"instrument_name":"BTC-PERPETUAL","index_price":60000.12,"direction":"%s","amount":10}]}}`, i, i, ms, dir)
		}
		frame(b)
	}
	if werr != nil {
		return nil, werr
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// RenameChannels rewrites the channel of every notification of a recording
// (our format) whose channel ends in from to end in to instead, and
// returns the new recording: the same session as another channel (raw for
// 100ms) or another instrument.
func RenameChannels(src []byte, from, to string) ([]byte, error) {
	rd, err := record.Open(bytes.NewReader(src))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w, err := record.NewWriter(&buf, record.Header{Source: "renamed"})
	if err != nil {
		return nil, err
	}
	old, repl := []byte(from+`","data"`), []byte(to+`","data"`)
	for {
		f, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		f.Data = bytes.Replace(f.Data, old, repl, 1)
		if err := w.Write(f); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
