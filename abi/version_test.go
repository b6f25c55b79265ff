package abi

import (
	"errors"
	"strings"
	"testing"
)

func TestVersions(t *testing.T) {
	if Current.Marker() != "stratbox_abi_v1_0" || Current.String() != "1.0" {
		t.Fatal(Current.Marker())
	}
	h := Version{1, 2}
	for _, c := range []struct {
		p    Version
		runs bool
	}{{Version{1, 0}, true}, {Version{1, 2}, true}, {Version{1, 3}, false}, {Version{2, 0}, false}, {Version{0, 9}, false}} {
		if h.Runs(c.p) != c.runs {
			t.Errorf("1.2 runs %v: %v", c.p, !c.runs)
		}
	}
	for _, s := range []string{"1", "1.", ".1", "01.0", "1.00", "1.0.0", "a.b", "65536.0"} {
		if _, err := ParseVersion(s); err == nil {
			t.Errorf("ParseVersion(%q) accepted", s)
		}
	}
}

func TestPluginVersion(t *testing.T) {
	host := Version{1, 1}
	tests := []struct {
		name    string
		exports []string
		want    Version
		errHas  []string
	}{
		{"ok", []string{"memory", "stratbox_abi_v1_0", "stratbox_init"}, Version{1, 0}, nil},
		{"ok same minor", []string{"stratbox_abi_v1_1"}, Version{1, 1}, nil},
		{"none", []string{"memory", "_start", "stratbox_abi_v01_0"}, Version{},
			[]string{`"mm.wasm"`, "exports no stratbox_abi_v<major>_<minor>", "implements stratbox ABI 1.1", "1.0 to 1.1"}},
		{"newer minor", []string{"stratbox_abi_v1_4"}, Version{},
			[]string{`"mm.wasm"`, "built for stratbox ABI 1.4", "runs plugins built for ABI 1.0 to 1.1"}},
		{"other major", []string{"stratbox_abi_v2_0"}, Version{}, []string{"built for stratbox ABI 2.0"}},
		{"two markers", []string{"stratbox_abi_v1_1", "stratbox_abi_v1_0"}, Version{}, []string{"2 version markers ([1.0 1.1])"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := PluginVersion("mm.wasm", tt.exports, host)
			if v != tt.want {
				t.Errorf("version %v, want %v", v, tt.want)
			}
			if tt.errHas == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ve *VersionError
			if !errors.As(err, &ve) || ve.Plugin != "mm.wasm" || ve.Host != host {
				t.Fatalf("%v is not a *VersionError", err)
			}
			for _, s := range tt.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q lacks %q", err, s)
				}
			}
		})
	}
}

func TestCheckExports(t *testing.T) {
	good := map[string]Sig{
		"stratbox_abi_v1_0":  {},
		"stratbox_buffers":   {nil, []ValType{I32}},
		"stratbox_init":      {[]ValType{I32}, []ValType{I32}},
		"stratbox_on_events": {[]ValType{I32}, []ValType{I32}},
		"something_else":     {[]ValType{I64}, nil},
	}
	if err := CheckExports("p", good); err != nil {
		t.Fatal(err)
	}
	bad := map[string]Sig{
		"stratbox_abi_v1_0":  {nil, []ValType{I32}},
		"stratbox_init":      {[]ValType{I64}, []ValType{I32}},
		"stratbox_on_events": {[]ValType{I32}, []ValType{I32}},
		"stratbox_on_stop":   {},
	}
	err := CheckExports("p", bad)
	for _, s := range []string{"missing required export stratbox_buffers () -> (i32)",
		"stratbox_init has signature (i64) -> (i32), want (i32) -> (i32)",
		"stratbox_on_stop has signature () -> (), want () -> (i32)",
		"stratbox_abi_v1_0 has signature () -> (i32), want () -> ()"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("%v lacks %q", err, s)
		}
	}
	if err := CheckImport("p", "log", Sig{[]ValType{I32, I32, I32}, []ValType{I32}}); err != nil {
		t.Error(err)
	}
	if err := CheckImport("p", "now", Sig{nil, []ValType{I32}}); err == nil || !strings.Contains(err.Error(), "want () -> (i64)") {
		t.Error(err)
	}
	if err := CheckImport("p", "emit", Sig{}); err == nil || !strings.Contains(err.Error(), "does not provide") {
		t.Error(err)
	}
	if ValType(0x7c).String() != "f64" || ValType(1).String() != "0x01" {
		t.Error("ValType names")
	}
	for _, s := range []Status{StatusOK, StatusBadArgument, StatusOutOfBounds, StatusNotFound, StatusLimit, -99} {
		if s.String() == "" {
			t.Error(s)
		}
	}
}
