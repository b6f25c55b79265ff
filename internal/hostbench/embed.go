package hostbench

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"io"
	"sync"
)

//go:generate sh -c "GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 GOFLAGS= go build -buildmode=c-shared -trimpath -ldflags=-s -o wasm/quoter.wasm ../../plugins/bench/quoter/wasm && gzip -9 -n -f wasm/quoter.wasm && go version | cut -d' ' -f3 > wasm/quoter.go-version"

// NoopWasm is the no-op baseline plugin (wasm/noop.wat): it walks every
// record of a batch and returns no intent.
//
//go:embed wasm/noop.wasm
var NoopWasm []byte

// spinWasm spins forever in every stratbox_on_events call (wasm/spin.wat).
//
//go:embed wasm/spin.wasm
var spinWasm []byte

//go:embed wasm/quoter.wasm.gz
var quoterGz []byte

// quoterBuiltWith is the Go version quoter.wasm.gz was built with.
//
//go:embed wasm/quoter.go-version
var quoterBuiltWith string

// QuoterWasm is plugins/bench/quoter built to wasm with Go (one post-only
// bid 10 ticks below the best bid, amended on every ticker).
var QuoterWasm = sync.OnceValue(func() []byte {
	r, err := gzip.NewReader(bytes.NewReader(quoterGz))
	if err != nil {
		panic("hostbench: embedded quoter: " + err.Error())
	}
	b, err := io.ReadAll(r)
	if err != nil {
		panic("hostbench: embedded quoter: " + err.Error())
	}
	return b
})
