package record

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseTime: the hand-written reading of Tardis.dev's UTC times agrees
// with time.Parse wherever it answers, and refuses what time.Parse refuses.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2019-10-01T00:00:00.0466405Z", "2019-10-01T00:00:01.5Z", "2019-10-01T00:00:02Z",
		"2024-02-29T23:59:59.999999999Z", "2023-02-29T00:00:00Z", "1969-12-31T23:59:59.1Z", "2019-10-01T00:00:00+02:00",
		"2019-13-01T00:00:00Z", "2019-10-01T24:00:00Z", "2019-10-01T00:00:00.Z", "2019-10-01T00:00:00.1234567891Z",
		"0001-01-01T00:00:00Z", "9999-12-31T23:59:59.9Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ns, ok := parseUTC([]byte(s))
		want, err := time.Parse(time.RFC3339Nano, s)
		if ok {
			if err != nil {
				t.Fatalf("%q: parseUTC accepted what time.Parse refuses (%v)", s, err)
			}
			if want.UnixNano() != ns && want.Year() > 1677 && want.Year() < 2262 {
				t.Fatalf("%q: parseUTC %d, time.Parse %d", s, ns, want.UnixNano())
			}
		}
		got, ok2 := parseTime([]byte(s))
		if ok2 != (err == nil) || ok2 && got != want.UnixNano() && want.Year() > 1677 && want.Year() < 2262 {
			t.Fatalf("%q: parseTime %d %v, time.Parse %v %v", s, got, ok2, want, err)
		}
	})
}

// TestJSONLWrongTypesAreSkipped: a line whose known members have the wrong
// type, or that is not one JSON object, is skipped and counted, as
// encoding/json would have refused it; the lines around it are read.
func TestJSONLWrongTypesAreSkipped(t *testing.T) {
	good := `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"a","data":{"timestamp":5}}}`
	bad := []string{
		`{"ts":"x","frame":{}}`,
		`{"ts":1.5,"frame":{}}`,
		`{"frame":[1]}`,
		`{"frame":{},"dir":1}`,
		`{"frame":{},"conn":-1}`,
		`{"usOut":1.5}`,
		`{"params":[1]}`,
		`{"params":{"data":{"timestamp":1}} trailing`,
		`{"a":1}{"b":2}`,
		`{"a":1,}`,
		`{"a" 1}`,
		`{"a":"unterminated}`,
	}
	in := good + "\n" + strings.Join(bad, "\n") + "\n" + good + "\n"
	r, err := Open(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Time != 5e6 || got[1].Time != 5e6 {
		t.Fatalf("frames %+v", got)
	}
	if s := r.Stats(); s.Skipped != uint64(len(bad)) {
		t.Fatalf("skipped %d, want %d", s.Skipped, len(bad))
	}
}

// TestJSONLTimes: where a JSON Lines frame's time comes from.
func TestJSONLTimes(t *testing.T) {
	for _, tc := range []struct {
		line string
		want int64
	}{
		{`{"params":{"data":{"timestamp":7}}}`, 7e6},
		{`{"params":{"channel":"x","data":[{"a":[1,{"timestamp":9}],"timestamp":8},{"timestamp":1}]}}`, 8e6},
		{`{"params":{"data":{"timestamp":"7"}}}`, 0},
		{`{"usIn":1,"usOut":3,"params":{"data":{"timestamp":7}}}`, 3000},
		{`{"ts":11,"params":{"data":{"timestamp":7}}}`, 11},
		{`{"ts":12,"frame":{"usOut":99}}`, 12},
		{`{"frame":{"usOut":99}}`, 99000},
		{`{"frame":{"params":{"data":[{"timestamp":4}]}},"conn":2,"dir":"out"}`, 4e6},
	} {
		r, err := Open(strings.NewReader(`{"params":{"data":{"timestamp":1}}}` + "\n" + tc.line + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(r)
		if err != nil || len(got) != 2 {
			t.Fatalf("%s: %v %+v", tc.line, err, got)
		}
		want := tc.want
		if want == 0 {
			want = 1e6 // the time of the frame before
		}
		if got[1].Time != want {
			t.Errorf("%s: time %d, want %d", tc.line, got[1].Time, want)
		}
	}
}
