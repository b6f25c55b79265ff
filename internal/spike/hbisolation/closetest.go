package main

import (
	"context"
	"fmt"
	"time"
)

// runCloseTest: does api.Module.CloseWithExitCode from another goroutine interrupt a running call?
func runCloseTest(args []string) {
	ctx := context.Background()
	ipm := calibrate(ctx)
	for _, opt := range []bool{false, true} {
		p := newPlugin(ctx, opt)
		iters := uint64(2000 * ipm) // ~2 s with option off
		if opt {
			iters = uint64(2000 * ipm / 30) // option on is ~30x slower per iteration
		}
		done := make(chan struct{})
		var err error
		t0 := time.Now()
		go func() {
			p.stack[0] = iters
			err = p.spin.CallWithStack(ctx, p.stack)
			close(done)
		}()
		time.Sleep(10 * time.Millisecond)
		tc := time.Now()
		cerr := p.mod.CloseWithExitCode(ctx, 9)
		closeRet := time.Since(tc)
		<-done
		fmt.Printf("CLOSE option=%v: CloseWithExitCode returned after %v (err=%v); call returned %v after start (%v after Close), err=%v\n",
			opt, closeRet, cerr, time.Since(t0).Round(time.Microsecond), time.Since(tc).Round(time.Microsecond), err)
		// is the instance usable afterwards?
		p.stack[0] = 10
		err2 := p.spin.CallWithStack(ctx, p.stack)
		fmt.Printf("CLOSE option=%v: next call err=%v\n", opt, err2)
		p.rt.Close(ctx)
	}
}
