package record

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

func sampleFrames(n int) []Frame {
	fs := make([]Frame, n)
	for i := range fs {
		fs[i] = Frame{Time: 1_700_000_000_000_000_000 + int64(i)*1_234_567, Conn: uint64(i % 3), Dir: Dir(i % 2),
			Data: []byte(fmt.Sprintf(`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms","data":{"change_id":%d}}}`, i))}
	}
	fs[n/2].Disconnect, fs[n/2].Data = true, nil
	return fs
}

func writeNative(t testing.TB, fs []Frame, block int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Created: 42, Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	w.SetBlockSize(block)
	for _, f := range fs {
		if err := w.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readAll(r Reader) ([]Frame, error) {
	var out []Frame
	for {
		f, err := r.Next()
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return out, err
		}
		f.Data = bytes.Clone(f.Data)
		out = append(out, f)
	}
}

func sameFrames(t *testing.T, got, want []Frame) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d frames, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Time != w.Time || g.Conn != w.Conn || g.Dir != w.Dir || g.Disconnect != w.Disconnect || !bytes.Equal(g.Data, w.Data) {
			t.Fatalf("frame %d: got %+v %q, want %+v %q", i, g, g.Data, w, w.Data)
		}
	}
}

func TestRecordNativeRoundTrip(t *testing.T) {
	fs := sampleFrames(1000)
	file := writeNative(t, fs, 4096)
	r, err := Open(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if r.Format() != FormatNative {
		t.Fatalf("format %s", r.Format())
	}
	if h, ok := HeaderOf(r); !ok || h.Created != 42 || h.Source != "test" {
		t.Fatalf("header %+v", h)
	}
	got, err := readAll(r)
	if err != nil {
		t.Fatal(err)
	}
	sameFrames(t, got, fs)
	if r.Stats().Blocks < 10 {
		t.Fatalf("only %d blocks: the block size was not applied", r.Stats().Blocks)
	}
}

// A file cut anywhere reads up to its last complete block, then says it
// was truncated; it never returns a frame that was not written.
func TestRecordTruncatedReadsCompleteBlocks(t *testing.T) {
	fs := sampleFrames(300)
	file := writeNative(t, fs, 2048)
	full, _ := Open(bytes.NewReader(file))
	all, _ := readAll(full)
	sameFrames(t, all, fs)
	for cut := 1; cut < len(file); cut += 7 {
		r, err := Open(bytes.NewReader(file[:cut]))
		if err != nil {
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrFormat) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("cut %d: open: %v", cut, err)
			}
			continue
		}
		got, err := readAll(r)
		if err == nil && len(got) != len(fs) {
			t.Fatalf("cut %d of %d: %d frames and no error", cut, len(file), len(got))
		}
		if err != nil && !errors.Is(err, ErrTruncated) {
			t.Fatalf("cut %d: %v, want ErrTruncated", cut, err)
		}
		sameFrames(t, got, fs[:len(got)])
	}
}

func TestRecordCorruptBlockIsAnError(t *testing.T) {
	fs := sampleFrames(200)
	file := writeNative(t, fs, 1<<20)
	// Flip a byte in the middle of the (single) frame block.
	bad := bytes.Clone(file)
	bad[len(bad)-40] ^= 0x55
	r, err := Open(bytes.NewReader(bad))
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(r)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err %v, want ErrCorrupt", err)
	}
	if len(got) != 0 {
		t.Fatalf("%d frames of a corrupt block returned", len(got))
	}
	if !strings.Contains(err.Error(), "block 1") {
		t.Fatalf("error does not say where: %v", err)
	}
}

func TestRecordJSONL(t *testing.T) {
	in := `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.BTC-PERPETUAL.raw","data":[{"timestamp":1700000000123,"price":1}]}}
not json at all
{"ts": 1700000000200000000, "frame": {"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.100ms","data":{"timestamp":1}}}, "dir": "in", "conn": 3}

{"jsonrpc":"2.0","id":5,"result":"ok","usIn":1700000000300000,"usOut":1700000000301000,"usDiff":1000}
{"ts": 7, "frame": {"jsonrpc":"2.0"}, "dir": "out"}
`
	for _, gz := range []bool{false, true} {
		src := []byte(in)
		if gz {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(src)
			zw.Close()
			src = b.Bytes()
		}
		r, err := Open(bytes.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		if r.Format() != FormatJSONL {
			t.Fatalf("format %s", r.Format())
		}
		got, err := readAll(r)
		if err != nil {
			t.Fatal(err)
		}
		want := []struct {
			t    int64
			conn uint64
			dir  Dir
		}{{1700000000123000000, 0, In}, {1700000000200000000, 3, In}, {1700000000301000000, 0, In}, {7, 0, Out}}
		if len(got) != len(want) {
			t.Fatalf("gzip %v: %d frames, want %d", gz, len(got), len(want))
		}
		for i, w := range want {
			if got[i].Time != w.t || got[i].Conn != w.conn || got[i].Dir != w.dir || got[i].Data[0] != '{' {
				t.Fatalf("frame %d: %+v", i, got[i])
			}
		}
		if !bytes.HasPrefix(got[1].Data, []byte(`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker`)) {
			t.Fatalf("wrapped frame: %s", got[1].Data)
		}
		if s := r.Stats(); s.Skipped != 1 || s.Frames != 4 {
			t.Fatalf("stats %+v", s)
		}
	}
}

func TestRecordTardis(t *testing.T) {
	in := "2019-10-01T00:00:00.0466405Z {\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{\"channel\":\"book.BTC-PERPETUAL.raw\",\"data\":{}}}\n" +
		"2019-10-01T00:00:01.5Z {\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{\"channel\":\"trades.BTC-PERPETUAL.raw\",\"data\":[]}}\n" +
		"\n\n" +
		"garbage line\n" +
		"2019-10-01T00:00:02Z {\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{}}"
	r, err := Open(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if r.Format() != FormatTardis {
		t.Fatalf("format %s", r.Format())
	}
	got, err := readAll(r)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2019, 10, 1, 0, 0, 0, 46640500, time.UTC).UnixNano()
	if len(got) != 4 || got[0].Time != t0 || !got[2].Disconnect || got[2].Time != got[1].Time ||
		got[3].Time != time.Date(2019, 10, 1, 0, 0, 2, 0, time.UTC).UnixNano() {
		t.Fatalf("frames %+v", got)
	}
	if r.Stats().Skipped != 1 {
		t.Fatalf("stats %+v", r.Stats())
	}
}

func TestRecordUnknownFormat(t *testing.T) {
	for _, in := range []string{"", "   \n", "PK\x03\x04zip", "\x1f\x8b"} {
		_, err := Open(strings.NewReader(in))
		if err == nil {
			t.Fatalf("%q: no error", in)
		}
	}
}

func TestRecordRedact(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"jsonrpc":"2.0","id":1,"method":"public/auth","params":{"grant_type":"client_credentials","client_id":"abc","client_secret":"s3cr3t"}}`,
			`{"jsonrpc":"2.0","id":1,"method":"public/auth","params":{"grant_type":"client_credentials","client_id":"abc","client_secret":"[redacted]"}}`},
		{`{"params":{"signature" : "f00\"d","nonce":"n","timestamp":1}}`, `{"params":{"signature" : "[redacted]","nonce":"n","timestamp":1}}`},
		{`{"result":{"access_token":"AT","expires_in":900,"refresh_token":"RT","token_type":"bearer"}}`,
			`{"result":{"access_token":"[redacted]","expires_in":900,"refresh_token":"[redacted]","token_type":"bearer"}}`},
		{`{"params":{"access_token":null,"text":"say \"access_token\":\"x\""}}`, `{"params":{"access_token":null,"text":"say \"access_token\":\"x\""}}`},
		{`{"channel":"book.BTC-PERPETUAL.raw"}`, `{"channel":"book.BTC-PERPETUAL.raw"}`},
	}
	for _, c := range cases {
		got, changed := Redact(nil, []byte(c.in))
		if string(got) != c.want || changed != (c.in != c.want) {
			t.Errorf("Redact(%s) = %s, %v; want %s", c.in, got, changed, c.want)
		}
	}
}

// Secrets never reach the file, in either direction.
func TestRecordWriterRedacts(t *testing.T) {
	fs := []Frame{
		{Time: 1, Dir: Out, Data: []byte(`{"jsonrpc":"2.0","id":1,"method":"public/auth","params":{"grant_type":"client_signature","client_id":"id","timestamp":1,"signature":"SIGSECRET","nonce":"x","data":""}}`)},
		{Time: 2, Dir: In, Data: []byte(`{"jsonrpc":"2.0","id":1,"result":{"access_token":"TOKSECRET","refresh_token":"REFSECRET","expires_in":900}}`)},
		{Time: 3, Dir: Out, Data: []byte(`{"jsonrpc":"2.0","id":2,"method":"private/buy","params":{"access_token":"TOKSECRET","instrument_name":"BTC-PERPETUAL"}}`)},
		{Time: 4, Dir: Out, Data: []byte(`{"jsonrpc":"2.0","id":3,"method":"public/auth","params":{"grant_type":"client_credentials","client_id":"id","client_secret":"CLISECRET"}}`)},
	}
	var raw bytes.Buffer
	w, _ := NewWriter(&raw, Header{})
	for _, f := range fs {
		w.Write(f)
	}
	w.Close()
	r, err := Open(bytes.NewReader(raw.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(r)
	if err != nil || len(got) != len(fs) {
		t.Fatal(err, len(got))
	}
	var all []byte
	for _, f := range got {
		all = append(all, f.Data...)
	}
	for _, s := range []string{"SIGSECRET", "TOKSECRET", "REFSECRET", "CLISECRET"} {
		if bytes.Contains(all, []byte(s)) {
			t.Fatalf("%s reached the file: %s", s, all)
		}
	}
	if !bytes.Contains(all, []byte(`"instrument_name":"BTC-PERPETUAL"`)) {
		t.Fatalf("too much redacted: %s", all)
	}
}

// blockingWriter blocks every Write until release is closed.
type blockingWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered) })
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// A Recorder whose file is stuck never blocks Tap: frames beyond its
// buffer are dropped and counted.
func TestRecorderNeverBlocks(t *testing.T) {
	var head bytes.Buffer
	bw := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	rec, err := NewRecorder(io.MultiWriter(&head), Header{}, RecorderConfig{Buffer: 4, BlockSize: 1, FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	rec.w.w = bw // from now on the file is stuck
	frame := []byte(`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"x","data":{}}}`)
	rec.Tap(false, 1, time.Unix(0, 1), frame) // the goroutine takes it and blocks in Write
	<-bw.entered
	for i := range 100 {
		rec.Tap(i%2 == 0, 1, time.Unix(0, int64(i)), frame)
	}
	if d := rec.Stats().Dropped; d != 96 {
		t.Fatalf("dropped %d, want 96 (100 taps, a buffer of 4)", d)
	}
	close(bw.release)
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if s := rec.Stats(); s.Written != 5 {
		t.Fatalf("written %d, want 5", s.Written)
	}
	rec.Tap(false, 1, time.Unix(0, 1), frame) // after Close: dropped, no panic
	r, err := Open(io.MultiReader(bytes.NewReader(head.Bytes()), bytes.NewReader(bw.buf.Bytes())))
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(r)
	if err != nil || len(got) != 5 {
		t.Fatalf("%d frames, %v", len(got), err)
	}
}

func TestRecorderWritesEverything(t *testing.T) {
	var buf bytes.Buffer
	rec, err := NewRecorder(&buf, Header{Source: "t"}, RecorderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	fs := sampleFrames(500)
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(fs); i += 2 {
				rec.Add(fs[i])
			}
		}()
	}
	wg.Wait()
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	r, _ := Open(&buf)
	got, err := readAll(r)
	if err != nil || len(got) != len(fs) || rec.Stats().Dropped != 0 {
		t.Fatalf("%d frames, %v, %+v", len(got), err, rec.Stats())
	}
}
