package main

// `host ctl reload`: re-read the configuration file of a running `host
// run` and apply what can change live.

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/stratbox/stratbox/control"
	"github.com/stratbox/stratbox/host"
)

// errNoConfigFile: host run was started without --config.
var errNoConfigFile = errors.New("host run was started without --config: there is no configuration file to re-read")

// riskEngine is what a reload changes in the engine.
type riskEngine interface {
	SetRisk(host.RiskSet) error
}

// reloader re-reads the configuration of a running `host run` and applies
// the risk limits ([risk], [plugin.risk]) live; every other change is
// reported as taking a restart, compared with the configuration the host
// started with (a plugin's params reach it only in its start-up data).
type reloader struct {
	mu      sync.Mutex // one reload at a time
	reread  func() (fileConfig, error)
	eng     riskEngine
	started fileConfig        // what the host runs, but for the limits
	live    map[string]string // the limits in force, by key (liveFlat)
}

// newReloader returns nil when reread is (no configuration file).
func newReloader(started fileConfig, reread func() (fileConfig, error), eng riskEngine) *reloader {
	if reread == nil {
		return nil
	}
	return &reloader{reread: reread, eng: eng, started: started, live: liveFlat(started, pluginNames(started))}
}

// reload reads the file and the flags again (the whole file is validated
// as at start: any error refuses the reload, naming the key, and changes
// nothing), then applies the new limits to the engine, all at once.
func (r *reloader) reload() (control.Reload, error) {
	if r == nil {
		return control.Reload{}, fmt.Errorf("%w: %v", control.ErrBadRequest, errNoConfigFile)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	next, err := r.reread()
	if err != nil {
		return control.Reload{}, fmt.Errorf("%w: reload refused, nothing changed: %v", control.ErrBadRequest, err)
	}
	res := control.Reload{Restart: restartKeys(r.started, next)}
	// The plugins that run and are still in the file get its limits; one
	// the file no longer has keeps its own until the restart.
	var both []string
	for _, n := range pluginNames(next) {
		if slices.Contains(pluginNames(r.started), n) {
			both = append(both, n)
		}
	}
	set, err := riskSet(next, both)
	if err != nil {
		return control.Reload{}, fmt.Errorf("%w: reload refused, nothing changed: %v", control.ErrBadRequest, err)
	}
	live := liveFlat(next, both)
	for k, v := range r.live {
		if name, ok := pluginKey(k); ok && !slices.Contains(both, name) {
			live[k] = v
		}
	}
	res.Applied = changedKeys(r.live, live)
	if len(res.Applied) > 0 {
		if err := r.eng.SetRisk(set); err != nil {
			return control.Reload{}, fmt.Errorf("%w: reload refused, nothing changed: %v", control.ErrBadRequest, err)
		}
		r.live = live
	}
	return res, nil
}

// riskSet is c's limits: [risk], and the [risk] merged with the
// [plugin.risk] of each plugin of c named in running.
func riskSet(c fileConfig, running []string) (host.RiskSet, error) {
	def, err := c.Risk.limits("risk")
	if err != nil {
		return host.RiskSet{}, err
	}
	s := host.RiskSet{Default: def, Plugins: map[string]host.RiskLimits{}}
	for _, p := range c.Plugins {
		if !slices.Contains(running, p.name()) {
			continue
		}
		if s.Plugins[p.name()], err = c.Risk.merge(p.Risk).limits("plugin[" + p.name() + "].risk"); err != nil {
			return host.RiskSet{}, err
		}
	}
	return s, nil
}

func pluginNames(c fileConfig) []string {
	var out []string
	for _, p := range c.Plugins {
		out = append(out, p.name())
	}
	return out
}

// liveFlat is c's live settings by key: [risk] as risk.*, and each running
// plugin's [plugin.risk] as plugin[name].risk.*.
func liveFlat(c fileConfig, running []string) map[string]string {
	out := map[string]string{}
	flatten("risk", reflect.ValueOf(c.Risk), out)
	for _, p := range c.Plugins {
		if slices.Contains(running, p.name()) && p.Risk != nil {
			flatten("plugin["+p.name()+"].risk", reflect.ValueOf(*p.Risk), out)
		}
	}
	return out
}

// restartKeys are the keys whose settings differ between the configuration
// the host started with and c, but for the live ones: a plugin that
// appeared or went is one key, plugin[name].
func restartKeys(started, c fileConfig) []string {
	a, b := restartFlat(started), restartFlat(c)
	keys := changedKeys(a, b)
	was, now := pluginNames(started), pluginNames(c)
	var out []string
	for _, k := range keys {
		if name, ok := pluginKey(k); ok && slices.Contains(was, name) != slices.Contains(now, name) {
			if !slices.Contains(out, "plugin["+name+"]") {
				out = append(out, "plugin["+name+"]")
			}
			continue
		}
		out = append(out, k)
	}
	return out
}

// pluginKey is the plugin name of a key plugin[name]….
func pluginKey(k string) (string, bool) {
	rest, ok := strings.CutPrefix(k, "plugin[")
	if !ok {
		return "", false
	}
	name, _, ok := strings.Cut(rest, "]")
	return name, ok
}

// restartFlat is c's settings by key, but for the live ones; plugins are
// keyed by name (plugin[name].path), since their order does not matter.
func restartFlat(c fileConfig) map[string]string {
	c.Risk = riskConfig{}
	plugins := c.Plugins
	c.Plugins = nil
	out := map[string]string{}
	flatten("", reflect.ValueOf(c), out)
	for _, p := range plugins {
		p.Risk = nil
		flatten("plugin["+p.name()+"]", reflect.ValueOf(p), out)
		out["plugin["+p.name()+"]"] = "" // a plugin with every setting at its default is still there
	}
	return out
}

// changedKeys are the keys whose values differ between a and b, or that
// only one has, sorted.
func changedKeys(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

var textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()

// flatten adds v's settings to out by their TOML keys under prefix:
// structs by their fields' toml tags, maps by key, slices by index, and
// values (never shown: they are compared) as text.
func flatten(prefix string, v reflect.Value, out map[string]string) {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	if v.Type().Implements(textMarshaler) {
		b, _ := v.Interface().(encoding.TextMarshaler).MarshalText()
		out[prefix] = string(b)
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			flatten(prefix, v.Elem(), out)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			flatten(join(name), v.Field(i), out)
		}
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			out[prefix] = fmt.Sprint(v.Interface())
			return
		}
		for _, k := range v.MapKeys() {
			flatten(join(k.String()), v.MapIndex(k), out)
		}
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return
		}
		for i := range v.Len() {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), v.Index(i), out)
		}
		if v.Len() == 0 {
			out[prefix] = "[]"
		}
	case reflect.Invalid:
	default:
		out[prefix] = fmt.Sprint(v.Interface())
	}
}
