package host

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/stratbox/stratbox/abi"
)

// The errors of Pause and Resume.
var (
	// ErrUnknownPlugin: no plugin of the engine has the name.
	ErrUnknownPlugin = errors.New("host: unknown plugin")
	// ErrPauseState: the plugin is paused already (Pause), or is not
	// (Resume).
	ErrPauseState = errors.New("host: plugin pause state")
)

// Pause stops delivering events and timers to a plugin: its live
// instance waits, its inbox keeps filling as always (market events
// conflated, order events kept), and its orders stay on the exchange and
// keep being tracked — unless cancel is true, when every open order of
// the plugin is cancelled (reason plugin_stopped), also of a plugin paused
// already. Pause returns once the call under way, if any, has ended and
// its intents have been carried out: no later call starts until Resume. A
// paused plugin that faults restarts when it is resumed. It returns the
// number of orders it asked the exchange to cancel.
func (e *Engine) Pause(name string, cancel bool) (int, error) {
	pl, err := e.pluginNamed(name)
	if err != nil {
		return 0, err
	}
	if !pl.paused.CompareAndSwap(false, true) && !cancel {
		return 0, fmt.Errorf("%w: %s is paused already", ErrPauseState, name)
	}
	// The call under way (and its intents) ends first: after this, none
	// starts until Resume, so nothing it places outlives the cancel below.
	pl.callMu.Lock()
	pl.callMu.Unlock() // an empty critical section: a barrier
	if !cancel {
		return 0, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cancelOpen(pl, abi.ReasonPluginStopped, e.clk.Now()), nil
}

// Resume delivers events and timers to a paused plugin again: what its
// inbox gathered meanwhile comes first.
func (e *Engine) Resume(name string) error {
	pl, err := e.pluginNamed(name)
	if err != nil {
		return err
	}
	if !pl.paused.CompareAndSwap(true, false) {
		return fmt.Errorf("%w: %s is not paused", ErrPauseState, name)
	}
	select {
	case pl.resumed <- struct{}{}:
	default:
	}
	return nil
}

// pluginNamed finds a plugin by name; the error lists the names.
func (e *Engine) pluginNamed(name string) (*plugin, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var names []string
	for _, pl := range e.plugins {
		if pl.name == name {
			return pl, nil
		}
		names = append(names, pl.name)
	}
	slices.Sort(names)
	return nil, fmt.Errorf("%w %q (plugins: %s)", ErrUnknownPlugin, name, strings.Join(names, ", "))
}
