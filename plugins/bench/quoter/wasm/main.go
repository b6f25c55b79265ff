// Command wasm is the quoter benchmark strategy (package quoter) as a
// plugin: build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o quoter.wasm ./plugins/bench/quoter/wasm
package main

import (
	"github.com/stratbox/stratbox/plugins/bench/quoter"
	strategy "github.com/stratbox/stratbox/plugins/sdk/go"
)

func init() { strategy.Register(quoter.New()) }

// main is never called: the plugin is a WASI reactor (see strategy.Register).
func main() {}
