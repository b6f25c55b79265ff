package abi

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Version is an ABI version, major.minor (README.md "Versions").
//
// A minor version only adds: record kinds, fields appended to the end of a
// fixed-size record, enum values, flag and feature bits, reason codes,
// optional exports and host imports. Anything else is a new major version.
// A host of version H runs a plugin of version P when P.Major == H.Major and
// P.Minor <= H.Minor.
type Version struct {
	Major uint16
	Minor uint16
}

// Current is the version this package implements.
var Current = Version{1, 0}

func (v Version) String() string {
	return strconv.Itoa(int(v.Major)) + "." + strconv.Itoa(int(v.Minor))
}

// Marker returns the name of the version marker export for v:
// "stratbox_abi_v1_0" for 1.0.
func (v Version) Marker() string {
	return fmt.Sprintf("%s%d_%d", MarkerPrefix, v.Major, v.Minor)
}

// Runs reports whether a host of version v runs a plugin of version p.
func (v Version) Runs(p Version) bool { return p.Major == v.Major && p.Minor <= v.Minor }

// MarshalJSON renders v as "1.0".
func (v Version) MarshalJSON() ([]byte, error) { return strconv.AppendQuote(nil, v.String()), nil }

// UnmarshalJSON reads "major.minor".
func (v *Version) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	p, err := ParseVersion(s)
	if err != nil {
		return err
	}
	*v = p
	return nil
}

// ParseVersion parses "major.minor".
func ParseVersion(s string) (Version, error) {
	a, b, ok := strings.Cut(s, ".")
	ma, err1 := strconv.ParseUint(a, 10, 16)
	mi, err2 := strconv.ParseUint(b, 10, 16)
	if !ok || err1 != nil || err2 != nil || (len(a) > 1 && a[0] == '0') || (len(b) > 1 && b[0] == '0') {
		return Version{}, fmt.Errorf("abi: version %q is not major.minor", s)
	}
	return Version{uint16(ma), uint16(mi)}, nil
}

// ParseMarker returns the version a marker export name carries, and false
// when name is not a marker ("stratbox_abi_v<major>_<minor>", decimal, no
// leading zeros).
func ParseMarker(name string) (Version, bool) {
	rest, ok := strings.CutPrefix(name, MarkerPrefix)
	if !ok {
		return Version{}, false
	}
	v, err := ParseVersion(strings.Replace(rest, "_", ".", 1))
	if err != nil || v.Marker() != name {
		return Version{}, false
	}
	return v, true
}

// VersionError is the host's refusal of a plugin's ABI version, before it
// instantiates the plugin.
type VersionError struct {
	Plugin  string    // the plugin's name or path
	Found   []Version // the versions its marker exports claim (none, or several)
	Host    Version   // the host's version
	Problem string    // what is wrong, in words
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("abi: plugin %q %s; this host implements stratbox ABI %v and runs plugins built for ABI %d.0 to %v",
		e.Plugin, e.Problem, e.Host, e.Host.Major, e.Host)
}

// PluginVersion finds the ABI version of plugin from the names of its
// exported functions (in wazero: CompiledModule.ExportedFunctions, which is
// available before instantiation) and checks that host runs it. The error is
// a *VersionError naming the plugin, the versions and what host supports.
func PluginVersion(plugin string, exports []string, host Version) (Version, error) {
	var found []Version
	for _, name := range exports {
		if v, ok := ParseMarker(name); ok {
			found = append(found, v)
		}
	}
	slices.SortFunc(found, func(a, b Version) int {
		if a.Major != b.Major {
			return int(a.Major) - int(b.Major)
		}
		return int(a.Minor) - int(b.Minor)
	})
	e := &VersionError{Plugin: plugin, Found: found, Host: host}
	switch {
	case len(found) == 0:
		e.Problem = "exports no " + MarkerPrefix + "<major>_<minor> function (is it a stratbox plugin?)"
		return Version{}, e
	case len(found) > 1:
		e.Problem = fmt.Sprintf("exports %d version markers (%v); it must export exactly one", len(found), found)
		return Version{}, e
	case !host.Runs(found[0]):
		e.Problem = fmt.Sprintf("is built for stratbox ABI %v", found[0])
		return Version{}, e
	}
	return found[0], nil
}
