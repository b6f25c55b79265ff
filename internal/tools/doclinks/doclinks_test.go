package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The repository's own documentation: every link of every *.md resolves
// inside the repository, and none points to the developers' notes.
func TestRepositoryLinks(t *testing.T) {
	root := moduleRoot(t)
	problems, err := Check(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	// The check reaches the documents it is for (a walk that skipped them
	// would pass vacuously).
	c := &checker{root: root, anchors: map[string]map[string]bool{}}
	for _, f := range []string{"README.md", "docs/architecture.md", "abi/README.md", "RATIONALE.md"} {
		set, err := c.anchorsOf(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if len(set) < 5 {
			t.Errorf("%s: only %d anchors found", f, len(set))
		}
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = up
	}
}

// Every kind of bad link is found, with its line, and nothing else: code
// blocks and code spans are text, multi-line links and titles parse, and
// duplicate headings get GitHub's -1 suffix.
func TestCheckFindsBadLinks(t *testing.T) {
	root := t.TempDir()
	write(t, root, "README.md", "# Top\n\n"+
		"Good: [a](docs/a.md), [dir](docs), [h](docs/a.md#the-heading), [dup](docs/a.md#second-1),\n"+
		"[web](https://example.com/x_(y)), [mail](mailto:x@example.com), [top](#top), [multi\n"+
		"line](docs/a.md#second) ![img](docs/a.md \"title\") [angle](<docs/a.md>) [esc](docs/a%2Emd).\n"+
		"`[code](nothere.md)` and ``[`code`](nothere.md)`` are text.\n"+
		"```sh\n[fenced](nothere.md)\n```\n"+
		"Bad: [missing](docs/missing.md)\n"+
		"[anchor](docs/a.md#nope)\n"+
		"[shared]({REL}/DESIGN.md)\n"+
		"[abs](/work/x.md)\n"+
		"[file](file:///etc/passwd)\n"+
		"[self](#nowhere)\n"+
		"[ref]: docs/gone.md\n"+
		"<a href=\"docs/none.html\">x</a>\n"+
		"See {ABS}/DESIGN.md.\n")
	write(t, root, "docs/a.md", "# A\n## The heading\n## Second\n## Second\n[up](../README.md#top) [bad](../README.md#bottom)\n")

	problems, err := Check(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range problems {
		got = append(got, p.String())
	}
	want := []string{
		"README.md:10: docs/missing.md: no such file in the repository",
		"README.md:11: docs/a.md#nope: no heading or anchor #nope in a.md",
		"README.md:12: {REL}/: points to the developers' notes, outside the repository",
		"README.md:12: {REL}/DESIGN.md: leaves the repository",
		"README.md:13: /work/x.md: an absolute local path: use a path relative to this file",
		"README.md:14: file:///etc/passwd: a link to file: leaves the repository (only http, https and mailto may)",
		"README.md:15: #nowhere: no heading or anchor #nowhere in README.md",
		"README.md:16: docs/gone.md: no such file in the repository",
		"README.md:17: docs/none.html: no such file in the repository",
		"README.md:18: {ABS}: points to the developers' notes, outside the repository",
		"docs/a.md:5: ../README.md#bottom: no heading or anchor #bottom in README.md",
	}
	want = notesIn(want...)
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Source and build files may not mention the developers' notes either, in
// a comment or a string; other kinds of files, the tool's own directory and
// node_modules are not searched, and a path that only ends like the notes'
// is not a mention.
func TestCheckSourcesMentions(t *testing.T) {
	root := t.TempDir()
	write(t, root, "README.md", "# Top\n")
	write(t, root, "conn/doc.go", "// Package conn.\n//\n// See {ABS}/DESIGN.md.\npackage conn\n")
	write(t, root, "Makefile", "all:\n\t@cat {REL}/STYLE.md\n")
	write(t, root, "host.example.toml", "# fine\n\n# ({REL}/deribit.md)\n")
	write(t, root, "plugins/x/build.sh", "cp x /tmp/y   # /home{ABS} is someone else's\n")
	write(t, root, "testdata/notes.txt", "{ABS}/DESIGN.md\n")
	write(t, root, "internal/tools/doclinks/doclinks.go", "// refuses {ABS}\n")
	write(t, root, "plugins/sdk/node_modules/m/i.ts", "import '{REL}/x'\n")
	problems, err := Check(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range problems {
		got = append(got, p.String())
	}
	want := []string{
		"Makefile:2: {REL}/: points to the developers' notes, outside the repository",
		"conn/doc.go:3: {ABS}: points to the developers' notes, outside the repository",
		"host.example.toml:3: {REL}/: points to the developers' notes, outside the repository",
	}
	want = notesIn(want...)
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A link that climbs out of the root is refused even when its target
// exists.
func TestCheckLeavesRoot(t *testing.T) {
	outer := t.TempDir()
	write(t, outer, "shared/DESIGN.md", "# Design\n")
	write(t, outer, "repo/README.md", "[design]({REL}/DESIGN.md) [notes]({REL})\n")
	problems, err := Check(filepath.Join(outer, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	leaves := 0
	for _, p := range problems {
		if p.Why == "leaves the repository" {
			leaves++
		}
	}
	if leaves != 2 {
		t.Errorf("want both links refused as leaving the repository: %v", problems)
	}
}

func TestSlug(t *testing.T) {
	for _, c := range []struct{ heading, want string }{
		{"Why NATS?", "why-nats"},
		{"`timer` (0x0009) — 32 bytes", "timer-0x0009--32-bytes"},
		{"`book_snapshot` (0x0001) and `book_change` (0x0002) — 48 + 16 × levels bytes", "book_snapshot-0x0001-and-book_change-0x0002--48--16--levels-bytes"},
		{"Why does `--fill sim` turn the recorded book into orders of the simulator's matching engine?", "why-does---fill-sim-turn-the-recorded-book-into-orders-of-the-simulators-matching-engine"},
		{"Replay (`cmd/host`, `record`)", "replay-cmdhost-record"},
		{"See [the spec](abi/README.md) **now**", "see-the-spec-now"},
		{"Größe ≥ 2", "größe--2"},
	} {
		if got := Slug(c.heading); got != c.want {
			t.Errorf("Slug(%q) = %q, want %q", c.heading, got, c.want)
		}
	}
}

func write(t *testing.T, root, name, text string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(notesIn(text)[0]), 0o644); err != nil {
		t.Fatal(err)
	}
}

// notesIn writes the developers' notes' paths into the test's texts, where
// {REL} and {ABS} stand for them (so that this file does not itself
// mention them).
func notesIn(texts ...string) []string {
	r := strings.NewReplacer("{REL}", notesRel, "{ABS}", notesAbs)
	out := make([]string, len(texts))
	for i, s := range texts {
		out[i] = r.Replace(s)
	}
	return out
}
