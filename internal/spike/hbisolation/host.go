package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

var (
	stKills   atomic.Int64 // runaway calls terminated
	stCalls   atomic.Int64
	stOverMax atomic.Int64 // worst (return time - deadline), ns
	stReMax   atomic.Int64 // worst re-instantiate / respawn time, ns
	stReSum   atomic.Int64
)

func maxStore(a *atomic.Int64, v int64) {
	for {
		o := a.Load()
		if v <= o || a.CompareAndSwap(o, v) {
			return
		}
	}
}

func runHost(args []string) {
	fs := flag.NewFlagSet("host", flag.ExitOnError)
	addr := fs.String("addr", "", "exchange address")
	design := fs.String("design", "none", "none|A|Abounded|B|Efuel|D")
	deadline := fs.Duration("deadline", 50*time.Millisecond, "per-call deadline (B, D)")
	spinMs := fs.Float64("spinms", 10, "Abounded: length of each bounded spin call; Efuel: fuel budget in ms of spinning")
	allocMBs := fs.Float64("alloc", 50, "garbage allocation rate MB/s")
	lock := fs.Bool("lock", false, "runtime.LockOSThread on the plugin goroutine")
	procs := fs.Int("procs", 0, "GOMAXPROCS (0 = default)")
	fs.IntVar(&niceVal, "nice", 0, "nice value for the plugin thread (needs -lock) or the child process (D)")
	fs.Parse(args)
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	ctx := context.Background()

	// Set up the plugin before connecting, so startup cost is outside the measurement.
	var start func()
	itersPerMs := calibrate(ctx)
	switch *design {
	case "none":
		start = func() {}
	case "gospin": // control: a plain (preemptible) Go goroutine spinning, no wasm
		start = func() {
			go func() {
				x := uint64(1)
				for {
					x = x*6364136223846793005 + 1442695040888963407
					if x == 0 {
						fmt.Fprintln(os.Stderr, x)
					}
				}
			}()
		}
	case "A": // option off, call never returns
		p := newPlugin(ctx, false)
		start = func() {
			go func() {
				if *lock {
					runtime.LockOSThread()
					if niceVal != 0 {
						if err := unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), niceVal); err != nil {
							panic(err)
						}
					}
				}
				p.stack[0] = 0 // 2^64 iterations = forever
				p.spin.CallWithStack(ctx, p.stack)
				fmt.Fprintln(os.Stderr, "A: spin returned?!")
			}()
		}
	case "Abounded": // option off, back-to-back calls each spinning spinms
		p := newPlugin(ctx, false)
		iters := uint64(*spinMs * itersPerMs)
		start = func() {
			go func() {
				if *lock {
					runtime.LockOSThread()
					if niceVal != 0 {
						if err := unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), niceVal); err != nil {
							panic(err)
						}
					}
				}
				for {
					p.stack[0] = iters
					p.spin.CallWithStack(ctx, p.stack)
					stCalls.Add(1)
				}
			}()
		}
	case "B", "C": // option on, per-call deadline, kill + re-instantiate forever
		p := newPlugin(ctx, true)
		start = func() {
			go func() {
				if *lock {
					runtime.LockOSThread()
					if niceVal != 0 {
						if err := unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), niceVal); err != nil {
							panic(err)
						}
					}
				}
				for {
					cctx, cancel := context.WithTimeout(ctx, *deadline)
					t0 := time.Now()
					p.stack[0] = 0
					err := p.spin.CallWithStack(cctx, p.stack)
					el := time.Since(t0)
					cancel()
					stCalls.Add(1)
					if err == nil {
						continue
					}
					stKills.Add(1)
					maxStore(&stOverMax, int64(el-*deadline))
					re := p.reinstantiate(ctx)
					maxStore(&stReMax, int64(re))
					stReSum.Add(int64(re))
				}
			}()
		}
	case "Efuel": // option off, injected fuel counter traps after ~spinms of spinning
		p := newPlugin(ctx, false)
		fuel := uint64(*spinMs * itersPerMs)
		start = func() {
			go func() {
				if *lock {
					runtime.LockOSThread()
					if niceVal != 0 {
						if err := unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), niceVal); err != nil {
							panic(err)
						}
					}
				}
				for {
					p.fuel.Set(fuel)
					p.stack[0] = 0
					err := p.spinFuel.CallWithStack(ctx, p.stack)
					stCalls.Add(1)
					if err != nil {
						stKills.Add(1)
						re := p.reinstantiate(ctx)
						maxStore(&stReMax, int64(re))
						stReSum.Add(int64(re))
					}
				}
			}()
		}
	case "D": // plugin in a child process that spins forever; parent kills + respawns on deadline
		c := spawnChild()
		start = func() {
			go func() {
				for {
					stCalls.Add(1)
					ok := c.spinForeverWithDeadline(*deadline)
					if !ok {
						stKills.Add(1)
						re := c.respawn()
						maxStore(&stReMax, int64(re))
						stReSum.Add(int64(re))
					}
				}
			}()
		}
	default:
		panic("unknown design " + *design)
	}

	conn, err := net.Dial("tcp", *addr)
	if err != nil {
		panic(err)
	}
	// Heartbeat answerer: read a 16-byte frame, write it back.
	go func() {
		buf := make([]byte, 16)
		for {
			if _, err := io.ReadFull(conn, buf); err != nil {
				os.Exit(0)
			}
			if _, err := conn.Write(buf); err != nil {
				os.Exit(0)
			}
		}
	}()
	go allocLoop(*allocMBs)
	start()
	t0 := time.Now()
	for {
		time.Sleep(2 * time.Second)
		var gs debug.GCStats
		gs.PauseQuantiles = make([]time.Duration, 5)
		debug.ReadGCStats(&gs)
		k := stKills.Load()
		avgRe := time.Duration(0)
		if k > 0 {
			avgRe = time.Duration(stReSum.Load() / k)
		}
		fmt.Fprintf(os.Stderr, "HOST t=%.0fs numGC=%d maxPause=%v calls=%d kills=%d worstOverrun=%v reinst/respawn avg=%v max=%v\n",
			time.Since(t0).Seconds(), gs.NumGC, gs.PauseQuantiles[4], stCalls.Load(), k,
			time.Duration(stOverMax.Load()), avgRe, time.Duration(stReMax.Load()))
	}
}

var sink [256][]byte

var niceVal int

// allocLoop allocates garbage at mbs MB/s in 8 KiB pieces, keeping ~2 MiB live.
func allocLoop(mbs float64) {
	if mbs <= 0 {
		return
	}
	t0 := time.Now()
	var done float64
	i := 0
	for {
		target := mbs * 1e6 * time.Since(t0).Seconds()
		for done < target {
			b := make([]byte, 8192)
			b[0] = byte(i)
			sink[i&255] = b
			i++
			done += 8192
		}
		time.Sleep(time.Millisecond)
	}
}

// calibrate returns spin iterations per millisecond (option-off runtime).
func calibrate(ctx context.Context) float64 {
	p := newPlugin(ctx, false)
	defer p.rt.Close(ctx)
	best := time.Hour
	for i := 0; i < 5; i++ {
		t := time.Now()
		p.stack[0] = 2_000_000
		p.spin.CallWithStack(ctx, p.stack)
		if d := time.Since(t); d < best {
			best = d
		}
	}
	return 2_000_000 / (float64(best) / 1e6)
}

var _ = binary.LittleEndian
