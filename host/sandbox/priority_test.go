package sandbox

import (
	"errors"
	"strings"
	"testing"
)

func TestParsePriority(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Priority
		str  string
	}{
		{"normal", Priority{Class: PriorityNormal}, "normal"},
		{"nice:0", Priority{Class: PriorityNormal}, "normal"},
		{"nice:10", Priority{Class: PriorityNormal, Nice: 10}, "nice:10"},
		{"nice:19", Priority{Class: PriorityNormal, Nice: 19}, "nice:19"},
		{"batch", Priority{Class: PriorityBatch}, "batch"},
		{"batch:5", Priority{Class: PriorityBatch, Nice: 5}, "batch:5"},
		{"idle", Priority{Class: PriorityIdle}, "idle"},
	} {
		got, err := ParsePriority(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParsePriority(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		if got.String() != tc.str {
			t.Errorf("%q reads back as %q, want %q", tc.in, got.String(), tc.str)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("%q: %v", tc.in, err)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", `want "normal", "nice:N"`},
		{"low", `priority "low"`},
		{"nice", "want nice:N"},
		{"nice:20", "want 0 to 19"},
		{"nice:-1", "want 0 to 19"},
		{"nice:x", `niceness "x"`},
		{"batch:99", "want 0 to 19"},
		{"idle:3", "idle takes no niceness"},
		{"normal:3", "normal takes no niceness"},
		{"Nice:10", `priority "Nice:10"`},
	} {
		_, err := ParsePriority(tc.in)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParsePriority(%q) = %v, want an ErrConfig saying %q", tc.in, err, tc.want)
		}
	}
	if (Priority{}).resolve() != DefaultPriority {
		t.Errorf("the zero priority resolves to %v, want the default %v", (Priority{}).resolve(), DefaultPriority)
	}
	for _, bad := range []Priority{{Class: PriorityIdle, Nice: 1}, {Class: PriorityBatch, Nice: 20}, {Class: 9}} {
		if err := bad.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: Validate = %v, want ErrConfig", bad, err)
		}
	}
}

// The priority reaches the child in its limits argument and back.
func TestLimitArgCarriesThePriority(t *testing.T) {
	l := ProcessLimits{Priority: Priority{Class: PriorityBatch, Nice: 7}}.resolve(65536)
	a := l.arg()
	if !strings.HasSuffix(a, ",batch:7") {
		t.Fatalf("limits argument %q lacks the priority", a)
	}
	if err := applyLimitArg([]string{"x", limitArgPrefix + "0,0,0,nice:99"}); err == nil || !strings.Contains(err.Error(), "nice:99") {
		t.Errorf("a bad priority in the limits argument: %v, want an error naming it", err)
	}
	if err := applyLimitArg([]string{limitArgPrefix + "0,0,0"}); err == nil {
		t.Error("a limits argument without a priority was accepted")
	}
}
