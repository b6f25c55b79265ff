package shm

import (
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"
)

// FuzzHostilePeer: whatever a peer writes in the shared memory (its index,
// the record bytes) and wherever the victim's own index stands, the
// victim's Recv and Send return a record, an error or nothing, never panic,
// and never move past what the peer published.
func FuzzHostilePeer(f *testing.F) {
	rec := func(n uint32, typ byte, tail ...byte) []byte {
		b := binary.LittleEndian.AppendUint32(nil, n)
		return append(append(b, typ, 0, 0, 0), tail...)
	}
	f.Add(uint32(0), uint64(16), uint64(0), rec(5, 'x', []byte("hello...")...))
	f.Add(uint32(500), uint64(500*8+24), uint64(0), append(rec(3, 'a', []byte("abc.....")...), rec(0, 'b')...))
	f.Add(uint32(510), uint64(510*8+4096), uint64(510*8), rec(4088, 'w'))
	f.Add(uint32(1), uint64(8), uint64(1<<40), rec(1<<31, 'z'))
	const size = MinRingSize
	f.Fuzz(func(t *testing.T, pos uint32, head, tail uint64, data []byte) {
		mem, victim, peer := memPair(size)
		start := uint64(pos%(size/8)) * 8 // the victim's own indexes
		victim.rx.pos, victim.tx.pos = start, start
		peer.tx.head.Store(head)
		peer.rx.tail.Store(tail)
		ringData := mem[headerSize+size : headerSize+2*size]
		for i, b := range data[:min(len(data), size)] {
			ringData[(start+uint64(i))%size] = b
		}
		var buf []byte
		for range 8 {
			before := victim.rx.pos
			typ, p, err := victim.Recv(buf, time.Time{})
			if err != nil {
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("Recv: unexpected error %v", err)
				}
				break
			}
			_ = typ
			if len(p) > victim.MaxRecord() {
				t.Fatalf("a record of %d bytes from a ring of %d", len(p), size)
			}
			if moved := victim.rx.pos - before; moved > head-before || moved < recordHeader {
				t.Fatalf("tail moved %d bytes from %d with the head at %d", moved, before, head)
			}
			buf = p
		}
		err := victim.Send('s', time.Time{}, data)
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) &&
			!errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Send: unexpected error %v", err)
		}
	})
}
