package abi

import (
	"fmt"
	"slices"
	"strings"
)

// ValType is a WebAssembly value type, numbered as in the binary format
// (and as wazero's api.ValueType).
type ValType byte

// Value types used by the ABI. Pointers and lengths are i32 (wasm32).
const (
	I32 ValType = 0x7f
	I64 ValType = 0x7e
)

func (t ValType) String() string {
	switch t {
	case I32:
		return "i32"
	case I64:
		return "i64"
	case 0x7d:
		return "f32"
	case 0x7c:
		return "f64"
	}
	return fmt.Sprintf("0x%02x", byte(t))
}

// Sig is a function signature.
type Sig struct {
	Params  []ValType
	Results []ValType
}

func (s Sig) String() string {
	f := func(ts []ValType) string {
		p := make([]string, len(ts))
		for i, t := range ts {
			p[i] = t.String()
		}
		return "(" + strings.Join(p, ", ") + ")"
	}
	return f(s.Params) + " -> " + f(s.Results)
}

// Equal reports whether s and o are the same signature.
func (s Sig) Equal(o Sig) bool {
	return slices.Equal(s.Params, o.Params) && slices.Equal(s.Results, o.Results)
}

// Exports of a plugin (README.md "Exports").
const (
	// MarkerPrefix begins the version marker export, "stratbox_abi_v1_0"
	// for 1.0 (Version.Marker): () -> (), never called. The host reads it
	// from the module's export names before instantiating.
	MarkerPrefix = "stratbox_abi_v"
	// ExportMemory is the plugin's linear memory (required).
	ExportMemory = "memory"
	// ExportBuffers: () -> (i32). Returns the address of the plugin's
	// 32-byte Descriptor. Called once, after instantiation.
	ExportBuffers = "stratbox_buffers"
	// ExportInit: (n_bytes i32) -> (i32). The start-up blob is in the inbox;
	// returns the number of intent bytes in the outbox (>= 0) or a negative
	// PluginError. Called once, after stratbox_buffers.
	ExportInit = "stratbox_init"
	// ExportOnEvents: (n_bytes i32) -> (i32). A batch of events is in the
	// inbox; returns the number of intent bytes in the outbox (>= 0) or a
	// negative PluginError.
	ExportOnEvents = "stratbox_on_events"
	// ExportOnStop: () -> (i32), optional. Called once before an orderly
	// stop; returns intent bytes (>= 0) or a negative PluginError.
	ExportOnStop = "stratbox_on_stop"
	// ExportInitialize: () -> (), optional: a WASI reactor's initializer
	// (Go's -buildmode=c-shared). The host calls it right after
	// instantiation, before anything else.
	ExportInitialize = "_initialize"
)

// Imports the host provides to a plugin (README.md "Host functions").
const (
	// ImportModule is the module name of every host function.
	ImportModule = "stratbox"
	// ImportLog: (level i32, ptr i32, len i32) -> (status i32).
	ImportLog = "log"
	// ImportNow: () -> (ns i64). The host clock, ns since the Unix epoch.
	ImportNow = "now"
	// ImportSetTimer: (id i32, after_ns i64) -> (status i32).
	ImportSetTimer = "set_timer"
	// ImportCancelTimer: (id i32) -> (status i32).
	ImportCancelTimer = "cancel_timer"
	// WASIModule is WASI preview 1, which the host provides sandboxed (no
	// files, network, arguments or environment; clocks read the host clock;
	// stdout and stderr become capped log lines).
	WASIModule = "wasi_snapshot_preview1"
)

// Func names a function and gives its signature.
type Func struct {
	Name     string
	Sig      Sig
	Required bool
}

// Exports lists the function exports of a version 1 plugin other than the
// marker (whose signature is MarkerSig).
var Exports = []Func{
	{ExportBuffers, Sig{nil, []ValType{I32}}, true},
	{ExportInit, Sig{[]ValType{I32}, []ValType{I32}}, true},
	{ExportOnEvents, Sig{[]ValType{I32}, []ValType{I32}}, true},
	{ExportOnStop, Sig{nil, []ValType{I32}}, false},
	{ExportInitialize, Sig{}, false},
}

// MarkerSig is the version marker's signature: () -> ().
var MarkerSig = Sig{}

// Imports lists the host functions in module ImportModule. A plugin may
// import any of them; the host provides all of them.
var Imports = []Func{
	{ImportLog, Sig{[]ValType{I32, I32, I32}, []ValType{I32}}, false},
	{ImportNow, Sig{nil, []ValType{I64}}, false},
	{ImportSetTimer, Sig{[]ValType{I32, I64}, []ValType{I32}}, false},
	{ImportCancelTimer, Sig{[]ValType{I32}, []ValType{I32}}, false},
}

// CheckExports checks a plugin's exported functions (name → signature, as
// the compiled module lists them before instantiation) against Exports and
// MarkerSig, after PluginVersion has accepted its marker. The error names
// the plugin and every missing or mistyped export.
func CheckExports(plugin string, exports map[string]Sig) error {
	var probs []string
	for name, sig := range exports {
		if _, ok := ParseMarker(name); ok && !sig.Equal(MarkerSig) {
			probs = append(probs, fmt.Sprintf("%s has signature %v, want %v", name, sig, MarkerSig))
		}
	}
	for _, f := range Exports {
		sig, ok := exports[f.Name]
		switch {
		case !ok && f.Required:
			probs = append(probs, fmt.Sprintf("missing required export %s %v", f.Name, f.Sig))
		case ok && !sig.Equal(f.Sig):
			probs = append(probs, fmt.Sprintf("%s has signature %v, want %v", f.Name, sig, f.Sig))
		}
	}
	if len(probs) == 0 {
		return nil
	}
	slices.Sort(probs)
	return fmt.Errorf("abi: plugin %q: %s", plugin, strings.Join(probs, "; "))
}

// CheckImport checks one function a plugin imports from ImportModule. (The
// host checks imports from WASIModule against its WASI implementation; any
// other module is refused.)
func CheckImport(plugin, name string, sig Sig) error {
	for _, f := range Imports {
		if f.Name == name {
			if !sig.Equal(f.Sig) {
				return fmt.Errorf("abi: plugin %q imports %s.%s with signature %v, want %v",
					plugin, ImportModule, name, sig, f.Sig)
			}
			return nil
		}
	}
	return fmt.Errorf("abi: plugin %q imports %s.%s, which this host does not provide (it provides log, now, set_timer, cancel_timer)",
		plugin, ImportModule, name)
}

// Status is what a host function returns: 0 or a negative code.
type Status int32

// Statuses of host functions.
const (
	StatusOK          Status = 0
	StatusBadArgument Status = -1 // an argument is out of range (log level, timer id)
	StatusOutOfBounds Status = -2 // ptr/len reach outside the plugin's memory
	StatusNotFound    Status = -3 // cancel_timer: no such timer is set
	StatusLimit       Status = -4 // a limit was hit: too many timers, log lines rate-limited (dropped)
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusBadArgument:
		return "bad_argument"
	case StatusOutOfBounds:
		return "out_of_bounds"
	case StatusNotFound:
		return "not_found"
	case StatusLimit:
		return "limit"
	}
	return fmt.Sprintf("status(%d)", int32(s))
}

// PluginError is a negative result of stratbox_init, stratbox_on_events or
// stratbox_on_stop. The host logs it, discards the outbox and treats the
// call as a fault (README.md "Faults"). Codes below -3 are the plugin's own.
type PluginError int32

// Plugin errors with a defined meaning.
const (
	PluginFailed   PluginError = -1 // anything else
	PluginBadInput PluginError = -2 // the plugin could not read the inbox
	PluginBadConf  PluginError = -3 // stratbox_init: the parameters or instruments do not suit the plugin
)

// LogLevel is the level argument of log.
type LogLevel int32

// Log levels.
const (
	LogDebug LogLevel = 0
	LogInfo  LogLevel = 1
	LogWarn  LogLevel = 2
	LogError LogLevel = 3
)

// Limits (README.md "Limits").
const (
	// MinInbox is the smallest inbox the host accepts: every record fits.
	MinInbox = 65536
	// MinOutbox is the smallest outbox the host accepts.
	MinOutbox = 1024
	// MaxLogLine is the longest log message kept; longer ones are cut.
	MaxLogLine = 4096
	// MaxTimers is the most timers one instance may have set at once.
	MaxTimers = 256
)

// Descriptor is what stratbox_buffers points at: the plugin's buffers and
// version, read once (README.md "The descriptor"):
//
//	 0 u16 major
//	 2 u16 minor
//	 4 u32 features (the plugin's Features)
//	 8 u32 inbox_ptr
//	12 u32 inbox_cap
//	16 u32 outbox_ptr
//	20 u32 outbox_cap
//	24 u64 reserved (0)
type Descriptor struct {
	Version   Version
	Features  Features
	InboxPtr  uint32
	InboxCap  uint32
	OutboxPtr uint32
	OutboxCap uint32
}

// SizeDescriptor is the size of a Descriptor.
const SizeDescriptor = 32

// AppendDescriptor appends d's 32 bytes.
func AppendDescriptor(dst []byte, d *Descriptor) []byte {
	dst, r := grow(dst, SizeDescriptor)
	put16(r, 0, d.Version.Major)
	put16(r, 2, d.Version.Minor)
	put32(r, 4, uint32(d.Features))
	put32(r, 8, d.InboxPtr)
	put32(r, 12, d.InboxCap)
	put32(r, 16, d.OutboxPtr)
	put32(r, 20, d.OutboxCap)
	return dst
}

// DecodeDescriptor reads a descriptor from the first 32 bytes of b. It
// fails when b is short or the reserved bytes 24..31 are not zero.
func DecodeDescriptor(b []byte) (Descriptor, error) {
	if len(b) < SizeDescriptor {
		return Descriptor{}, fmt.Errorf("abi: descriptor needs %d bytes, have %d", SizeDescriptor, len(b))
	}
	if u64(b, 24) != 0 {
		return Descriptor{}, fmt.Errorf("abi: descriptor's reserved bytes 24..31 are not zero")
	}
	return Descriptor{
		Version:   Version{u16(b, 0), u16(b, 2)},
		Features:  Features(u32(b, 4)),
		InboxPtr:  u32(b, 8),
		InboxCap:  u32(b, 12),
		OutboxPtr: u32(b, 16),
		OutboxCap: u32(b, 20),
	}, nil
}

// Check validates d for a plugin whose marker said version marker, in a
// memory of memSize bytes: the versions agree, both buffers are at
// non-zero 8-aligned addresses, have capacities that are multiples of 8 and
// at least MinInbox/MinOutbox, lie inside memory and do not overlap.
func (d *Descriptor) Check(marker Version, memSize uint64) error {
	var probs []string
	if d.Version != marker {
		probs = append(probs, fmt.Sprintf("descriptor says ABI %v but the marker export says %v", d.Version, marker))
	}
	buf := func(name string, ptr, cap uint32, min uint32) {
		switch {
		case ptr%Align != 0 || cap%Align != 0:
			probs = append(probs, fmt.Sprintf("%s at %d with capacity %d is not 8-aligned", name, ptr, cap))
		case cap < min:
			probs = append(probs, fmt.Sprintf("%s capacity %d is below the minimum %d", name, cap, min))
		case ptr == 0:
			probs = append(probs, fmt.Sprintf("%s is at address 0", name))
		case uint64(ptr)+uint64(cap) > memSize:
			probs = append(probs, fmt.Sprintf("%s [%d, %d) is outside memory of %d bytes", name, ptr, uint64(ptr)+uint64(cap), memSize))
		}
	}
	buf("inbox", d.InboxPtr, d.InboxCap, MinInbox)
	buf("outbox", d.OutboxPtr, d.OutboxCap, MinOutbox)
	if uint64(d.InboxPtr) < uint64(d.OutboxPtr)+uint64(d.OutboxCap) &&
		uint64(d.OutboxPtr) < uint64(d.InboxPtr)+uint64(d.InboxCap) {
		probs = append(probs, "inbox and outbox overlap")
	}
	if len(probs) > 0 {
		return fmt.Errorf("abi: bad descriptor: %s", strings.Join(probs, "; "))
	}
	return nil
}
