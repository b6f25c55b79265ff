package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"testing"
	"time"
)

func best(f func(b *testing.B)) (nsPerBatch float64, allocs int64) {
	nsPerBatch = 1e18
	for i := 0; i < 3; i++ {
		r := testing.Benchmark(f)
		if v := float64(r.T.Nanoseconds()) / float64(r.N); v < nsPerBatch {
			nsPerBatch, allocs = v, r.AllocsPerOp()
		}
	}
	return
}

func report(name string, n int, f func(b *testing.B)) {
	ns, allocs := best(f)
	fmt.Printf("BENCH %-34s batch=%-3d %9.0f ns/batch %7.1f ns/event  allocs/op=%d\n", name, n, ns, ns/float64(n), allocs)
}

func runBench(args []string) {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	only := fs.String("only", "", "substring filter")
	fs.Parse(args)
	ctx := context.Background()
	batch := makeBatch(batchN)
	want := -1
	check := func(name string, k int) {
		if want < 0 {
			want = k
		} else if k != want {
			panic(fmt.Sprintf("%s: got %d intents, want %d", name, k, want))
		}
	}
	run := func(name string) bool { return *only == "" || contains(name, *only) }

	off := newPlugin(ctx, false)
	on := newPlugin(ctx, true)
	for _, n := range []int{1, batchN} {
		n := n
		if run("inproc-off") {
			report("inproc option off", n, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					off.dispatch(ctx, batch, n)
				}
			})
		}
		if run("inproc-on") {
			report("inproc option on, ctx=Background", n, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					on.dispatch(ctx, batch, n)
				}
			})
			sctx, cancel := context.WithCancel(ctx)
			report("inproc option on, shared cancel ctx", n, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					on.dispatch(sctx, batch, n)
				}
			})
			cancel()
			report("inproc option on, WithTimeout(50ms)", n, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
					if _, err := on.dispatch(c, batch, n); err != nil {
						panic(err)
					}
					cancel()
				}
			})
		}
		if run("fuel") {
			report("inproc option off + fuel counter", n, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if _, err := off.dispatchFuel(ctx, batch, n, 1_000_000); err != nil {
						panic(err)
					}
				}
			})
		}
	}
	k, _ := off.dispatch(ctx, batch, batchN)
	check("off", k)
	k, _ = on.dispatch(ctx, batch, batchN)
	check("on", k)
	k, _ = off.dispatchFuel(ctx, batch, batchN, 1e6)
	check("fuel", k)

	if run("child") {
		c := spawnChild()
		frame := make([]byte, 8+batchN*eventSize)
		binary.LittleEndian.PutUint32(frame[0:], cmdBatch)
		binary.LittleEndian.PutUint32(frame[4:], batchN)
		copy(frame[8:], batch)
		check("sock", c.dispatchSock(frame))
		report("child proc, unix socket", batchN, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				c.dispatchSock(frame)
			}
		})
		c.enterShm()
		check("shm", c.dispatchShm(batch, batchN))
		report("child proc, shm ring spin/yield", batchN, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				c.dispatchShm(batch, batchN)
			}
		})
		c.exitShm()
		t := time.Now()
		for i := 0; i < 10; i++ {
			c.respawn()
		}
		fmt.Printf("BENCH child SIGKILL+respawn+ready (WAT plugin): %v avg of 10\n", time.Since(t)/10)
		c.close()
	}
	t := time.Now()
	for i := 0; i < 1000; i++ {
		on.reinstantiate(ctx)
	}
	fmt.Printf("BENCH in-proc close+re-instantiate (WAT plugin): %v avg of 1000\n", time.Since(t)/1000)
	fmt.Println("intents per 64-batch:", want)
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
