package sandbox

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stratbox/stratbox/abi"
)

// A plugin that calls env.abort (AssemblyScript's abort) faults with kind
// abort and the message it passed, read within bounds whatever the
// pointers and lengths say; in this process and in a child process.
func TestAbortFault(t *testing.T) {
	for _, isolation := range []Isolation{IsolateNone, IsolateProcess} {
		for _, tc := range []struct {
			id    uint32
			want  string // the fault's message contains it
			check func(t *testing.T, a *AbortError)
		}{
			{1, `abort: "boom ✓" at "x.ts":12:5`, func(t *testing.T, a *AbortError) {
				if a == nil || a.Message != "boom ✓" || a.File != "x.ts" || a.Line != 12 || a.Column != 5 {
					t.Errorf("abort %+v", a)
				}
			}},
			{2, "outside memory", nil},
			{3, "…", func(t *testing.T, a *AbortError) {
				if a == nil || utf8.RuneCountInString(a.Message) != maxAbortBytes/2+1 || !strings.HasPrefix(a.Message, "AAAA") {
					t.Errorf("a 2 GiB message: %d runes, want %d", utf8.RuneCountInString(a.Message), maxAbortBytes/2+1)
				}
			}},
			{4, "<unreadable: pointer 2>", nil},
		} {
			t.Run(string(isolation)+"/"+string(rune('0'+tc.id)), func(t *testing.T) {
				wasm := procFixture(t, "abort")
				var sb Sandbox
				if isolation == IsolateProcess {
					sb = NewProcess(loadPlugin(t, wasm, WithChildProcess()), ProcessConfig{CacheDir: testCacheDir})
				} else {
					sb = NewInProcess(loadPlugin(t, wasm))
				}
				defer sb.Close()
				ctx, now := context.Background(), time.Now()
				su, err := abi.AppendStartup(nil, &abi.Startup{Start: abi.Start{HostVersion: abi.Current, FirstCID: 1}})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := sb.Start(ctx, su, now); err != nil {
					t.Fatal(err)
				}
				_, err = sb.Deliver(ctx, abi.AppendTimer(nil, &abi.Timer{ID: tc.id}), now)
				var f *Fault
				if !errors.As(err, &f) || f.Kind != FaultAbort || f.Call != abi.ExportOnEvents {
					t.Fatalf("error %v, want an abort fault in %s", err, abi.ExportOnEvents)
				}
				if !strings.Contains(f.Error(), tc.want) || strings.Contains(f.Error(), "wasm stack trace") {
					t.Errorf("fault %q, want %q without a stack trace", f.Error(), tc.want)
				}
				if sb.Fault() == nil || sb.Fault().Kind != FaultAbort {
					t.Errorf("Fault() = %v", sb.Fault())
				}
				if _, err := sb.Deliver(ctx, abi.AppendTimer(nil, &abi.Timer{ID: 9}), now); err == nil {
					t.Error("the instance lives on after an abort")
				}
				if tc.check != nil && isolation == IsolateNone {
					var a *AbortError
					errors.As(err, &a)
					tc.check(t, a)
				}
			})
		}
	}
}

// env.abort with another signature, and other env functions, are refused
// at load with an error that names them.
func TestAbortImportChecked(t *testing.T) {
	if err := checkEnvImport("p", ImportAbort, abortSig); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		sig  abi.Sig
		want string
	}{
		{ImportAbort, abi.Sig{Params: []abi.ValType{abi.I32}}, "env.abort with signature"},
		{"trace", abortSig, "env.trace"},
	} {
		err := checkEnvImport("p", tc.name, tc.sig)
		if !errors.Is(err, ErrLoad) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: %v, want ErrLoad naming %q", tc.name, tc.sig, err, tc.want)
		}
	}
}

func loadPlugin(t *testing.T, wasm []byte, opts ...Option) *Plugin {
	t.Helper()
	p, err := Load(context.Background(), "abort", wasm, PluginConfig{}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}
