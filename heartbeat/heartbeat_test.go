package heartbeat

import (
	"errors"
	"sync"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero is the defaults", Config{}, true},
		{"sub-second for the simulator", Config{Interval: 20 * time.Millisecond}, true},
		{"below 1ms", Config{Interval: time.Microsecond}, false},
		{"negative interval", Config{Interval: -time.Second}, false},
		{"multiple 1", Config{SilenceMultiple: 1}, false},
		{"negative deadline", Config{AnswerDeadline: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v does not wrap ErrConfig", err)
			}
		})
	}
	c := Config{}.WithDefaults()
	if c.Interval != 10*time.Second || c.SilenceMultiple != 3 || c.AnswerDeadline != 10*time.Second {
		t.Fatalf("defaults: %+v", c)
	}
	if got := (Config{Interval: time.Second}).SilenceTimeout(); got != 3*time.Second {
		t.Fatalf("SilenceTimeout = %v", got)
	}
}

func TestAppendSetParams(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{10 * time.Second, `{"interval":10}`},
		{60 * time.Second, `{"interval":60}`},
		{20 * time.Millisecond, `{"interval":0.02}`},
		{1500 * time.Millisecond, `{"interval":1.5}`},
		{time.Millisecond, `{"interval":0.001}`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := string(AppendSetParams(nil, tt.d)); got != tt.want {
				t.Fatalf("got %s", got)
			}
		})
	}
}

func TestAppendAnswer(t *testing.T) {
	got := string(AppendAnswer(nil, 42))
	if want := `{"jsonrpc":"2.0","id":42,"method":"public/test","params":{}}`; got != want {
		t.Fatalf("got %s want %s", got, want)
	}
	buf := make([]byte, 0, MaxAnswerLen)
	if n := testing.AllocsPerRun(100, func() { buf = AppendAnswer(buf[:0], ^uint64(0)) }); n != 0 {
		t.Fatalf("AppendAnswer allocates %v times", n)
	}
	if len(buf) != MaxAnswerLen {
		t.Fatalf("MaxAnswerLen %d, longest frame %d", MaxAnswerLen, len(buf))
	}
}

func TestMonitorCountsAndLatency(t *testing.T) {
	m := NewMonitor(Config{Interval: time.Second, AnswerDeadline: 100 * time.Millisecond})
	t0 := time.Unix(1000, 0)
	m.Reset(t0)
	for i := uint64(1); i <= 100; i++ {
		read := t0.Add(time.Duration(i) * time.Second)
		m.FrameReceived(read)
		m.TestRequest(i)
		m.AnswerSending(i, read.Add(time.Duration(i)*time.Microsecond))
		m.AnswerWritten(read, read.Add(time.Duration(i)*time.Microsecond))
		if !m.TestResponse(i, read.Add(time.Millisecond)) {
			t.Fatalf("response %d not recognised", i)
		}
	}
	if m.TestResponse(12345, t0) {
		t.Fatal("unknown id recognised as a test response")
	}
	m.TestRequest(200)
	m.AnswerDropped()
	m.TestRequest(201)
	m.AnswerWritten(t0, t0.Add(time.Second)) // late
	m.TestRequest(202)                       // never written
	m.HeartbeatReceived()
	m.Reset(t0.Add(time.Hour))

	s := m.Snapshot()
	want := Snapshot{TestRequests: 103, Answered: 101, Responses: 100, Late: 1, Dropped: 1, Unanswered: 1, Heartbeats: 1, Frames: 100}
	if s.TestRequests != want.TestRequests || s.Answered != want.Answered || s.Responses != want.Responses ||
		s.Late != want.Late || s.Dropped != want.Dropped || s.Unanswered != want.Unanswered ||
		s.Heartbeats != want.Heartbeats || s.Frames != want.Frames || s.Missed != 3 {
		t.Fatalf("snapshot %+v", s)
	}
	l := s.AnswerLatency
	if l.Count != 101 || l.Max != time.Second {
		t.Fatalf("answer latency %+v", l)
	}
	// 1..100 µs plus one 1 s outlier: p50 ≈ 50µs, p99 ≈ 100µs, within 12.5% above.
	if l.P50 < 50*time.Microsecond || l.P50 > 57*time.Microsecond {
		t.Fatalf("p50 %v", l.P50)
	}
	if l.P99 < 99*time.Microsecond || l.P99 > 113*time.Microsecond {
		t.Fatalf("p99 %v", l.P99)
	}
	rt := s.RoundTrip
	if rt.Count != 100 || rt.Max != time.Millisecond-time.Microsecond {
		t.Fatalf("round trip %+v", rt)
	}
}

func TestMonitorSilence(t *testing.T) {
	m := NewMonitor(Config{Interval: time.Second, SilenceMultiple: 3})
	t0 := time.Unix(0, 0)
	m.Reset(t0)
	tests := []struct {
		name     string
		frameAt  time.Duration // -1: no frame
		checkAt  time.Duration
		dead     bool
		deadline time.Duration
	}{
		{"quiet but within the timeout", -1, 2999 * time.Millisecond, false, 3 * time.Second},
		{"a frame moves the deadline", 2 * time.Second, 4 * time.Second, false, 5 * time.Second},
		{"silent for the timeout", -1, 5 * time.Second, true, 5 * time.Second},
		{"still dead, counted once", -1, 6 * time.Second, true, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.frameAt >= 0 {
				m.FrameReceived(t0.Add(tt.frameAt))
			}
			dl, dead := m.Check(t0.Add(tt.checkAt))
			if dead != tt.dead || !dl.Equal(t0.Add(tt.deadline)) {
				t.Fatalf("Check = %v, %v; want %v, %v", dl, dead, t0.Add(tt.deadline), tt.dead)
			}
		})
	}
	if s := m.Snapshot(); s.Silences != 1 || s.Missed != 1 {
		t.Fatalf("silences %d missed %d", s.Silences, s.Missed)
	}
	m.Reset(t0.Add(10 * time.Second))
	if _, dead := m.Check(t0.Add(11 * time.Second)); dead {
		t.Fatal("dead right after Reset")
	}
}

func TestHistogramBuckets(t *testing.T) {
	for _, v := range []int64{0, 1, 7, 8, 9, 15, 16, 17, 100, 1000, 12345, 1 << 20, 1<<40 - 1} {
		i := bucketOf(v)
		if up := bucketUpper(i); up < v || (v >= 8 && float64(up-v) > 0.125*float64(v)) {
			t.Fatalf("value %d: bucket %d upper %d", v, i, up)
		}
		if i > 0 && bucketUpper(i-1) >= v {
			t.Fatalf("value %d also fits bucket %d", v, i-1)
		}
	}
	if bucketOf(1<<62) != histBuckets-1 || bucketOf(-5) != 0 {
		t.Fatal("clamping")
	}
}

// TestMonitorHammer runs the read-side, write-side and snapshot calls
// concurrently, as the connection does; run it with -race.
func TestMonitorHammer(t *testing.T) {
	m := NewMonitor(Config{Interval: time.Second})
	now := time.Unix(0, 0)
	m.Reset(now)
	const n = 5000
	ids := make(chan uint64, n)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { // reader
		defer wg.Done()
		defer close(ids)
		for i := uint64(1); i <= n; i++ {
			m.FrameReceived(now)
			m.TestRequest(i)
			ids <- i
			m.TestResponse(i-1, now)
		}
	}()
	go func() { // writer
		defer wg.Done()
		for id := range ids {
			m.AnswerSending(id, now)
			m.AnswerWritten(now, now.Add(time.Microsecond))
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 100; i++ {
			_ = m.Snapshot()
			m.Check(now)
		}
	}()
	wg.Wait()
	if s := m.Snapshot(); s.Answered != n || s.TestRequests != n || s.Missed != 0 {
		t.Fatalf("%+v", s)
	}
}

// The distribution of the answer latencies puts each one in the bucket of
// the first bound at or above it (exact at powers of two), and agrees with
// the summary's count, sum and maximum.
func TestAnswerDistribution(t *testing.T) {
	m := NewMonitor(Config{Interval: time.Second})
	read := time.Unix(100, 0)
	for _, d := range []time.Duration{500 * time.Nanosecond, 1023, 1024, 3000, 1 << 20, time.Hour} {
		m.TestRequest(1)
		m.AnswerWritten(read, read.Add(d))
	}
	bounds := []time.Duration{1023, 4095, 1<<20 - 1, 1 << 30}
	d := m.AnswerDistribution(bounds)
	want := []uint64{2, 2, 0, 1, 1} // 500, 1023 | 1024, 3000 | - | 1<<20 | 1h
	for i := range want {
		if d.Counts[i] != want[i] {
			t.Fatalf("counts %v, want %v", d.Counts, want)
		}
	}
	s := m.Snapshot().AnswerLatency
	if d.Count != s.Count || d.Max != s.Max || d.Count != 6 {
		t.Errorf("count %d max %v, summary count %d max %v", d.Count, d.Max, s.Count, s.Max)
	}
	if wantSum := 500 + 1023 + 1024 + 3000 + 1<<20 + time.Hour; d.Sum != wantSum {
		t.Errorf("sum %v, want %v", d.Sum, wantSum)
	}
	if rt := m.RoundTripDistribution(bounds); rt.Count != 0 || len(rt.Counts) != len(bounds)+1 {
		t.Errorf("round trip %+v, want empty", rt)
	}
}
