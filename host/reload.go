package host

// Live risk limits: what `host ctl reload` changes in a running engine.

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// RiskSet is every risk limit of an engine: Default (Config.Risk: the
// limits of plugins that have none of their own, and the bucket of
// AdmitRemote) and the plugins' own (PluginSpec.Risk), by plugin name.
type RiskSet struct {
	Default RiskLimits
	Plugins map[string]RiskLimits
}

// Risk returns the limits in force (a copy: changing it changes nothing).
func (e *Engine) Risk() RiskSet {
	s := e.riskSet()
	return RiskSet{Default: s.Default, Plugins: maps.Clone(s.Plugins)}
}

// riskSet is the limits in force: the last SetRisk's, else the config's
// (stored at the first use). A stored value is never modified: SetRisk
// stores a new one.
func (e *Engine) riskSet() *RiskSet {
	if s := e.risks.Load(); s != nil {
		return s
	}
	s := &RiskSet{Default: e.cfg.Risk, Plugins: map[string]RiskLimits{}}
	for _, p := range e.cfg.Plugins {
		if p.Risk != nil {
			s.Plugins[p.Name] = *p.Risk
		}
	}
	if e.risks.CompareAndSwap(nil, s) {
		return s
	}
	return e.risks.Load()
}

// riskFor is the limits in force of the plugin named name.
func (e *Engine) riskFor(name string) RiskLimits {
	s := e.riskSet()
	if l, ok := s.Plugins[name]; ok {
		return l
	}
	return s.Default
}

// SetRisk replaces the risk limits in force, all or nothing: s.Default
// replaces Config.Risk, and each plugin named in s.Plugins gets those
// limits as its own (the others keep theirs, or follow the new Default if
// they have none). Every limit is validated first, and an unknown plugin
// name is refused (ErrUnknownPlugin): then nothing changes. The new limits
// apply between two intents, never within one: from the next intent of
// every plugin on, and to the next order AdmitRemote checks. A plugin's
// intent-rate bucket keeps its tokens, capped at the new burst; the
// flood window keeps its count.
func (e *Engine) SetRisk(s RiskSet) error {
	if err := s.Default.Validate(); err != nil {
		return fmt.Errorf("Risk: %w", err)
	}
	for _, name := range slices.Sorted(maps.Keys(s.Plugins)) {
		if !slices.ContainsFunc(e.cfg.Plugins, func(p PluginSpec) bool { return p.Name == name }) {
			var names []string
			for _, p := range e.cfg.Plugins {
				names = append(names, p.Name)
			}
			slices.Sort(names)
			return fmt.Errorf("%w %q (plugins: %s)", ErrUnknownPlugin, name, strings.Join(names, ", "))
		}
		l := s.Plugins[name]
		if err := l.Validate(); err != nil {
			return fmt.Errorf("plugin %q: Risk: %w", name, err)
		}
	}
	e.mu.Lock() // every intent's checks run under it: none sees half of the change
	defer e.mu.Unlock()
	next := &RiskSet{Default: s.Default, Plugins: maps.Clone(e.riskSet().Plugins)}
	maps.Copy(next.Plugins, s.Plugins)
	e.risks.Store(next)
	for _, pl := range e.plugins {
		pl.risk.setLimits(e.riskFor(pl.name))
	}
	g := &e.remoteGate
	g.mu.Lock()
	if g.r != nil {
		g.r.setLimits(next.Default)
	}
	g.mu.Unlock()
	return nil
}

// setLimits replaces r's limits, keeping its bucket's tokens (at most the
// new burst) and its flood window.
func (r *risk) setLimits(l RiskLimits) {
	r.lim = l.withDefaults()
	r.tokens = min(r.tokens, float64(r.lim.IntentBurst))
}
