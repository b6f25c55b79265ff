package sandbox

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/tetratelabs/wazero/api"

	"github.com/stratbox/stratbox/abi"
)

// env.abort: the one function of module "env" the host provides, so that an
// AssemblyScript plugin built with its default abort handler loads, and its
// abort (a failed assert, a thrown error, an out-of-range index in the
// standard library) becomes a fault that carries the message
// (abi/README.md §5, §15).

// FaultAbort: the plugin called env.abort (AssemblyScript's abort, assert,
// throw). The Fault's Err is an *AbortError.
const FaultAbort FaultKind = "abort"

// EnvModule and ImportAbort name the import: abort(message, file i32, line,
// column i32) -> (), where message and file point at AssemblyScript strings
// (UTF-16LE, their byte length in the u32 before them) or are 0.
const (
	EnvModule   = "env"
	ImportAbort = "abort"
)

// maxAbortBytes caps the bytes of UTF-16 read from each of abort's strings
// (so 512 characters), whatever length the plugin's memory claims.
const maxAbortBytes = 1024

var abortSig = abi.Sig{Params: []abi.ValType{abi.I32, abi.I32, abi.I32, abi.I32}}

// AbortError is what a plugin said when it called env.abort.
type AbortError struct {
	Message, File string // "" when the pointer was 0; a placeholder when unreadable
	Line, Column  uint32
}

func (e *AbortError) Error() string {
	msg := "abort: " + strconv.Quote(e.Message)
	if e.File != "" {
		msg += " at " + strconv.Quote(e.File) + ":" + strconv.FormatUint(uint64(e.Line), 10) + ":" +
			strconv.FormatUint(uint64(e.Column), 10)
	}
	return msg
}

// checkEnvImport checks a function the plugin imports from module "env":
// only abort, with its signature.
func checkEnvImport(plugin, name string, sig abi.Sig) error {
	if name != ImportAbort {
		return fmt.Errorf("%w: %s imports %s.%s: the host provides the modules %q and %q, and from %q only %s %v (AssemblyScript's abort)",
			ErrLoad, plugin, EnvModule, name, abi.ImportModule, wasiModule, EnvModule, EnvModule+"."+ImportAbort, abortSig)
	}
	if !sig.Equal(abortSig) {
		return fmt.Errorf("%w: %s imports %s.%s with signature %v; the host provides %v",
			ErrLoad, plugin, EnvModule, name, sig, abortSig)
	}
	return nil
}

// instantiateEnv provides module "env" (abort only) to the plugin's runtime.
func (p *Plugin) instantiateEnv(ctx context.Context) error {
	i32 := api.ValueTypeI32
	_, err := p.rt.NewHostModuleBuilder(EnvModule).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostAbort),
		[]api.ValueType{i32, i32, i32, i32}, nil).Export(ImportAbort).
		Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("sandbox: instantiate %s module: %w", EnvModule, err)
	}
	return nil
}

// hostAbort ends the call: the panic unwinds the plugin's stack, wazero
// returns it as the call's error, and classifyCause makes it a FaultAbort.
func hostAbort(_ context.Context, mod api.Module, stack []uint64) {
	mem := mod.Memory()
	panic(&AbortError{
		Message: readASString(mem, uint32(stack[0])),
		File:    readASString(mem, uint32(stack[1])),
		Line:    uint32(stack[2]),
		Column:  uint32(stack[3]),
	})
}

// readASString reads an AssemblyScript string: UTF-16LE at ptr, its byte
// length in the u32 at ptr-4. It never reads outside mem nor more than
// maxAbortBytes, and returns valid UTF-8.
func readASString(mem api.Memory, ptr uint32) string {
	if ptr == 0 || mem == nil {
		return ""
	}
	if ptr < 4 {
		return "<unreadable: pointer " + strconv.FormatUint(uint64(ptr), 10) + ">"
	}
	n, ok := mem.ReadUint32Le(ptr - 4)
	if !ok {
		return "<unreadable: pointer " + strconv.FormatUint(uint64(ptr), 10) + " outside memory>"
	}
	cut := n > maxAbortBytes
	if cut {
		n = maxAbortBytes
	}
	n &^= 1
	b, ok := mem.Read(ptr, n)
	if !ok {
		return "<unreadable: " + strconv.FormatUint(uint64(n), 10) + " bytes at " +
			strconv.FormatUint(uint64(ptr), 10) + " outside memory>"
	}
	units := make([]uint16, n/2)
	for i := range units {
		units[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	s := strings.ToValidUTF8(string(utf16.Decode(units)), "\uFFFD")
	if cut {
		s += "…"
	}
	return s
}
