package testplugins

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestRootHoldsTheModule(t *testing.T) {
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "plugins", "examples")); err != nil {
		t.Fatalf("root %s: %v", root, err)
	}
}

// A plugin is built once: the second call returns the same module, and a
// wasm module it is.
func TestBuildOnce(t *testing.T) {
	a := Example(t, "marketmaker")
	b := Example(t, "marketmaker")
	if !bytes.HasPrefix(a, []byte("\x00asm")) {
		t.Fatalf("not a wasm module: % x", a[:min(len(a), 8)])
	}
	if &a[0] != &b[0] {
		t.Fatal("built twice")
	}
}

// A directory that does not build fails with the go command's output.
func TestBuildFailureNamesTheDir(t *testing.T) {
	if goCommand() == "" {
		t.Skip(ErrNoGo)
	}
	_, err := build("plugins/examples/no-such-plugin")
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("go build plugins/examples/no-such-plugin")) {
		t.Fatalf("error %v, want one naming the directory", err)
	}
}
