package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/stratbox/stratbox/control"
	"github.com/stratbox/stratbox/host"
	"github.com/stratbox/stratbox/pool"
)

// controlHost is the control endpoint's view of a running `host run`.
type controlHost struct {
	eng      *host.Engine
	pool     *pool.Pool
	exchange string
	started  time.Time
	killed   func(n int) // prints the kill switch line
	reload   *reloader   // nil: no configuration file (reload.go)
}

func (h *controlHost) Status(context.Context) (control.Status, error) {
	es, ps := h.eng.Stats(), h.pool.Stats()
	st := control.Status{Version: version(), Started: h.started, Uptime: time.Since(h.started), Exchange: h.exchange,
		Killed: es.Killed, Limits: riskLimits(h.eng.Risk().Default),
		Pool: control.Pool{Healthy: ps.Healthy, Size: ps.Total, Degraded: ps.Degraded}}
	for _, p := range es.Plugins {
		state := "running"
		switch {
		case p.Down:
			state = "down"
		case p.Paused:
			state = "paused"
		}
		cp := control.Plugin{Name: p.Name, State: state, Calls: p.Calls, Faults: p.Faults, OpenOrders: p.OpenOrders,
			Restarts: max(p.Starts, 1) - 1}
		if p.Calls > 0 {
			cp.AvgCall = (p.CallTime / time.Duration(p.Calls)).String()
			cp.MaxCall = p.MaxCallTime.String()
		}
		if p.LastFault != nil {
			cp.LastFault = p.LastFault.Line()
		}
		for _, pos := range p.Positions {
			cp.Positions = append(cp.Positions, control.Position{Instrument: pos.Instrument, Size: pos.Size.Float64(),
				AvgPrice: pos.AvgPrice, RealizedPnL: pos.RealizedPnL, UnrealizedPnL: pos.UnrealizedPnL})
		}
		st.OpenOrder += p.OpenOrders
		st.Plugins = append(st.Plugins, cp)
	}
	for _, m := range ps.Members {
		hb := m.Heartbeat
		c := control.Connection{ID: m.ID, State: m.State.String(), Orders: m.Carried, Reconnects: m.Reconnects,
			Losses: m.Losses, TestRequests: hb.TestRequests, Answered: hb.Answered, Missed: hb.Missed}
		if hb.AnswerLatency.Count > 0 {
			c.AnswerP50, c.AnswerP99, c.AnswerMax = hb.AnswerLatency.P50.String(), hb.AnswerLatency.P99.String(), hb.AnswerLatency.Max.String()
		}
		st.Pool.Connections = append(st.Pool.Connections, c)
	}
	return st, nil
}

func (h *controlHost) Kill(context.Context) (int, error) {
	n := h.eng.Kill()
	h.killed(n)
	return n, nil
}

func (h *controlHost) Pause(_ context.Context, name string, cancel bool) error {
	_, err := h.eng.Pause(name, cancel)
	return controlErr(err)
}

func (h *controlHost) Resume(_ context.Context, name string) error {
	return controlErr(h.eng.Resume(name))
}

func (h *controlHost) Swap(context.Context, string, string, map[string]string) error {
	return fmt.Errorf("%w: hot swap is not in this version of the host (its orders would have to be handed to the new module at start)", control.ErrUnsupported)
}

func (h *controlHost) Reload(context.Context) (control.Reload, error) { return h.reload.reload() }

// version is the host's module version and VCS revision, as the build
// recorded them.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}

// controlErr maps the engine's errors to the endpoint's codes.
func controlErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, host.ErrUnknownPlugin):
		return errors.Join(control.ErrUnknownPlugin, err)
	case errors.Is(err, host.ErrPauseState):
		return errors.Join(control.ErrConflict, err)
	}
	return err
}

// riskLimits lists the limits in force for status.
func riskLimits(r host.RiskLimits) []control.Limit {
	f := func(v float64) string {
		if v <= 0 {
			return "none"
		}
		return fmt.Sprint(v)
	}
	return []control.Limit{
		{Key: "risk.max_order_amount", Value: f(r.MaxOrderAmount.Float64())},
		{Key: "risk.max_open_orders", Value: f(float64(r.MaxOpenOrders))},
		{Key: "risk.max_position", Value: f(r.MaxPosition.Float64())},
		{Key: "risk.max_notional", Value: f(r.MaxNotional)},
		{Key: "risk.price_band_bps", Value: f(r.PriceBandBps)},
		{Key: "risk.intents_per_second", Value: f(rateInForce(r.IntentsPerSecond, host.DefaultIntentsPerSecond))},
		{Key: "risk.intent_burst", Value: f(rateInForce(float64(r.IntentBurst), host.DefaultIntentBurst))},
		{Key: "risk.flood_limit", Value: f(rateInForce(float64(r.FloodLimit), host.DefaultFloodLimit))},
	}
}

// rateInForce is a rate limit in force: 0 is its default, negative none.
func rateInForce(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

// serveControl opens the control endpoint of a run ([control]) and serves
// h on it until ctx ends; it prints where. The default socket held by
// another running host gives way to one named after this process.
func serveControl(ctx context.Context, cc controlConfig, h control.Host, log *slog.Logger, stdout io.Writer) (stop func(), err error) {
	if cc.Disabled {
		return func() {}, nil
	}
	var lns []net.Listener
	path := cc.Socket
	if path == "" {
		path = control.DefaultSocket()
	}
	if err := control.MakeSocketDir(path); err != nil {
		return nil, err
	}
	ln, err := control.ListenUnix(path)
	if errors.Is(err, control.ErrInUse) && cc.Socket == "" {
		path = filepath.Join(filepath.Dir(path), fmt.Sprintf("stratbox-%d.sock", os.Getpid()))
		ln, err = control.ListenUnix(path)
	}
	if err != nil {
		return nil, err
	}
	lns = append(lns, ln)
	if cc.Socket == "" && path != control.DefaultSocket() {
		fmt.Fprintf(stdout, "control: another host listens on %s: this one on %s (host ctl --socket %s status)\n", control.DefaultSocket(), path, path)
	} else {
		fmt.Fprintf(stdout, "control: %s (host ctl status)\n", path)
	}
	var opts []control.Option
	if cc.HTTP != "" {
		token, err := readToken(cc.TokenFile)
		if err != nil {
			ln.Close()
			return nil, err
		}
		tl, err := control.ListenTCP(cc.HTTP)
		if err != nil {
			ln.Close()
			return nil, err
		}
		lns = append(lns, tl)
		opts = append(opts, control.WithToken(token))
		fmt.Fprintf(stdout, "control: http://%s (bearer token of %s)\n", tl.Addr(), cc.TokenFile)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, len(lns))
	for i, l := range lns {
		o := []control.Option{control.WithLogger(log)}
		if i > 0 {
			o = append(o, opts...)
		}
		go func() {
			if err := control.Serve(ctx, l, h, o...); err != nil {
				log.Warn("control endpoint", "err", err)
			}
			done <- struct{}{}
		}()
	}
	return func() {
		cancel()
		for range lns {
			<-done
		}
	}, nil
}
