// Command doclinks checks the links of every Markdown file of the
// repository, so that the documentation travels with it: a relative link
// must name a file or directory that exists inside the repository, and a
// "#anchor" into a Markdown file must name one of its headings (GitHub's
// anchors) or an explicit <a name> or id. A link to an absolute local path,
// to any scheme but http, https and mailto, or out of the repository (such
// as the developers' notes beside it, notesRel, which a user who clones the
// repository does not have) is an error, and so is any mention of notesRel
// or notesAbs in the text. Source and build files (Go, TOML, shell,
// Makefile, AssemblyScript, Rust, WAT, YAML) are searched for such mentions
// too, in comments and strings alike; this tool spells the paths in pieces
// so that it mentions them nowhere itself.
//
// Code blocks and code spans are not parsed: a path written as code is
// text, not a link. `go run ./internal/tools/doclinks [root]` prints every
// problem and exits 1 if there is one; its test runs the same check in
// `make test`.
package main

import (
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

func main() {
	root := "."
	if len(os.Args) > 1 {
		root = os.Args[1]
	}
	problems, err := Check(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "doclinks:", err)
		os.Exit(2)
	}
	for _, p := range problems {
		fmt.Println(p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
}

// Problem is one bad link: the file (relative to the root, slash-separated),
// its line, the link's target as written and what is wrong with it.
type Problem struct {
	File   string
	Line   int
	Target string
	Why    string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Target, p.Why)
}

// outputs are the root's directories of build and benchmark outputs.
var outputs = map[string]bool{"bin": true, "bench": true}

// sources are the names' endings of the files, other than Markdown, that
// must not mention the developers' notes.
var sources = []string{".go", ".toml", ".sh", ".ts", ".rs", ".wat", ".yml", ".yaml", "Makefile"}

// self is this tool's directory, relative to the root: the one place that
// names the developers' notes, to refuse them.
const self = "internal/tools/doclinks"

// Check checks every *.md file under root (hidden directories, node_modules
// and the root's bin and bench excepted), searches the source and build
// files for mentions of the developers' notes, and returns the problems,
// sorted by file and line.
func Check(root string) ([]Problem, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	var files, others []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" ||
			outputs[d.Name()] && filepath.Dir(path) == root) {
			return filepath.SkipDir
		}
		if d.IsDir() {
			if rel, _ := filepath.Rel(root, path); filepath.ToSlash(rel) == self {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), ".md") {
			files = append(files, path)
			return nil
		}
		for _, end := range sources {
			if strings.HasSuffix(d.Name(), end) {
				others = append(others, path)
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c := &checker{root: root, anchors: map[string]map[string]bool{}}
	var out []Problem
	for _, f := range files {
		ps, err := c.file(f)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	for _, f := range others {
		ps, err := c.mentions(f)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out, nil
}

type checker struct {
	root    string
	anchors map[string]map[string]bool // Markdown file → its anchors
}

// The developers' notes: the folder beside the repository and its absolute
// path on the developers' machines, in pieces (see the package doc).
var (
	notesRel = ".." + "/sh" + "ared"
	notesAbs = "/work" + "/sh" + "ared"
)

var (
	// inlineLink is the "](target)" of an inline link or image, with an
	// optional <…> around the target and an optional title.
	inlineLink = regexp.MustCompile(`\]\(\s*(<[^>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)`)
	// refDef is a link reference definition: [label]: target.
	refDef = regexp.MustCompile(`(?m)^ {0,3}\[[^\]\n]+\]:\s*(<[^>\n]*>|\S+)`)
	// htmlRef is an href or src attribute of inline HTML.
	htmlRef = regexp.MustCompile(`(?i)<(?:a|img|source)\b[^>]*?\s(?:href|src)\s*=\s*["']([^"']*)["']`)
	// outside are mentions of the developers' notes, link or not.
	outside = regexp.MustCompile(`(?:^|[^\w./-])(` + regexp.QuoteMeta(notesRel+"/") + `|` + regexp.QuoteMeta(notesAbs) + `\b)`)
)

func (c *checker) file(path string) ([]Problem, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rel, _ := filepath.Rel(c.root, path)
	rel = filepath.ToSlash(rel)
	raw := string(b)
	text := stripCode(raw)
	var out []Problem
	add := func(off int, target, why string) {
		out = append(out, Problem{File: rel, Line: 1 + strings.Count(raw[:off], "\n"), Target: target, Why: why})
	}
	for _, m := range outside.FindAllStringSubmatchIndex(raw, -1) {
		add(m[2], raw[m[2]:m[3]], "points to the developers' notes, outside the repository")
	}
	for _, re := range []*regexp.Regexp{inlineLink, refDef, htmlRef} {
		for _, m := range re.FindAllStringSubmatchIndex(text, -1) {
			target := strings.TrimSuffix(strings.TrimPrefix(text[m[2]:m[3]], "<"), ">")
			if why := c.link(path, target); why != "" {
				add(m[2], target, why)
			}
		}
	}
	return out, nil
}

// mentions returns the mentions of the developers' notes in a file that is
// not Markdown.
func (c *checker) mentions(path string) ([]Problem, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rel, _ := filepath.Rel(c.root, path)
	raw := string(b)
	var out []Problem
	for _, m := range outside.FindAllStringSubmatchIndex(raw, -1) {
		out = append(out, Problem{File: filepath.ToSlash(rel), Line: 1 + strings.Count(raw[:m[2]], "\n"),
			Target: raw[m[2]:m[3]], Why: "points to the developers' notes, outside the repository"})
	}
	return out, nil
}

// scheme is a URL scheme at the start of a target.
var scheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

// link checks one target of the Markdown file at path; "" means it is good.
func (c *checker) link(path, target string) string {
	switch {
	case target == "":
		return "empty link"
	case strings.HasPrefix(target, "http://"), strings.HasPrefix(target, "https://"), strings.HasPrefix(target, "mailto:"):
		return "" // a public web page (or an address)
	case scheme.MatchString(target):
		return "a link to " + scheme.FindString(target) + " leaves the repository (only http, https and mailto may)"
	case strings.HasPrefix(target, "/"), strings.HasPrefix(target, `\`), strings.HasPrefix(target, "~"):
		return "an absolute local path: use a path relative to this file"
	}
	file, anchor, _ := strings.Cut(target, "#")
	if i := strings.IndexByte(file, '?'); i >= 0 {
		file = file[:i]
	}
	if f, err := url.PathUnescape(file); err == nil {
		file = f
	}
	dest := path
	if file != "" {
		dest = filepath.Join(filepath.Dir(path), filepath.FromSlash(file))
		if r, err := filepath.Rel(c.root, dest); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			return "leaves the repository"
		}
		st, err := os.Stat(dest)
		if err != nil {
			return "no such file in the repository"
		}
		if st.IsDir() || anchor == "" {
			return ""
		}
	}
	if anchor == "" || !strings.HasSuffix(dest, ".md") {
		return ""
	}
	set, err := c.anchorsOf(dest)
	if err != nil {
		return err.Error()
	}
	if !set[strings.ToLower(anchor)] {
		return "no heading or anchor #" + anchor + " in " + filepath.Base(dest)
	}
	return ""
}

var (
	atxHeading = regexp.MustCompile(`(?m)^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$`)
	htmlAnchor = regexp.MustCompile(`(?i)<[a-z]+\b[^>]*?\s(?:name|id)\s*=\s*["']([^"']+)["']`)
	mdLink     = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
)

// anchorsOf returns the anchors of a Markdown file: GitHub's slug of every
// ATX heading (duplicates numbered -1, -2, …) and every explicit name or id.
func (c *checker) anchorsOf(path string) (map[string]bool, error) {
	if set, ok := c.anchors[path]; ok {
		return set, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	seen := map[string]int{} // slug → headings with it so far
	text := stripFences(string(b))
	for _, m := range atxHeading.FindAllStringSubmatch(text, -1) {
		s := Slug(m[1])
		if n := seen[s]; n > 0 {
			set[fmt.Sprintf("%s-%d", s, n)] = true
		} else {
			set[s] = true
		}
		seen[s]++
	}
	for _, m := range htmlAnchor.FindAllStringSubmatch(text, -1) {
		set[strings.ToLower(m[1])] = true
	}
	c.anchors[path] = set
	return set, nil
}

// Slug is GitHub's anchor for a heading: the heading's text as rendered
// (links become their text, code spans and emphasis lose their markers),
// lower case, with every character that is not a letter, a mark, a number,
// a connector (such as _), a space or a hyphen removed, and spaces turned
// into hyphens.
func Slug(heading string) string {
	h := mdLink.ReplaceAllString(heading, "$1")
	h = strings.NewReplacer("`", "", "*", "").Replace(h)
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsNumber(r) || unicode.Is(unicode.Pc, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// stripFences blanks fenced code blocks (``` or ~~~), keeping line breaks so
// that offsets still give line numbers.
func stripFences(s string) string {
	lines := strings.SplitAfter(s, "\n")
	fence := ""
	for i, l := range lines {
		t := strings.TrimLeft(l, " ")
		switch {
		case fence == "" && len(l)-len(t) <= 3 && (strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~")):
			fence = t[:3]
			lines[i] = blank(l)
		case fence != "":
			if strings.HasPrefix(t, fence) && strings.Trim(strings.TrimSpace(t), fence[:1]) == "" {
				fence = ""
			}
			lines[i] = blank(l)
		}
	}
	return strings.Join(lines, "")
}

// stripCode blanks fenced code blocks and code spans (a run of n backticks
// up to the next run of exactly n), keeping line breaks and offsets.
func stripCode(s string) string {
	b := []byte(stripFences(s))
	for i := 0; i < len(b); {
		if b[i] != '`' {
			i++
			continue
		}
		n := 0
		for i+n < len(b) && b[i+n] == '`' {
			n++
		}
		end := -1
		for j := i + n; j < len(b); {
			if b[j] != '`' {
				j++
				continue
			}
			k := 0
			for j+k < len(b) && b[j+k] == '`' {
				k++
			}
			if k == n {
				end = j + k
				break
			}
			j += k
		}
		if end < 0 {
			i += n
			continue
		}
		for j := i; j < end; j++ {
			if b[j] != '\n' {
				b[j] = ' '
			}
		}
		i = end
	}
	return string(b)
}

func blank(line string) string {
	if strings.HasSuffix(line, "\n") {
		return strings.Repeat(" ", len(line)-1) + "\n"
	}
	return strings.Repeat(" ", len(line))
}
