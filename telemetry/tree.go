package telemetry

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TreeExporter is the stdout trace exporter: it prints each trace as an
// indented tree, one line per span (offset from the trace's start,
// duration, attributes) and one per span event, children in order of
// start. The spans of a trace end at different times (an order's span
// outlives the frame's), so a trace is printed once none of its spans has
// arrived for a quiet second, and everything left at Flush or Shutdown.
type TreeExporter struct {
	w     io.Writer
	quiet time.Duration

	mu     sync.Mutex
	traces map[trace.TraceID]*treeTrace
	order  []trace.TraceID // first seen first
	stop   chan struct{}
	done   chan struct{}
	closed bool
}

type treeTrace struct {
	spans []sdktrace.ReadOnlySpan
	last  time.Time
}

// NewTreeExporter returns a TreeExporter writing to w.
func NewTreeExporter(w io.Writer) *TreeExporter {
	x := &TreeExporter{w: w, quiet: time.Second, traces: map[trace.TraceID]*treeTrace{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go x.loop()
	return x
}

func (x *TreeExporter) loop() {
	defer close(x.done)
	t := time.NewTicker(x.quiet / 2)
	defer t.Stop()
	for {
		select {
		case <-x.stop:
			return
		case <-t.C:
			x.flush(false)
		}
	}
}

// ExportSpans implements sdktrace.SpanExporter.
func (x *TreeExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	now := time.Now()
	x.mu.Lock()
	for _, s := range spans {
		id := s.SpanContext().TraceID()
		tt := x.traces[id]
		if tt == nil {
			tt = &treeTrace{}
			x.traces[id] = tt
			x.order = append(x.order, id)
		}
		tt.spans = append(tt.spans, s)
		tt.last = now
	}
	x.mu.Unlock()
	return nil
}

// Flush prints every trace buffered, complete or not.
func (x *TreeExporter) Flush() { x.flush(true) }

// Shutdown implements sdktrace.SpanExporter: it prints what is left.
func (x *TreeExporter) Shutdown(context.Context) error {
	x.mu.Lock()
	if !x.closed {
		x.closed = true
		close(x.stop)
	}
	x.mu.Unlock()
	<-x.done
	x.flush(true)
	return nil
}

func (x *TreeExporter) flush(all bool) {
	now := time.Now()
	x.mu.Lock()
	var out []*treeTrace
	keep := x.order[:0]
	for _, id := range x.order {
		tt := x.traces[id]
		if all || now.Sub(tt.last) >= x.quiet {
			out = append(out, tt)
			delete(x.traces, id)
		} else {
			keep = append(keep, id)
		}
	}
	x.order = keep
	var b strings.Builder
	for _, tt := range out {
		RenderTrace(&b, tt.spans)
	}
	if b.Len() > 0 {
		_, _ = io.WriteString(x.w, b.String())
	}
	x.mu.Unlock()
}

// RenderTrace writes the spans of one trace as a tree.
func RenderTrace(b *strings.Builder, spans []sdktrace.ReadOnlySpan) {
	if len(spans) == 0 {
		return
	}
	byID := map[trace.SpanID]bool{}
	start := spans[0].StartTime()
	for _, s := range spans {
		byID[s.SpanContext().SpanID()] = true
		if s.StartTime().Before(start) {
			start = s.StartTime()
		}
	}
	children := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	var roots []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if p := s.Parent(); p.IsValid() && byID[p.SpanID()] {
			children[p.SpanID()] = append(children[p.SpanID()], s)
		} else {
			roots = append(roots, s)
		}
	}
	byStart := func(a, c sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(c.StartTime()) }
	slices.SortStableFunc(roots, byStart)
	fmt.Fprintf(b, "trace %s  %s\n", spans[0].SpanContext().TraceID(), start.Format("15:04:05.000000"))
	var walk func(s sdktrace.ReadOnlySpan, depth int)
	walk = func(s sdktrace.ReadOnlySpan, depth int) {
		ind := strings.Repeat("  ", depth+1)
		name := ind + s.Name()
		fmt.Fprintf(b, "%-44s %10s %10s", name, "+"+fmtDur(s.StartTime().Sub(start)), fmtDur(s.EndTime().Sub(s.StartTime())))
		writeAttrs(b, s.Attributes())
		if st := s.Status(); st.Code == codes.Error {
			fmt.Fprintf(b, "  ERROR %q", st.Description)
		}
		b.WriteByte('\n')
		for _, ev := range s.Events() {
			fmt.Fprintf(b, "%-44s %10s %10s", ind+"  · "+ev.Name, "+"+fmtDur(ev.Time.Sub(start)), "")
			writeAttrs(b, ev.Attributes)
			b.WriteByte('\n')
		}
		kids := children[s.SpanContext().SpanID()]
		slices.SortStableFunc(kids, byStart)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
}

func writeAttrs(b *strings.Builder, attrs []attribute.KeyValue) {
	for _, kv := range attrs {
		k := strings.TrimPrefix(string(kv.Key), "stratbox.")
		fmt.Fprintf(b, "  %s=%s", k, kv.Value.Emit())
	}
}

// fmtDur renders a duration compactly: µs below a millisecond, ms below a
// second.
func fmtDur(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + fmtDur(-d)
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.3fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.3fs", d.Seconds())
	}
}
