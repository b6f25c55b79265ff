package hostbench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/host"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/pool"
)

// The memory figures' sizes.
const (
	memConns          = 6  // connections opened at once for the per-connection figure
	memInstances      = 4  // plugin instances started at once for the per-instance figure
	memSmallInstances = 16 // the same for a plugin under 1 MiB, whose instances are small next to RSS noise
)

// instancesOf is how many instances of wasm the per-instance figure starts.
func instancesOf(wasm []byte) int {
	if len(wasm) < 1<<20 {
		return memSmallInstances
	}
	return memInstances
}

// discardSink is a conn.Sink that drops every notification.
type discardSink struct{}

func (discardSink) Deliver(conn.Notification) bool { return true }

// settle collects garbage and returns freed memory to the OS, so that the
// next reading counts what is live.
func settle() {
	runtime.GC()
	debug.FreeOSMemory()
}

// heapInUse is the Go heap and stacks in use after a collection.
func heapInUse() uint64 {
	settle()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// rss is this process's resident memory (VmRSS), in bytes.
func rss() (uint64, error) {
	return rssOf("self")
}

func rssOf(pid string) (uint64, error) {
	kb, ok := procStatus("/proc/"+pid+"/status", "VmRSS")
	if !ok {
		return 0, fmt.Errorf("no VmRSS in /proc/%s/status (Linux only)", pid)
	}
	return kb * 1024, nil
}

// childrenRSS is the resident memory of this process's children, except
// the helper process.
func childrenRSS(except int) (uint64, int, error) {
	self := strconv.Itoa(os.Getpid())
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return 0, 0, err
	}
	var total uint64
	n := 0
	for _, d := range dirs {
		b, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // state ppid ...
		if len(f) < 2 || f[1] != self {
			continue
		}
		pid := filepath.Base(d)
		if pid == strconv.Itoa(except) {
			continue
		}
		if v, err := rssOf(pid); err == nil {
			total += v
			n++
		}
	}
	return total, n, nil
}

// memory measures the Go heap and stacks per connection (to the helper's
// simulator, authenticated, heartbeats on), the resident memory per plugin
// instance (a loaded plugin, from the compilation cache, and its started
// instance), and the host's resident memory with a pool of 3 connections
// and 2 plugins (the quoter and the no-op plugin) in the host's process, and
// in child processes (the host's process and the children apart). It runs
// first, so that the process has not grown with the other groups.
func (r *runner) memory(ctx context.Context) error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("the memory figures read /proc (Linux only); skip them with --only")
	}
	h, err := r.startHelper()
	if err != nil {
		return err
	}
	defer h.close()
	type inst struct {
		key, title string
		wasm       []byte
		params     []abi.Param
	}
	insts := []inst{{"noop", "no-op WAT plugin", NoopWasm, nil}, {"quoter", "quoter wasm (Go)", QuoterWasm(), quoterParams()}}
	if r.opt.Plugin != nil {
		insts = append(insts, inst{"plugin", r.opt.PluginName, r.opt.Plugin, r.opt.PluginParams})
	}
	for _, in := range insts { // compile each into the cache once: the figures are not about the compiler
		p, err := r.load(in.key, in.wasm, sandbox.PluginConfig{})
		if err != nil {
			return err
		}
		p.Close(ctx)
	}
	vals := map[string][]float64{}
	for rep := -1; rep < r.reps; rep++ { // rep -1: the warm-up
		v, err := r.perConnection(ctx, h)
		if err != nil {
			return fmt.Errorf("per connection: %w", err)
		}
		m := map[string]float64{"per_connection_bytes": v}
		for _, in := range insts {
			v, err := r.perInstance(ctx, in.key, in.wasm, in.params)
			if err != nil {
				return fmt.Errorf("per instance of %s: %w", in.title, err)
			}
			m["plugin_instance."+in.key+"_bytes"] = v
		}
		for _, iso := range []sandbox.Isolation{sandbox.IsolateNone, sandbox.IsolateProcess} {
			hostB, kids, err := r.hostRSS(ctx, h, iso)
			if err != nil {
				return fmt.Errorf("host RSS (%s): %w", iso, err)
			}
			m["host_rss_"+string(iso)+"_bytes"] = float64(hostB)
			if iso == sandbox.IsolateProcess {
				m["children_rss_process_bytes"] = float64(kids)
			}
		}
		if rep < 0 {
			continue
		}
		for k, x := range m {
			vals[k] = append(vals[k], x)
		}
	}
	add := func(k, title string) {
		f := r.res.add("memory."+k, title, "bytes", vals[k])
		r.progress("%-40s %10.0f KiB", "memory."+k, f.Median/1024)
	}
	add("per_connection_bytes", fmt.Sprintf("Go heap and stacks per connection (%d connections to the simulator)", memConns))
	for _, in := range insts {
		add("plugin_instance."+in.key+"_bytes", fmt.Sprintf("resident memory per plugin instance, %s (%d instances)", in.title, instancesOf(in.wasm)))
	}
	add("host_rss_none_bytes", "host's resident memory, 3 connections, 2 plugins (quoter, no-op) in the host's process")
	add("host_rss_process_bytes", "host's resident memory, 3 connections, 2 plugins in child processes (the host's process only)")
	add("children_rss_process_bytes", "resident memory of those 2 plugins' child processes, together")
	return nil
}

// perConnection opens memConns connections and returns the Go heap and
// stacks they added, per connection.
func (r *runner) perConnection(ctx context.Context, h *helper) (float64, error) {
	pc := poolConfig(h.simURL)
	before := heapInUse()
	var cs []*conn.Conn
	defer func() {
		for _, c := range cs {
			_ = c.Close()
		}
	}()
	for range memConns {
		c, err := conn.Dial(ctx, pc.Conn, conn.WithSink(discardSink{}), conn.WithLogger(r.log))
		if err != nil {
			return 0, err
		}
		cs = append(cs, c)
	}
	after := heapInUse()
	return (float64(after) - float64(before)) / memConns, nil
}

// perInstance loads and starts instancesOf(wasm) instances of a plugin in
// this process and returns the resident memory they added, per instance.
func (r *runner) perInstance(ctx context.Context, name string, wasm []byte, params []abi.Param) (float64, error) {
	blob, err := startup(name, params, time.Now())
	if err != nil {
		return 0, err
	}
	settle()
	before, err := rss()
	if err != nil {
		return 0, err
	}
	var ps []*sandbox.Plugin
	var ins []*sandbox.Instance
	defer func() {
		for _, in := range ins {
			_ = in.Close(ctx)
		}
		for _, p := range ps {
			p.Close(ctx)
		}
		settle()
	}()
	k := instancesOf(wasm)
	for range k {
		p, err := r.load(name, wasm, sandbox.PluginConfig{})
		if err != nil {
			return 0, err
		}
		ps = append(ps, p)
		in, _, err := p.Start(ctx, blob)
		if err != nil {
			return 0, err
		}
		ins = append(ins, in)
	}
	settle()
	after, err := rss()
	if err != nil {
		return 0, err
	}
	return (float64(after) - float64(before)) / float64(k), nil
}

// hostRSS runs a pool of 3 connections and an engine with the quoter and
// the no-op plugin, in isolation iso, and returns this process's resident
// memory and its plugin children's, once everything has started.
func (r *runner) hostRSS(ctx context.Context, h *helper, iso sandbox.Isolation) (uint64, uint64, error) {
	var specs []host.PluginSpec
	defer func() {
		for _, s := range specs {
			s.Plugin.Close(context.Background())
		}
		settle()
	}()
	for _, in := range []struct {
		name   string
		wasm   []byte
		params []abi.Param
	}{{"quoter", QuoterWasm(), quoterParams()}, {"noop", NoopWasm, nil}} {
		var opts []sandbox.Option
		if iso == sandbox.IsolateProcess {
			opts = append(opts, sandbox.WithChildProcess())
		}
		p, err := r.load(in.name, in.wasm, sandbox.PluginConfig{}, opts...)
		if err != nil {
			return 0, 0, err
		}
		s := host.PluginSpec{Name: in.name, Plugin: p, Instruments: []string{"BTC-PERPETUAL"}, Params: in.params}
		if iso == sandbox.IsolateProcess {
			pc := r.opt.Child
			s.NewSandbox = func(p *sandbox.Plugin) sandbox.Sandbox { return sandbox.NewProcess(p, pc) }
		}
		specs = append(specs, s)
	}
	e, err := host.New(host.Config{Plugins: specs}, host.WithLogger(r.log))
	if err != nil {
		return 0, 0, err
	}
	x, err := pool.New(poolConfig(h.simURL), e.Sink, e.PoolEvent, r.log)
	if err != nil {
		return 0, 0, err
	}
	if err := x.Start(ctx); err != nil {
		return 0, 0, err
	}
	defer x.Close()
	run := runEngine(e, x)
	defer run.stop()
	if err := started(e, len(specs)); err != nil {
		return 0, 0, err
	}
	settle()
	self, err := rss()
	if err != nil {
		return 0, 0, err
	}
	var kids uint64
	if iso == sandbox.IsolateProcess {
		var n int
		if kids, n, err = childrenRSS(h.cmd.Process.Pid); err != nil {
			return 0, 0, err
		}
		if n != len(specs) {
			return 0, 0, fmt.Errorf("%d plugin child processes, want %d", n, len(specs))
		}
	}
	return self, kids, nil
}
