package importgraph

import (
	"bufio"
	"go/build"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/stratbox/stratbox/"

// documented reads the text block under "### The import graph": one line
// per package (or several, comma-separated), an arrow, and the packages it
// imports ("nothing of the module", "every package below").
func documented(t *testing.T, doc string) map[string][]string {
	t.Helper()
	f, err := os.Open(doc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	graph := map[string][]string{}
	in, block := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "### The import graph"):
			in = true
		case in && strings.HasPrefix(line, "```"):
			if block {
				return graph
			}
			block = true
		case in && block:
			from, to, ok := strings.Cut(line, "→")
			if !ok {
				t.Fatalf("%s: %q is not `package → imports`", doc, line)
			}
			to, _, _ = strings.Cut(to, "(") // a remark
			var deps []string
			switch to = strings.TrimSpace(to); to {
			case "nothing of the module":
			case "every package below":
				deps = []string{"*"}
			default:
				for _, d := range strings.Split(to, ",") {
					deps = append(deps, strings.TrimSpace(d))
				}
			}
			for _, p := range strings.Split(from, ",") {
				graph[strings.TrimSpace(p)] = deps
			}
		}
	}
	t.Fatalf("%s has no import graph block", doc)
	return nil
}

// imports are a package's imports of the module, internal/ helpers left
// out (as the document leaves them out).
func imports(t *testing.T, root, pkg string) []string {
	t.Helper()
	p, err := build.ImportDir(filepath.Join(root, pkg), 0)
	if err != nil {
		t.Fatalf("%s: %v", pkg, err)
	}
	var out []string
	for _, imp := range p.Imports {
		rel, ok := strings.CutPrefix(imp, module)
		if ok && !strings.HasPrefix(rel, "internal/") {
			out = append(out, rel)
		}
	}
	sort.Strings(out)
	return out
}

// The document's graph is the code's: each line's package imports exactly
// the packages of the module the line names.
func TestArchitectureImportGraph(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	graph := documented(t, filepath.Join(root, "docs", "architecture.md"))
	if len(graph) < 10 {
		t.Fatalf("only %d packages in the graph", len(graph))
	}
	for pkg, want := range graph {
		if slices.Equal(want, []string{"*"}) {
			continue
		}
		got := imports(t, root, pkg)
		for _, g := range got {
			if !slices.Contains(want, g) {
				t.Errorf("%s imports %s; docs/architecture.md's graph does not say so (%s → %s)", pkg, g, pkg, strings.Join(want, ", "))
			}
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("docs/architecture.md says %s imports %s; it does not (it imports %s)", pkg, w, strings.Join(got, ", "))
			}
		}
	}
}
