package conformance_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host"
)

// vectors is the part of testdata/abi/vectors.json this suite uses.
type vectors struct {
	Records []struct {
		Name, Kind, Hex string
	}
	Batches []struct {
		Name, Hex string
		Records   []struct {
			Kind  string
			Known bool
		}
		Error *struct{ Error string }
	}
	Invalid []struct {
		Name, Hex, Error string
		DecodeAs         string `json:"decode_as"`
	}
	Markers []struct {
		Export  string
		Version *string
	}
}

func loadVectors(t *testing.T) *vectors {
	t.Helper()
	b, err := os.ReadFile("../../testdata/abi/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every example exports exactly one version marker, one that the marker
// vectors read as this host's version, and loads.
func TestVersionExport(t *testing.T) {
	v := loadVectors(t)
	versions := map[string]string{}
	for _, m := range v.Markers {
		if m.Version != nil {
			versions[m.Export] = *m.Version
		}
	}
	for _, ex := range examples(t) {
		t.Run(ex.name, func(t *testing.T) {
			p := load(t, ex.name, ex.wasm, host.IsolateNone)
			var markers []string
			for name := range p.Exports() {
				if strings.HasPrefix(name, "stratbox_abi_") {
					markers = append(markers, name)
				}
			}
			if len(markers) != 1 || versions[markers[0]] != abi.Current.String() || p.Version() != abi.Current {
				t.Errorf("%s (%s): markers %v (vectors: %q), version %v; want one marker of %v",
					ex.name, ex.lang, markers, versions[markersOr(markers)], p.Version(), abi.Current)
			}
		})
	}
}

func markersOr(m []string) string {
	if len(m) == 0 {
		return ""
	}
	return m[0]
}

// Every example takes each event batch of the vectors (unknown kinds,
// records longer than this version's, ...) without a fault, and answers
// each batch that cannot be framed with plugin error -2 (bad input).
func TestVectorBatches(t *testing.T) {
	v := loadVectors(t)
	for _, ex := range examples(t) {
		t.Run(ex.name, func(t *testing.T) {
			p := load(t, ex.name, ex.wasm, host.IsolateNone)
			n := 0
			for _, b := range v.Batches {
				events := b.Hex != ""
				for _, r := range b.Records {
					if k, ok := abi.KindByName(r.Kind); r.Known && (!ok || k.Class() != abi.ClassEvent) {
						events = false // a start-up blob: not a batch the host sends
					}
				}
				if !events {
					continue
				}
				n++
				sb := host.NewInProcess(p)
				now := scenarioStart
				if _, err := sb.Start(context.Background(), startup(t, ex.name), now); err != nil {
					t.Fatalf("start: %v", err)
				}
				_, err := sb.Deliver(context.Background(), unhex(t, b.Hex), now)
				f := faultOf(err)
				switch {
				case b.Error == nil && err != nil:
					t.Errorf("%s: %v", b.Name, err)
				case b.Error != nil && (f == nil || f.Kind != host.FaultError || f.Code != int64(abi.PluginBadInput)):
					t.Errorf("%s (%s): %v; want plugin error %d (bad input)", b.Name, b.Error.Error, err, abi.PluginBadInput)
				}
				_ = sb.Close()
			}
			if n < 6 {
				t.Errorf("only %d batch vectors applied", n)
			}
		})
	}
}

// The AssemblyScript and Rust SDKs decode every event and start-up record
// vector to exactly the vector's fields: a probe plugin per SDK
// (testdata/probe-as, testdata/probe-rs) decodes each with the SDK and logs
// its JSON, which abi turns back into the vector's bytes. Records that
// cannot be decoded make it fail with -2. (Intent vectors: the SDKs write
// intents, which the scenario checks.)
func TestVectorsSDKDecoders(t *testing.T) {
	for _, probe := range []string{"probe-as", "probe-rs"} {
		t.Run(probe, func(t *testing.T) { testProbe(t, probe) })
	}
}

func testProbe(t *testing.T, probe string) {
	v := loadVectors(t)
	logs := &logLines{}
	p := load(t, probe, fixture(t, probe), host.IsolateNone, host.WithLogger(slogOf(logs)))
	run := func(blob []byte) ([]string, error) {
		sb := host.NewInProcess(p)
		defer sb.Close()
		logs.take()
		_, err := sb.Start(context.Background(), blob, time.Unix(0, 0))
		return logs.take(), err
	}
	n := 0
	for _, vec := range v.Records {
		k, ok := abi.KindByName(vec.Kind)
		if !ok || k.Class() == abi.ClassIntent {
			continue
		}
		n++
		want := unhex(t, vec.Hex)
		lines, err := run(want)
		if err != nil || len(lines) != 1 {
			t.Errorf("%s: %v, lines %q", vec.Name, err, lines)
			continue
		}
		js := strings.TrimPrefix(lines[0], "info ")
		got, err := abi.AppendRecordFromJSON(nil, []byte(js))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: the SDK decoded\n%s\n(%v) which encodes to\n%x\nwant\n%x", vec.Name, js, err, got, want)
		}
	}
	if n < 12 {
		t.Errorf("only %d record vectors checked", n)
	}
	// Records longer than their kind (a newer minor version) decode to the known fields.
	for _, b := range v.Batches {
		if b.Error != nil || b.Hex == "" {
			continue
		}
		lines, err := run(unhex(t, b.Hex))
		known := 0
		for _, r := range b.Records {
			if r.Known {
				known++
			}
		}
		if err != nil || len(lines) != known {
			t.Errorf("batch %s: %v, %d lines for %d known records", b.Name, err, len(lines), known)
		}
	}
	// Invalid records of a kind the SDK decodes fail with bad input.
	for _, vec := range v.Invalid {
		if k, ok := abi.KindByName(vec.DecodeAs); vec.Error == "wrong_kind" || !ok || k.Class() == abi.ClassIntent {
			continue // the probe decodes a record as its own kind, and no intent
		}
		_, err := run(unhex(t, vec.Hex))
		if f := faultOf(err); f == nil || f.Kind != host.FaultError || f.Code != int64(abi.PluginBadInput) {
			t.Errorf("invalid %s (%s as %s): %v; want plugin error -2", vec.Name, vec.Error, vec.DecodeAs, err)
		}
	}
}
