package abi

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The tests in this file hold README.md, the specification, to the code:
// every layout table is checked field by field against the decoders (by
// changing the bytes of each field of a vector and watching which JSON field
// changes), and the kinds, reasons, enumerations, flags, statuses, exports
// and imports tables are compared with the Go tables.

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type layoutRow struct {
	off   int
	typ   string
	width int
	name  string
}

var (
	headingRe = regexp.MustCompile("(?m)^#### `(\\w+)` \\(0x([0-9A-F]{4})\\)(?: and `(\\w+)` \\(0x([0-9A-F]{4})\\))?")
	charRe    = regexp.MustCompile(`^char\[(\d+)\]$`)
)

func typeWidth(typ string) int {
	switch typ {
	case "u8":
		return 1
	case "u16":
		return 2
	case "u32", "i32":
		return 4
	case "u64", "i64", "fixed", "f64":
		return 8
	case "header":
		return HeaderSize
	}
	if m := charRe.FindStringSubmatch(typ); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

// tableAfter returns the rows of the first markdown table after position i.
func tableAfter(doc string, i int) []layoutRow {
	var rows []layoutRow
	inTable := false
	for _, line := range strings.Split(doc[i:], "\n") {
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		inTable = true
		cells := strings.Split(line, "|")
		if len(cells) < 5 {
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		off, err := strconv.Atoi(cells[1])
		w := typeWidth(cells[2])
		if err != nil || w == 0 {
			continue // the header row, the separator, or a variable tail
		}
		rows = append(rows, layoutRow{off, cells[2], w, strings.Trim(cells[3], "`")})
	}
	return rows
}

func TestReadmeLayouts(t *testing.T) {
	doc := readme(t)
	first := map[Kind]goVector{}
	for _, v := range vectorTable() {
		if _, ok := first[v.kind]; !ok {
			first[v.kind] = v
		}
	}
	documented := map[Kind]bool{}
	for _, m := range headingRe.FindAllStringSubmatchIndex(doc, -1) {
		name := doc[m[2]:m[3]]
		code, _ := strconv.ParseUint(doc[m[4]:m[5]], 16, 16)
		k := Kind(code)
		if k.String() != name {
			t.Errorf("README heading %s (0x%04x): the code's name is %v", name, code, k)
		}
		kinds := []Kind{k}
		if m[6] >= 0 {
			code2, _ := strconv.ParseUint(doc[m[8]:m[9]], 16, 16)
			kinds = append(kinds, Kind(code2))
		}
		rows := tableAfter(doc, m[1])
		for _, k := range kinds {
			documented[k] = true
			t.Run(k.String(), func(t *testing.T) { checkLayout(t, k, rows, first[k]) })
		}
	}
	for k := range kinds {
		if !documented[k] {
			t.Errorf("README has no layout for %v", k)
		}
	}
}

func checkLayout(t *testing.T, k Kind, rows []layoutRow, v goVector) {
	// The rows tile the fixed part exactly.
	end := 0
	for _, r := range rows {
		if r.off != end {
			t.Errorf("row %s at %d, previous row ends at %d", r.name, r.off, end)
		}
		if r.off%min(r.width, 8) != 0 {
			t.Errorf("row %s at %d is not aligned", r.name, r.off)
		}
		end = r.off + r.width
	}
	if end != k.MinSize() {
		t.Errorf("rows end at %d, the fixed part is %d bytes", end, k.MinSize())
	}
	rec := encodeGo(t, v)
	base := jsonFields(t, rec)
	for _, r := range rows {
		if r.typ == "header" || strings.HasPrefix(r.name, "n_") || strings.HasSuffix(r.name, "_len") {
			continue
		}
		mut := append([]byte{}, rec...)
		mut[r.off] ^= 1
		if strings.HasPrefix(r.typ, "char") && mut[r.off] < 0x20 {
			mut[r.off] = 'Z'
		}
		got := jsonFields(t, mut)
		key, _, _ := strings.Cut(r.name, ".")
		if r.name == "reserved" {
			key = ""
		}
		for f, val := range base {
			want := f == key || k == KindParam && key == "type" && f == "value" // a param's value renders by its type
			if changed := !bytes.Equal(got[f], val); changed != want {
				t.Errorf("changing bytes at %d (README: %s %s) changed JSON field %q: %v", r.off, r.typ, r.name, f, changed)
			}
		}
		if key != "" {
			if _, ok := base[key]; !ok {
				t.Errorf("README field %s is not a JSON field of %v", r.name, k)
			}
		}
	}
}

func jsonFields(t *testing.T, rec []byte) map[string]json.RawMessage {
	t.Helper()
	js, err := RecordJSON(rec)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestReadmeDescriptorAndHeader(t *testing.T) {
	doc := readme(t)
	for _, c := range []struct {
		anchor string
		size   int
		names  []string
	}{
		{"### The descriptor", SizeDescriptor, []string{"major", "minor", "features", "inbox_ptr", "inbox_cap", "outbox_ptr", "outbox_cap", "reserved"}},
		{"Each starts with an 8-byte header", HeaderSize, []string{"kind", "size", "seq"}},
	} {
		i := strings.Index(doc, c.anchor)
		if i < 0 {
			t.Fatalf("README lacks %q", c.anchor)
		}
		rows := tableAfter(doc, i)
		end := 0
		var names []string
		for _, r := range rows {
			if r.off != end {
				t.Errorf("%s: row %s at %d, want %d", c.anchor, r.name, r.off, end)
			}
			end += r.width
			names = append(names, r.name)
		}
		if end != c.size || strings.Join(names, ",") != strings.Join(c.names, ",") {
			t.Errorf("%s: rows %v end at %d", c.anchor, names, end)
		}
	}
	// The descriptor's field order matches AppendDescriptor.
	d := Descriptor{Version{1, 2}, 3, 4, 5, 6, 7}
	b := AppendDescriptor(nil, &d)
	for i, want := range []uint64{1, 2, 3, 4, 5, 6, 7} {
		offs := []int{0, 2, 4, 8, 12, 16, 20}
		if got := uint64(b[offs[i]]); got != want {
			t.Errorf("descriptor byte %d = %d, want %d", offs[i], got, want)
		}
	}
}

func TestReadmeTables(t *testing.T) {
	doc := readme(t)
	lines := strings.Split(doc, "\n")
	// Kinds table: | 0x0003 | [`ticker`](...) | event | 104 |
	kindRow := regexp.MustCompile("^\\| 0x([0-9A-F]{4}) \\| \\[`(\\w+)`\\]\\([^)]*\\) \\| [^|]+ \\| (\\d+)")
	seen := map[Kind]bool{}
	for _, l := range lines {
		if m := kindRow.FindStringSubmatch(l); m != nil {
			code, _ := strconv.ParseUint(m[1], 16, 16)
			size, _ := strconv.Atoi(m[3])
			k := Kind(code)
			seen[k] = true
			if k.String() != m[2] || k.MinSize() != size {
				t.Errorf("kinds table: 0x%s %s %d; code says %v %d", m[1], m[2], size, k, k.MinSize())
			}
		}
	}
	if len(seen) != len(kinds) {
		t.Errorf("kinds table has %d kinds, the code %d", len(seen), len(kinds))
	}
	// Reasons: | 103 | `bad_tick` | ... |
	reasonRow := regexp.MustCompile("^\\| (\\d+) \\| `(\\w+)` \\|")
	n := 0
	inReasons := false
	for _, l := range lines {
		if strings.HasPrefix(l, "### ") {
			inReasons = l == "### Reasons"
		}
		if m := reasonRow.FindStringSubmatch(l); m != nil && inReasons {
			code, _ := strconv.Atoi(m[1])
			n++
			if Reason(code).String() != m[2] {
				t.Errorf("reason %d is %s in README, %v in the code", code, m[2], Reason(code))
			}
		}
	}
	if n != len(reasonNames) {
		t.Errorf("README lists %d reasons, the code %d", n, len(reasonNames))
	}
	// Enumerations and flags: | side (`u8`) | 0 none ..., 1 `buy`, 2 `sell` |
	pair := regexp.MustCompile("(\\d+) `(\\w+)`")
	tables := map[string][]string{
		"side": sideNames, "order type": orderTypeNames, "time in force": tifNames, "order state": stateNames,
		"liquidity": liqNames, "instrument kind": instKindNames, "option type": optTypeNames,
		"parameter type": paramTypeNames, "order flags": orderFlagNames, "book flags": bookFlagNames,
		"ticker flags": tickFlagNames, "trade flags": tradeFlagNames, "position flags": posFlagNames,
		"pool flags": poolFlagNames, "instrument flags": instFlagNames, "features": featureNames,
	}
	found := map[string]bool{}
	for _, l := range lines {
		for label, names := range tables {
			if !strings.HasPrefix(l, "| "+label+" (`") {
				continue
			}
			found[label] = true
			got := map[int]string{}
			for _, m := range pair.FindAllStringSubmatch(l, -1) {
				i, _ := strconv.Atoi(m[1])
				got[i] = m[2]
			}
			for i, name := range names {
				if name != "" && got[i] != name {
					t.Errorf("%s %d: README %q, code %q", label, i, got[i], name)
				}
			}
			for i, name := range got {
				if i >= len(names) || names[i] != name {
					t.Errorf("%s %d: README %q is not in the code", label, i, name)
				}
			}
		}
	}
	for label := range tables {
		if !found[label] {
			t.Errorf("README has no row for %s", label)
		}
	}
	// Statuses: | -1 | `bad_argument` | ... |
	statusRow := regexp.MustCompile("^\\| (-?\\d+) \\| `(\\w+)` \\|")
	ns := 0
	inStatus := false
	for _, l := range lines {
		if strings.HasPrefix(l, "#") {
			inStatus = l == "### Status codes"
		}
		if m := statusRow.FindStringSubmatch(l); m != nil && inStatus {
			if c, _ := strconv.Atoi(m[1]); c <= 0 {
				ns++
				if Status(c).String() != m[2] {
					t.Errorf("status %d is %s in README, %v in the code", c, m[2], Status(c))
				}
			}
		}
	}
	if ns != 5 {
		t.Errorf("README lists %d statuses", ns)
	}
}

func TestReadmeFunctions(t *testing.T) {
	doc := readme(t)
	sigRe := regexp.MustCompile("^\\| `(\\w+)` \\| `\\(([^)]*)\\) -> \\(([^)]*)\\)` \\|")
	types := func(s string) []ValType {
		var out []ValType
		for _, f := range strings.Split(s, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			switch strings.Fields(f)[len(strings.Fields(f))-1] {
			case "i32":
				out = append(out, I32)
			case "i64":
				out = append(out, I64)
			default:
				// "level i32": the type is the last word, unless the name is
				switch strings.Fields(f)[0] {
				case "i32":
					out = append(out, I32)
				case "i64":
					out = append(out, I64)
				}
			}
		}
		return out
	}
	docSigs := map[string]Sig{}
	for _, l := range strings.Split(doc, "\n") {
		if m := sigRe.FindStringSubmatch(l); m != nil {
			docSigs[m[1]] = Sig{types(m[2]), types(m[3])}
		}
	}
	for _, f := range append(append([]Func{}, Exports...), Imports...) {
		got, ok := docSigs[f.Name]
		if !ok || !got.Equal(f.Sig) {
			t.Errorf("%s: README %v (%v), code %v", f.Name, got, ok, f.Sig)
		}
	}
	if got := docSigs[Current.Marker()]; !got.Equal(MarkerSig) {
		t.Errorf("marker: README %v", got)
	}
	for _, s := range []string{"| inbox capacity | ≥ 65536 bytes |", "| outbox capacity | ≥ 1024 bytes |",
		"| armed timers per instance | 256 |", "| log line | 4096 bytes", "| levels in one book record | 4092 |",
		"| record size | 8 to 65528 bytes"} {
		if !strings.Contains(doc, s) {
			t.Errorf("README lacks %q", s)
		}
	}
	if MinInbox != 65536 || MinOutbox != 1024 || MaxTimers != 256 || MaxLogLine != 4096 || MaxBookLevels != 4092 || MaxRecordSize != 65528 {
		t.Error("limits changed: update README section 16 and this test")
	}
}

// TestReadmeWAT keeps the README's WAT example and the fixture in
// testdata/abi in step (wat2wasm builds the .wasm from the .wat).
func TestReadmeWAT(t *testing.T) {
	wat, err := os.ReadFile("../testdata/abi/cancel_on_timer.wat")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(readme(t), "```wat\n"+string(wat)+"```") {
		t.Error("README's WAT example differs from testdata/abi/cancel_on_timer.wat")
	}
	wasm, err := os.ReadFile("../testdata/abi/cancel_on_timer.wasm")
	if err != nil {
		t.Fatal(err)
	}
	exports := wasmExports(t, wasm)
	if _, err := PluginVersion("cancel_on_timer.wasm", exports, Current); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{ExportMemory, ExportBuffers, ExportInit, ExportOnEvents} {
		if !strings.Contains(strings.Join(exports, ","), name) {
			t.Errorf("fixture lacks export %s", name)
		}
	}
}

// wasmExports lists the export names of a wasm binary (section 7).
func wasmExports(t *testing.T, b []byte) []string {
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		t.Fatal("not wasm")
	}
	uleb := func(p *int) int {
		v, s := 0, 0
		for {
			c := b[*p]
			*p++
			v |= int(c&0x7f) << s
			if c < 0x80 {
				return v
			}
			s += 7
		}
	}
	var out []string
	for p := 8; p < len(b); {
		id := b[p]
		p++
		n := uleb(&p)
		if id == 7 {
			q := p
			for range uleb(&q) {
				l := uleb(&q)
				out = append(out, string(b[q:q+l]))
				q += l + 1 // name, kind byte
				uleb(&q)   // index
			}
		}
		p += n
	}
	return out
}
