package strategy

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/stratbox/stratbox/abi"
)

// Params are the instance's parameters: the params table of its section in
// the host's TOML configuration, nested tables as dotted keys
// ("quote.spread_bps"). Each getter returns the parameter or, when it is
// absent, the default; a parameter of the wrong type records an error and
// returns the default. Read every parameter, then check Err, which also
// reports parameters that no getter read (a misspelt key):
//
//	size := params.Fixed("size", 10*abi.FixedScale)
//	window := params.Duration("window", 10*time.Second)
//	if err := params.Err(); err != nil {
//		return err
//	}
//
// Params are for Strategy.Init; they allocate.
type Params struct {
	list []abi.Param
	read []bool
	errs []error
}

func newParams(list []abi.Param) *Params {
	return &Params{list: list, read: make([]bool, len(list))}
}

// NewParams returns Params holding list (for tests).
func NewParams(list ...abi.Param) *Params { return newParams(list) }

func (p *Params) find(key string) *abi.Param {
	for i := range p.list {
		if p.list[i].Key == key {
			p.read[i] = true
			return &p.list[i]
		}
	}
	return nil
}

func (p *Params) wrong(q *abi.Param, want string) {
	p.errs = append(p.errs, fmt.Errorf("strategy: parameter %q is a %v, want %s", q.Key, q.Type, want))
}

// Has reports whether key is set (and marks it read).
func (p *Params) Has(key string) bool { return p.find(key) != nil }

// String returns a string parameter.
func (p *Params) String(key, def string) string {
	q := p.find(key)
	switch {
	case q == nil:
		return def
	case q.Type == abi.ParamString:
		return q.Text
	}
	p.wrong(q, "string")
	return def
}

// Int returns an integer parameter (a float with no fraction is accepted).
func (p *Params) Int(key string, def int64) int64 {
	q := p.find(key)
	switch {
	case q == nil:
		return def
	case q.Type == abi.ParamInt:
		return q.Int
	case q.Type == abi.ParamFloat && q.Float == math.Trunc(q.Float) && math.Abs(q.Float) < 1<<63:
		return int64(q.Float)
	}
	p.wrong(q, "int")
	return def
}

// Float returns a float parameter (an integer is accepted).
func (p *Params) Float(key string, def float64) float64 {
	q := p.find(key)
	switch {
	case q == nil:
		return def
	case q.Type == abi.ParamFloat:
		return q.Float
	case q.Type == abi.ParamInt:
		return float64(q.Int)
	}
	p.wrong(q, "float")
	return def
}

// Bool returns a boolean parameter.
func (p *Params) Bool(key string, def bool) bool {
	q := p.find(key)
	switch {
	case q == nil:
		return def
	case q.Type == abi.ParamBool:
		return q.Bool
	}
	p.wrong(q, "bool")
	return def
}

// Fixed returns a decimal parameter (a price, an amount, a rate) from an
// integer (10 is 10 units), a float (0.0005, exact to 8 decimals below about
// 9e7) or a string holding an exact decimal ("65000.5").
func (p *Params) Fixed(key string, def abi.Fixed) abi.Fixed {
	q := p.find(key)
	if q == nil {
		return def
	}
	var (
		x  abi.Fixed
		ok bool
	)
	switch q.Type {
	case abi.ParamInt:
		x, ok = abi.FixedFromInt(q.Int)
	case abi.ParamFloat:
		x, ok = abi.FixedFromFloat(q.Float)
	case abi.ParamString:
		var err error
		x, err = abi.ParseFixed(q.Text)
		ok = err == nil
	}
	if !ok {
		p.errs = append(p.errs, fmt.Errorf("strategy: parameter %q is not a decimal with at most 8 fractional digits", key))
		return def
	}
	return x
}

// Duration returns a duration parameter written as a string ("250ms",
// "30s").
func (p *Params) Duration(key string, def time.Duration) time.Duration {
	q := p.find(key)
	switch {
	case q == nil:
		return def
	case q.Type == abi.ParamString:
		d, err := time.ParseDuration(q.Text)
		if err == nil {
			return d
		}
		p.errs = append(p.errs, fmt.Errorf("strategy: parameter %q: %w", key, err))
		return def
	}
	p.wrong(q, `duration string ("30s")`)
	return def
}

// Fail records an error of the strategy's own about parameter key (a value
// out of range, say), for Err to return.
func (p *Params) Fail(key, problem string) {
	p.errs = append(p.errs, fmt.Errorf("strategy: parameter %q %s", key, problem))
}

// All returns every parameter, read or not.
func (p *Params) All() []abi.Param { return p.list }

// Err returns the errors recorded by the getters and by Fail, and one for
// each parameter that no getter has read, joined; nil when there are none.
func (p *Params) Err() error {
	errs := p.errs
	var unread []string
	for i, r := range p.read {
		if !r {
			unread = append(unread, fmt.Sprintf("%q", p.list[i].Key))
		}
	}
	if len(unread) > 0 {
		errs = append(errs[:len(errs):len(errs)],
			fmt.Errorf("strategy: unknown parameters %s", strings.Join(unread, ", ")))
	}
	return errors.Join(errs...)
}
