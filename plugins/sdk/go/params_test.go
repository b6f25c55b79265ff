package strategy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	strategy "github.com/stratbox/stratbox/plugins/sdk/go"
)

func TestParams(t *testing.T) {
	p := strategy.NewParams(
		abi.Param{Type: abi.ParamString, Key: "instrument", Text: "BTC-PERPETUAL"},
		abi.Param{Type: abi.ParamInt, Key: "size", Int: 10},
		abi.Param{Type: abi.ParamFloat, Key: "quote.spread_bps", Float: 2.5},
		abi.Param{Type: abi.ParamFloat, Key: "levels", Float: 3},
		abi.Param{Type: abi.ParamBool, Key: "post_only", Bool: true},
		abi.Param{Type: abi.ParamString, Key: "window", Text: "250ms"},
		abi.Param{Type: abi.ParamString, Key: "price", Text: "65000.5"},
	)
	if got := p.String("instrument", ""); got != "BTC-PERPETUAL" {
		t.Errorf("String = %q", got)
	}
	if got := p.Fixed("size", 0); got != F(10) {
		t.Errorf("Fixed(int) = %v", got)
	}
	if got := p.Fixed("quote.spread_bps", 0); got != F(2.5) {
		t.Errorf("Fixed(float) = %v", got)
	}
	if got := p.Fixed("price", 0); got != F(65000.5) {
		t.Errorf("Fixed(string) = %v", got)
	}
	if got := p.Int("levels", 0); got != 3 {
		t.Errorf("Int(float 3) = %v", got)
	}
	if got := p.Float("size", 0); got != 10 {
		t.Errorf("Float(int) = %v", got)
	}
	if !p.Bool("post_only", false) || p.Duration("window", 0) != 250*time.Millisecond {
		t.Error("Bool or Duration")
	}
	if p.Int("absent", 7) != 7 || p.Has("absent") {
		t.Error("a default")
	}
	if err := p.Err(); err != nil {
		t.Errorf("Err = %v", err)
	}

	p = strategy.NewParams(
		abi.Param{Type: abi.ParamString, Key: "size", Text: "ten"},
		abi.Param{Type: abi.ParamBool, Key: "levels", Bool: true},
		abi.Param{Type: abi.ParamInt, Key: "window", Int: 5},
		abi.Param{Type: abi.ParamFloat, Key: "sprad_bps", Float: 1},
	)
	if p.Fixed("size", F(1)) != F(1) || p.Int("levels", 2) != 2 || p.Duration("window", time.Second) != time.Second {
		t.Error("a wrong type did not give the default")
	}
	p.Fail("max_position", "must be at least size")
	err := p.Err()
	for _, want := range []string{`"size" is not a decimal`, `"levels" is a bool, want int`, `"window" is a int, want duration`,
		`"max_position" must be at least size`, `unknown parameters "sprad_bps"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Err = %v, want %s", err, want)
		}
	}
}
