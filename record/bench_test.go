package record_test

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/record"
)

// Reading and classifying recorded frames, no plugin: the floor under every
// replay. Each benchmark reads benchFrames raw-book changes (Deribit's wire
// shape, ~270 bytes, what Tardis.dev records) from memory and classifies
// each as the connection does (conn.Classify); frames/s is the figure.
//
//	go test -run '^$' -bench BenchmarkRead -cpu 1 ./record

const benchFrames = 20000

var benchStart = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

func bookChange(i int) []byte {
	return []byte(fmt.Sprintf(`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.raw","data":{"type":"change","timestamp":%d,"prev_change_id":%d,"instrument_name":"BTC-PERPETUAL","change_id":%d,"bids":[["new",%d.5,%d]],"asks":[["change",%d.0,%d],["delete",%d.5,0]]}}}`,
		benchStart.UnixMilli()+int64(i), 6800000000+i, 6800000001+i, 50000+i%50, 1000+i%7*10, 50010+i%50, 2000+i%11*10, 50020+i%30))
}

func benchInputs(b *testing.B) map[string][]byte {
	b.Helper()
	var native, jsonl, wrapped, tardis bytes.Buffer
	w, err := record.NewWriter(&native, record.Header{Source: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < benchFrames; i++ {
		data := bookChange(i)
		ts := benchStart.Add(time.Duration(i) * time.Millisecond)
		if err := w.Write(record.Frame{Time: ts.UnixNano(), Dir: record.In, Data: data}); err != nil {
			b.Fatal(err)
		}
		jsonl.Write(data)
		jsonl.WriteByte('\n')
		wrapped.WriteString(`{"ts":` + strconv.FormatInt(ts.UnixNano(), 10) + `,"dir":"in","conn":1,"frame":`)
		wrapped.Write(data)
		wrapped.WriteString("}\n")
		tardis.WriteString(ts.Format("2006-01-02T15:04:05.000000Z") + " ")
		tardis.Write(data)
		tardis.WriteByte('\n')
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return map[string][]byte{"native": native.Bytes(), "jsonl": jsonl.Bytes(), "jsonl_wrapped": wrapped.Bytes(), "tardis": tardis.Bytes()}
}

func BenchmarkRead(b *testing.B) {
	inputs := benchInputs(b)
	for _, name := range []string{"native", "jsonl", "jsonl_wrapped", "tardis"} {
		in := inputs[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			var frames int
			for b.Loop() {
				rd, err := record.Open(bytes.NewReader(in))
				if err != nil {
					b.Fatal(err)
				}
				for {
					f, err := rd.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					if c := conn.Classify(f.Data); c.Kind != conn.KindNotification || f.Time == 0 {
						b.Fatalf("frame %d: kind %v time %d", frames, c.Kind, f.Time)
					}
					frames++
				}
			}
			b.ReportMetric(float64(frames)/b.Elapsed().Seconds(), "frames/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
