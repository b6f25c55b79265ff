package record

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"testing"
)

// FuzzOpen feeds arbitrary bytes to the readers: they return frames or
// errors (ErrFormat, ErrTruncated, ErrCorrupt, …), never panic, and a
// returned native frame's fields are consistent.
func FuzzOpen(f *testing.F) {
	f.Add(writeNative(f, sampleFrames(20), 512))
	f.Add([]byte(`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"a","data":{"timestamp":1}}}` + "\n{\"ts\":1,\"frame\":{}}\n"))
	f.Add([]byte("2019-10-01T00:00:00.0466405Z {\"jsonrpc\":\"2.0\"}\n\n2019-10-01T00:00:01Z {}\n"))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("{\"a\":1}\n"))
	zw.Close()
	f.Add(gz.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Open(bytes.NewReader(data))
		if err != nil {
			return
		}
		for i := 0; i < 1<<16; i++ {
			fr, err := r.Next()
			if err != nil {
				if err != io.EOF && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrCorrupt) && r.Format() == FormatNative {
					t.Fatalf("native reader: unexpected error %v", err)
				}
				return
			}
			if fr.Dir > Out {
				t.Fatalf("direction %d", fr.Dir)
			}
		}
	})
}
