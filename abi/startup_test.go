package abi

import (
	"errors"
	"reflect"
	"testing"
)

func TestStartupRoundTrip(t *testing.T) {
	blob := startupBlob(t)
	var s Startup
	if err := DecodeStartup(blob, &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Instruments) != 3 || len(s.Params) != 2 || len(s.Positions) != 1 || s.Start.NInstruments != 3 ||
		s.Instruments[1].Name.String() != "BTC-27DEC24-70000-C" || s.Params[0].Key != "spread_bps" {
		t.Fatalf("%+v", s)
	}
	again, err := AppendStartup(nil, &s)
	if err != nil || !reflect.DeepEqual(again, blob) {
		t.Fatalf("re-encoded blob differs: %v", err)
	}
	// Unknown kinds are skipped; open orders come last.
	s.Orders = []OrderUpdate{{CID: 7, State: StateOpen}}
	blob, _ = AppendStartup(nil, &s)
	blob = append(blob, rawRecord(0x01EE, 8, 0)...)
	var s2 Startup
	if err := DecodeStartup(blob, &s2); err != nil || len(s2.Orders) != 1 || s2.Orders[0].CID != 7 {
		t.Fatalf("%v %+v", err, s2.Orders)
	}
}

func TestStartupErrors(t *testing.T) {
	var s Startup
	good := startupBlob(t)
	start := AppendStart(nil, &Start{NInstruments: 1})
	inst, _ := AppendInstrument(nil, &Instrument{Index: 0})
	inst5, _ := AppendInstrument(nil, &Instrument{Index: 5})
	param, _ := AppendParam(nil, &Param{Type: ParamInt, Key: "k"})
	pos := AppendPosition(nil, &Position{})
	cat := func(parts ...[]byte) (b []byte) {
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	startP := AppendStart(nil, &Start{NInstruments: 1, NParams: 1, NPositions: 1})
	tests := []struct {
		name string
		blob []byte
		want error
	}{
		{"empty", nil, ErrStartup},
		{"cut", good[:len(good)-8], ErrTruncated},
		{"not start first", cat(inst, start), ErrStartup},
		{"wrong index", cat(start, inst5), ErrStartup},
		{"counts", cat(start), ErrStartup},
		{"order of sections", cat(startP, inst, pos, param), ErrStartup},
		{"an event", cat(start, inst, AppendTimer(nil, &Timer{})), ErrStartup},
		{"bad record", cat(start, rawRecord(KindInstrument, 16, 0, make([]byte, 8)...)), ErrShortRecord},
		{"bad framing", cat(start, rawRecord(KindInstrument, 12, 0)), ErrBadSize},
		{"short start", rawRecord(KindStart, 16, 0, make([]byte, 8)...), ErrShortRecord},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := DecodeStartup(tt.blob, &s); !errors.Is(err, tt.want) {
				t.Fatalf("%v, want %v", err, tt.want)
			}
		})
	}
	var de *DecodeError
	if err := DecodeStartup(cat(start, rawRecord(KindInstrument, 16, 0, make([]byte, 8)...)), &s); !errors.As(err, &de) || de.Offset != SizeStart {
		t.Fatalf("offset: %v", err)
	}
	bad := Startup{Instruments: []Instrument{{TickSteps: make([]TickStep, 300)}}}
	if out, err := AppendStartup([]byte{9}, &bad); err == nil || len(out) != 1 {
		t.Fatal("bad instrument encoded")
	}
	bad = Startup{Params: []Param{{}}}
	if out, err := AppendStartup([]byte{9}, &bad); err == nil || len(out) != 1 {
		t.Fatal("bad param encoded")
	}
}
