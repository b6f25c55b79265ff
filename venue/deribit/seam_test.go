package deribit

import (
	"fmt"
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// privateMethod finds the private methods a string literal names.
var privateMethod = regexp.MustCompile(`private/[a-z_]*`)

// TestOrderMethodsOnlyInVenue walks the module's Go files outside venue/
// and sim/ (the exchange's side) and fails, naming file and line, on any
// string literal that spells a Deribit order method (the ones Op knows),
// or a bare "private/" that a method name could be glued to: the engine,
// the pool and the cluster build their calls here (RATIONALE.md "Why are
// Deribit's method names only in venue/deribit?"). Test files are left
// out: their fake exchanges answer the methods by name.
func TestOrderMethodsOnlyInVenue(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found from %s: %v", root, err)
	}
	found, files, err := orderMethodsOutsideVenue(root)
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("walked only %d files under %s", files, root)
	}
	for _, f := range found {
		t.Errorf("%s spells a Deribit order method: build the call in venue/deribit", f)
	}
}

// orderMethodsOutsideVenue scans the non-test Go files under root, except
// venue/, sim/, testdata and hidden directories, and returns each literal
// that spells an order method as "path:line: literal" (path relative to
// root), and how many files it read.
func orderMethodsOutsideVenue(root string) (found []string, files int, err error) {
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			switch {
			case rel == "venue", rel == "sim", d.Name() == "testdata", rel != "." && strings.HasPrefix(d.Name(), "."):
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		files++
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, l := range orderLiterals(src) {
			found = append(found, fmt.Sprintf("%s:%d: %s", rel, l.line, l.lit))
		}
		return nil
	})
	return found, files, err
}

type literal struct {
	line int
	lit  string
}

// orderLiterals returns the string literals of a Go source that name an
// order method, with their lines.
func orderLiterals(src []byte) []literal {
	fset := token.NewFileSet()
	var s scanner.Scanner
	s.Init(fset.AddFile("", -1, len(src)), src, nil, 0)
	var out []literal
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			return out
		}
		if tok != token.STRING {
			continue
		}
		v, err := strconv.Unquote(lit)
		if err != nil {
			continue
		}
		line := fset.Position(pos).Line
		if strings.TrimPrefix(v, "/api/v2/") == "private/" {
			out = append(out, literal{line, lit})
			continue
		}
		for _, m := range privateMethod.FindAllString(v, -1) {
			if ops[m] != OpNone {
				out = append(out, literal{line, lit})
				break
			}
		}
	}
}

// TestOrderMethodsGuardFails plants order methods in a module of its own
// and checks that the guard names each one by file and line, and leaves
// alone what it must: venue/ and sim/, tests, comments, and methods that
// are not about orders.
func TestOrderMethodsGuardFails(t *testing.T) {
	root := t.TempDir()
	write := func(rel, src string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module x\n")
	write("host/bad.go", "package host\n\nvar a = \"private/buy\"\nvar b = `{\"method\":\"private/get_order_state\"}`\n"+
		"var c = \"private/\" + d\nvar e = \"/api/v2/private/cancel_all\"\n// \"private/sell\" in a comment is prose\n"+
		"var f = \"private/get_positions\"\n")
	write("pool/good.go", "package pool\n\nvar a = \"public/auth\"\nvar b = \"private/enable_cancel_on_disconnect\"\n"+
		"var c = \"buy\"\nvar d = \"private/subscribe\"\n")
	write("pool/fake_test.go", "package pool\n\nvar a = \"private/buy\"\n")
	write("venue/deribit/m.go", "package deribit\n\nconst m = \"private/buy\"\n")
	write("sim/m.go", "package sim\n\nconst m = \"private/sell\"\n")
	write("cmd/x/testdata/m.go", "package m\n\nconst m = \"private/edit\"\n")
	found, files, err := orderMethodsOutsideVenue(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"host/bad.go:3: \"private/buy\"",
		"host/bad.go:4: `{\"method\":\"private/get_order_state\"}`",
		"host/bad.go:5: \"private/\"",
		"host/bad.go:6: \"/api/v2/private/cancel_all\"",
		"host/bad.go:8: \"private/get_positions\"",
	}
	if !slices.Equal(found, want) {
		t.Errorf("found\n%s\nwant\n%s", strings.Join(found, "\n"), strings.Join(want, "\n"))
	}
	if files != 2 {
		t.Errorf("read %d files, want 2 (host/bad.go, pool/good.go)", files)
	}
}
