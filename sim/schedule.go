package sim

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/stratbox/stratbox/clock"
)

// FaultSchedule is a plan of periodic faults (`host sim`'s [sim.faults]):
// each fault of a non-zero period happens every period, counted from Run's
// start on its clock. The zero value injects nothing.
type FaultSchedule struct {
	DropEvery      time.Duration // DropAll this often
	CutRandomEvery time.Duration // DropRandom this often (churn)
	SilenceEvery   time.Duration // Silence(true) this often …
	SilenceFor     time.Duration // … and Silence(false) this long after
	Delay          time.Duration // SetFrameDelay(Delay) at the start
	MalformedEvery time.Duration // SendRaw(MalformedFrame) this often
	OversizedEvery time.Duration // SendRaw(OversizedFrame(OversizedBytes)) this often
	MaintenanceAt  time.Duration // Maintenance(true) this long after the start …
	MaintenanceFor time.Duration // … and Maintenance(false) this long after that
}

// OversizedBytes is the size of a FaultSchedule's oversized frames (2 MiB:
// above the 1 MiB a client is expected to accept).
const OversizedBytes = 2 << 20

// FaultTarget is what a FaultSchedule acts on: a *Server, or a test's
// recorder.
type FaultTarget interface {
	DropAll()
	DropRandom() (id uint64, ok bool)
	Silence(on bool)
	SetFrameDelay(d time.Duration)
	SendRaw(data []byte)
	Maintenance(on bool)
}

var _ FaultTarget = (*Server)(nil)

// Validate reports a negative duration, or a silence or maintenance window
// without its length.
func (f FaultSchedule) Validate() error {
	for _, d := range []time.Duration{f.DropEvery, f.CutRandomEvery, f.SilenceEvery, f.SilenceFor, f.Delay,
		f.MalformedEvery, f.OversizedEvery, f.MaintenanceAt, f.MaintenanceFor} {
		if d < 0 {
			return errors.New("sim: fault schedule: negative duration")
		}
	}
	if f.SilenceEvery > 0 && f.SilenceFor == 0 {
		return errors.New("sim: fault schedule: SilenceFor is required with SilenceEvery")
	}
	if f.MaintenanceAt > 0 && f.MaintenanceFor == 0 {
		return errors.New("sim: fault schedule: MaintenanceFor is required with MaintenanceAt")
	}
	return nil
}

// Run injects the faults of f into t on clk's time until ctx ends, and
// returns when every goroutine it started has returned. A silence or
// maintenance window open when ctx ends is closed before Run returns.
// Each periodic fault runs on its own goroutine; a fault that takes longer
// than its period (a silence longer than its period) skips the ticks it
// missed but one.
func (f FaultSchedule) Run(ctx context.Context, clk clock.Clock, t FaultTarget) {
	if f.Delay > 0 {
		t.SetFrameDelay(f.Delay)
	}
	var wg sync.WaitGroup
	every := func(d time.Duration, fn func()) {
		if d <= 0 {
			return
		}
		tk := clk.NewTicker(d)
		wg.Go(func() {
			defer tk.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tk.C():
					fn()
				}
			}
		})
	}
	every(f.DropEvery, t.DropAll)
	every(f.CutRandomEvery, func() { t.DropRandom() })
	every(f.MalformedEvery, func() { t.SendRaw(MalformedFrame) })
	every(f.OversizedEvery, func() { t.SendRaw(OversizedFrame(OversizedBytes)) })
	every(f.SilenceEvery, func() {
		t.Silence(true)
		wait(ctx, clk, f.SilenceFor)
		t.Silence(false)
	})
	if f.MaintenanceAt > 0 {
		tm := clk.NewTimer(f.MaintenanceAt)
		wg.Go(func() {
			defer tm.Stop()
			select {
			case <-ctx.Done():
				return
			case <-tm.C():
			}
			t.Maintenance(true)
			wait(ctx, clk, f.MaintenanceFor)
			t.Maintenance(false)
		})
	}
	<-ctx.Done()
	wg.Wait()
}

// wait returns after d on clk, or when ctx ends.
func wait(ctx context.Context, clk clock.Clock, d time.Duration) {
	tm := clk.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
	case <-tm.C():
	}
}
