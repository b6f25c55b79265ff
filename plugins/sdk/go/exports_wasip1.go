//go:build wasip1

package strategy

import (
	"unsafe"

	"github.com/stratbox/stratbox/abi"
)

// The plugin side of the ABI: the exports the host calls, the host
// functions it imports, and the static buffers. Everything else is in
// portable files, tested natively.

var (
	// uint64 elements make the arrays 8-aligned, as the descriptor requires.
	inbox      [InboxSize / 8]uint64
	outbox     [OutboxSize / 8]uint64
	descriptor [abi.SizeDescriptor / 8]uint64
	runner     *Runner
)

func addr[T any](p *T) uint32 { return uint32(uintptr(unsafe.Pointer(p))) }

func bytesOf[T any](p *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), unsafe.Sizeof(*p))
}

// stratboxABIv1_0 is the version marker: () -> (), never called.
//
//go:wasmexport stratbox_abi_v1_0
func stratboxABIv1_0() {}

// stratboxBuffers returns the address of the 32-byte descriptor.
//
//go:wasmexport stratbox_buffers
func stratboxBuffers() uint32 {
	d := abi.Descriptor{Version: markerVersion, Features: pluginFeatures(),
		InboxPtr: addr(&inbox), InboxCap: InboxSize, OutboxPtr: addr(&outbox), OutboxCap: OutboxSize}
	abi.AppendDescriptor(bytesOf(&descriptor)[:0], &d)
	return addr(&descriptor)
}

//go:wasmexport stratbox_init
func stratboxInit(n int32) int32 {
	var res int32
	runner, res = pluginInit(wasmHost{}, bytesOf(&inbox), bytesOf(&outbox), n)
	return res
}

//go:wasmexport stratbox_on_events
func stratboxOnEvents(n int32) int32 {
	if runner == nil {
		return int32(abi.PluginFailed)
	}
	return runner.OnEvents(n)
}

//go:wasmexport stratbox_on_stop
func stratboxOnStop() int32 {
	if runner == nil {
		return 0
	}
	return runner.OnStop()
}

// wasmHost calls the host functions of module "stratbox".
type wasmHost struct{}

//go:wasmimport stratbox log
func hostLog(level int32, ptr unsafe.Pointer, n int32) int32

//go:wasmimport stratbox now
func hostNow() int64

//go:wasmimport stratbox set_timer
func hostSetTimer(id int32, afterNs int64) int32

//go:wasmimport stratbox cancel_timer
func hostCancelTimer(id int32) int32

func (wasmHost) Log(level abi.LogLevel, msg []byte) abi.Status {
	return abi.Status(hostLog(int32(level), unsafe.Pointer(unsafe.SliceData(msg)), int32(len(msg))))
}

func (wasmHost) Now() int64 { return hostNow() }

func (wasmHost) SetTimer(id uint32, afterNs int64) abi.Status {
	return abi.Status(hostSetTimer(int32(id), afterNs))
}

func (wasmHost) CancelTimer(id uint32) abi.Status { return abi.Status(hostCancelTimer(int32(id))) }
