package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/control"
	"github.com/stratbox/stratbox/host"
	"github.com/stratbox/stratbox/host/sandbox"
)

// swapper carries out `host ctl swap` for a running host: it reads and
// loads the new module with its plugin's sandbox settings and hands it to
// the engine (host.Engine.Swap).
type swapper struct {
	eng   *host.Engine
	cfg   fileConfig
	cache *sandbox.Cache
	log   *slog.Logger

	mu     sync.Mutex               // one swap at a time
	loaded map[*sandbox.Plugin]bool // modules loaded by swaps and not closed (those of the start: trade closes them)
}

func newSwapper(eng *host.Engine, cfg fileConfig, cache *sandbox.Cache, log *slog.Logger) *swapper {
	return &swapper{eng: eng, cfg: cfg, cache: cache, log: log, loaded: map[*sandbox.Plugin]bool{}}
}

// swap replaces plugin name's module by file's. The errors name what is
// wrong: an unknown plugin, a file that cannot be read or is not a plugin
// module, a parameter, a module that fails at start (the old one keeps
// running), a plugin that is not running.
func (s *swapper) swap(ctx context.Context, name, file string, params map[string]string) (control.Swapped, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.cfg.Plugins, func(pc pluginConfig) bool { return pc.name() == name })
	if i < 0 {
		var names []string
		for _, pc := range s.cfg.Plugins {
			names = append(names, pc.name())
		}
		slices.Sort(names)
		return control.Swapped{}, fmt.Errorf("%w %q (plugins: %s)", control.ErrUnknownPlugin, name, strings.Join(names, ", "))
	}
	prm, err := swapParamValues(params)
	if err != nil {
		return control.Swapped{}, fmt.Errorf("%w: swap %s: %v", control.ErrBadRequest, name, err)
	}
	wasm, err := os.ReadFile(file)
	if err != nil {
		return control.Swapped{}, fmt.Errorf("%w: swap %s: the host cannot read the module: %v", control.ErrBadRequest, name, err)
	}
	p, err := loadModule(ctx, s.cfg, s.cfg.Plugins[i], s.cache, s.log, wasm)
	if err != nil {
		return control.Swapped{}, fmt.Errorf("%w: swap %s: %s is not a module this host runs (%s keeps running): %v",
			control.ErrBadRequest, name, file, name, err)
	}
	res, err := s.eng.Swap(ctx, name, p, prm)
	if err != nil {
		p.Close(context.Background())
		switch {
		case errors.Is(err, host.ErrUnknownPlugin):
			return control.Swapped{}, errors.Join(control.ErrUnknownPlugin, err)
		case errors.Is(err, host.ErrSwapState):
			return control.Swapped{}, errors.Join(control.ErrConflict, err)
		}
		return control.Swapped{}, err
	}
	s.loaded[p] = true
	if s.loaded[res.Old] { // a module an earlier swap loaded: nothing uses it now
		delete(s.loaded, res.Old)
		res.Old.Close(context.Background())
	}
	s.log.Info("control: plugin swapped", "plugin", name, "file", file, "adopted", res.Adopted)
	return control.Swapped{Adopted: res.Adopted, FirstCID: res.FirstCID}, nil
}

// close closes the modules the swaps loaded (after the engine's run).
func (s *swapper) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range s.loaded {
		p.Close(context.Background())
	}
	clear(s.loaded)
}

// swapParamValues types a swap's k=v parameters as the configuration file
// would: a value that is a TOML value (10, 2.5, true, "text", [1, 2]) has
// its type; any other is a string (BTC-PERPETUAL).
func swapParamValues(kv map[string]string) ([]abi.Param, error) {
	if len(kv) == 0 {
		return nil, nil
	}
	m := map[string]any{}
	for k, v := range kv {
		var doc map[string]any
		if _, err := toml.Decode("v = "+v, &doc); err == nil {
			m[k] = doc["v"]
		} else {
			m[k] = v
		}
	}
	out, err := params(m)
	if err != nil {
		return nil, fmt.Errorf("--param: %w", err)
	}
	return out, nil
}
