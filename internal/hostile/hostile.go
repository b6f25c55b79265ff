// Package hostile holds the hostile-plugin suite's fixtures: hand-written
// WAT modules (each .wasm built from the .wat beside it by wat2wasm and
// committed; `make plugins` checks that they are in step) that load and
// start like any plugin and then misbehave in one way. Each .wat starts by
// saying what it does and what the host must do; host's TestHostileSuite
// tests every one, and `host bench` (group hostile) runs each beside a
// market maker. It is nobody's API: tests and benchmarks only.
package hostile

import (
	"embed"
	"path"
	"sort"
	"strings"
)

//go:embed *.wat *.wasm
var files embed.FS

// Wasm returns the module of fixture name (e.g. "timer_zero"), or nil.
func Wasm(name string) []byte {
	b, err := files.ReadFile(name + ".wasm")
	if err != nil {
		return nil
	}
	return b
}

// Source returns the WAT source of fixture name, or "".
func Source(name string) string {
	b, err := files.ReadFile(name + ".wat")
	if err != nil {
		return ""
	}
	return string(b)
}

// Names lists the fixtures, sorted.
func Names() []string {
	entries, _ := files.ReadDir(".")
	var names []string
	for _, e := range entries {
		if n := e.Name(); path.Ext(n) == ".wat" {
			names = append(names, strings.TrimSuffix(n, ".wat"))
		}
	}
	sort.Strings(names)
	return names
}
