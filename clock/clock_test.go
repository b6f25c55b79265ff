package clock

import (
	"testing"
	"time"
)

func TestFakeTimersFireInOrder(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	a := f.NewTimer(2 * time.Second)
	b := f.NewTimer(time.Second)
	f.Advance(500 * time.Millisecond)
	select {
	case <-a.C():
		t.Fatal("a fired early")
	case <-b.C():
		t.Fatal("b fired early")
	default:
	}
	f.Advance(time.Second)
	if got := <-b.C(); !got.Equal(time.Unix(1, 0)) {
		t.Fatalf("b fired at %v, want 1s", got)
	}
	select {
	case <-a.C():
		t.Fatal("a fired early")
	default:
	}
	f.Advance(time.Second)
	<-a.C()
	if f.Timers() != 0 {
		t.Fatalf("timers left: %d", f.Timers())
	}
}

func TestFakeTickerAndStop(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	tk := f.NewTicker(time.Second)
	for i := 1; i <= 3; i++ {
		f.Advance(time.Second)
		if got := <-tk.C(); !got.Equal(time.Unix(int64(i), 0)) {
			t.Fatalf("tick %d at %v", i, got)
		}
	}
	tk.Reset(2 * time.Second)
	f.Advance(time.Second)
	select {
	case <-tk.C():
		t.Fatal("tick after reset came early")
	default:
	}
	f.Advance(time.Second)
	<-tk.C()
	tk.Stop()
	f.Advance(10 * time.Second)
	select {
	case <-tk.C():
		t.Fatal("stopped ticker ticked")
	default:
	}
}

func TestFakeAfterFuncAndWaitForTimers(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	done := make(chan struct{})
	armed := make(chan struct{})
	go func() {
		f.AfterFunc(time.Minute, func() { close(done) })
		close(armed)
	}()
	if !f.WaitForTimers(1, nil) {
		t.Fatal("WaitForTimers gave up")
	}
	<-armed
	f.Advance(time.Minute)
	<-done
	tm := f.NewTimer(time.Second)
	if !tm.Stop() {
		t.Fatal("Stop on an armed timer reported false")
	}
	if tm.Stop() {
		t.Fatal("second Stop reported true")
	}
	if tm.Reset(time.Second) {
		t.Fatal("Reset of a stopped timer reported it was armed")
	}
	f.Advance(time.Second)
	<-tm.C()
}
