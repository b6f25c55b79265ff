// Package shm owns a shared-memory transport between two processes: one
// memfd, mapped by both, holding two single-producer single-consumer rings
// of variable-size records (the parent's requests one way, the child's
// replies the other), with a wake-up on a shared futex word after a short
// adaptive spin, so that a side with nothing to do sleeps in the kernel.
//
// The parent calls Create, hands the region to the child with Attach (an
// inherited descriptor, exec.Cmd.ExtraFiles) and talks through
// Region.Parent; the child calls OpenFD with the descriptor number Attach
// returned and talks through Region.Child. A call is Endpoint.Call: write
// the request, wake the peer, wait for a reply until a deadline.
//
// # The peer is hostile
//
// Each side keeps its own index of each ring and the ring's size in its own
// memory and reads from the shared memory only what the peer publishes: the
// peer's index and the records. A record is copied out before it is used; a
// peer index or record header that does not fit gives ErrCorrupt (and the
// endpoint stays broken), never a panic or an access outside the mapping.
// The memfd is sealed at its size, so the peer cannot shrink it under the
// other's mapping (which would end the other with SIGBUS).
//
// # Liveness
//
// The rings do not notice a peer that died: whoever does (the parent when the
// child exits or its pipe ends, the child when its stdin ends) calls
// Endpoint.Abort, which wakes a waiting call at once and fails it and every
// later one with the error given; a record the peer published before it went
// is still received first. A peer that stops answering without dying is left
// to the deadline.
//
// # Words
//
// Besides the rings a region holds NumWords 64-bit words for its users
// (Region.Word): a mark one side leaves for the other without a record, such
// as a clock reading (package sandbox uses none since its call budget reads
// the child's CPU clock from the parent).
//
// # Concurrency
//
// An Endpoint is used by one goroutine at a time (Send, Recv and Call are
// not safe concurrently with each other), except Abort, which is safe from
// any goroutine at any time, and Region.Close, which aborts a waiting call
// with ErrClosed and waits for it to return before it unmaps the memory.
//
// # Errors
//
// ErrNotSupported (outside Linux), ErrCorrupt (the peer broke the layout),
// ErrTooLarge (a record that cannot fit in a ring), ErrPeerGone (the default
// error of Abort), ErrClosed (after Region.Close), and
// os.ErrDeadlineExceeded (wrapped) when a deadline passes.
package shm
