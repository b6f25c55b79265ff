package sandbox

// A child's stderr, logged and kept for its faults.

import (
	"log/slog"
	"strings"
	"sync"
)

// stderrLog logs a child's stderr as warn lines, stderrCap bytes in all,
// and keeps its last stderrTail bytes for a process fault.
type stderrLog struct {
	log    *slog.Logger
	mu     sync.Mutex
	line   []byte // the start of a line not ended yet
	logged int
	tail   []byte
}

func (w *stderrLog) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tail = append(w.tail, b...)
	if over := len(w.tail) - stderrTail; over > 0 {
		w.tail = append(w.tail[:0], w.tail[over:]...)
	}
	w.line = append(w.line, b...)
	start := 0
	for i, c := range w.line {
		if c == '\n' {
			w.emit(w.line[start:i])
			start = i + 1
		}
	}
	w.line = append(w.line[:0], w.line[start:]...)
	if len(w.line) > maxLogLine {
		w.emit(w.line)
		w.line = w.line[:0]
	}
	return len(b), nil
}

// emit logs one line while the cap allows, and once that it was reached.
func (w *stderrLog) emit(line []byte) {
	switch {
	case w.logged > stderrCap:
		return
	case w.logged+len(line) > stderrCap:
		w.logged = stderrCap + 1
		w.log.Warn("child stderr: the rest is dropped", "cap", stderrCap)
		return
	}
	w.logged += len(line)
	w.log.Warn("child stderr", "line", string(line))
}

// flush logs a last line without its end.
func (w *stderrLog) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.line) > 0 {
		w.emit(w.line)
		w.line = w.line[:0]
	}
}

// tailText is the end of the child's stderr, from a line start when it was cut.
func (w *stderrLog) tailText() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.tail
	if len(t) == stderrTail {
		if i := strings.IndexByte(string(t), '\n'); i >= 0 {
			t = t[i+1:]
		}
	}
	return strings.TrimSpace(string(t))
}
