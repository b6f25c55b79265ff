package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stratbox/stratbox/control"
)

const ctlUsage = `usage: host ctl [--socket PATH | --url http://127.0.0.1:PORT --token-file FILE] COMMAND

Steers a running 'host run' through its control endpoint.

commands:
  status [--json]                       plugins, orders, positions and PnL, the pool, the limits in force
  kill                                  the kill switch (as SIGUSR1): cancel every order, refuse every intent
  pause NAME [--cancel]                 stop delivering events to a plugin; its orders stay unless --cancel
  resume NAME                           deliver events to a paused plugin again
  swap NAME FILE.wasm [--param k=v ...] hot swap (the API has it; this version of host run answers "not supported")
  reload                                re-read host run's --config: apply the risk limits, all or none; list what takes a restart

flags:`

// runCtl is `host ctl`.
func runCtl(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), ctlUsage); fs.PrintDefaults() }
	socket := fs.String("socket", "", "the control socket (default: [control] socket of --config, else "+control.DefaultSocket()+")")
	url := fs.String("url", "", "the control endpoint over HTTP on loopback, instead of the socket")
	tokenFile := fs.String("token-file", "", "the file holding the bearer token of --url")
	cfgPath := fs.String("config", "", "read [control] from this TOML config file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return fmt.Errorf("%w: ctl: no command", errUsage)
	}
	target, token, err := ctlTarget(*socket, *url, *tokenFile, *cfgPath)
	if err != nil {
		return err
	}
	c, err := control.NewClient(target, token)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd, rest := rest[0], rest[1:]
	sub := flag.NewFlagSet("ctl "+cmd, flag.ContinueOnError)
	sub.SetOutput(stderr)
	switch cmd {
	case "status":
		asJSON := sub.Bool("json", false, "print the status as JSON")
		if err := ctlArgs(sub, rest, 0); err != nil {
			return err
		}
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(st)
		}
		printCtlStatus(stdout, st)
		return nil
	case "kill":
		if err := ctlArgs(sub, rest, 0); err != nil {
			return err
		}
		n, err := c.Kill(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "kill switch on: %d orders cancelled, every new intent refused\n", n)
		return nil
	case "pause":
		cancelOrders := sub.Bool("cancel", false, "cancel the plugin's orders too")
		if err := ctlArgs(sub, rest, 1); err != nil {
			return err
		}
		name := sub.Arg(0)
		if err := c.Pause(ctx, name, *cancelOrders); err != nil {
			return err
		}
		if *cancelOrders {
			fmt.Fprintf(stdout, "%s paused, its orders cancelled\n", name)
		} else {
			fmt.Fprintf(stdout, "%s paused; its orders stay on the exchange\n", name)
		}
		return nil
	case "resume":
		if err := ctlArgs(sub, rest, 1); err != nil {
			return err
		}
		if err := c.Resume(ctx, sub.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s resumed\n", sub.Arg(0))
		return nil
	case "swap":
		params := swapParams{}
		sub.Var(params, "param", "k=v: a parameter for the new module (repeatable); the plugin's configured ones otherwise")
		if err := ctlArgs(sub, rest, 2); err != nil {
			return err
		}
		name, file := sub.Arg(0), sub.Arg(1)
		if _, err := os.Stat(file); err != nil {
			return fmt.Errorf("ctl swap: %w", err)
		}
		if err := c.Swap(ctx, name, file, params); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s now runs %s; its orders were handed over, none cancelled\n", name, file)
		return nil
	case "reload":
		if err := ctlArgs(sub, rest, 0); err != nil {
			return err
		}
		r, err := c.Reload(ctx)
		if err != nil {
			return err
		}
		if len(r.Applied) == 0 {
			fmt.Fprintln(stdout, "reloaded: nothing that can change live changed")
		} else {
			fmt.Fprintf(stdout, "reloaded: %s in force\n", strings.Join(r.Applied, ", "))
		}
		if len(r.Restart) > 0 {
			fmt.Fprintf(stdout, "changed, not applied until the host restarts (a plugin's params also with host ctl swap --param): %s\n", strings.Join(r.Restart, ", "))
		}
		return nil
	default:
		fs.Usage()
		return fmt.Errorf("%w: ctl: unknown command %q", errUsage, cmd)
	}
}

// ctlArgs parses a command's flags (before or after its arguments) and
// checks it got n arguments.
func ctlArgs(fs *flag.FlagSet, args []string, n int) error {
	var pos []string
	for len(args) > 0 {
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		args = fs.Args()
		if len(args) > 0 {
			pos, args = append(pos, args[0]), args[1:]
		}
	}
	if len(pos) != n {
		return fmt.Errorf("%w: ctl %s takes %d argument(s), got %d: %q", errUsage, strings.TrimPrefix(fs.Name(), "ctl "), n, len(pos), pos)
	}
	_ = fs.Parse(pos) // leaves them in fs.Args()
	return nil
}

// swapParams collects a swap's --param k=v (the host types them as the
// configuration file would).
type swapParams map[string]string

func (p swapParams) String() string { return "" }
func (p swapParams) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want k=v, got %q", v)
	}
	p[k] = val
	return nil
}

// ctlTarget chooses the endpoint: flags first, then [control] of the
// config file, then the default socket.
func ctlTarget(socket, url, tokenFile, cfgPath string) (target, token string, err error) {
	if socket != "" && url != "" {
		return "", "", fmt.Errorf("%w: ctl: --socket or --url, not both", errUsage)
	}
	if url != "" && !strings.HasPrefix(url, "http://") {
		return "", "", fmt.Errorf("%w: ctl: --url %q: want http://127.0.0.1:PORT (a socket goes with --socket)", errUsage, url)
	}
	var cc controlConfig
	if cfgPath != "" {
		cfg, err := loadConfig(cfgPath)
		if err != nil {
			return "", "", err
		}
		cc = cfg.Control
	}
	switch {
	case url != "":
		target = url
	case socket != "":
		target = socket
	case cc.HTTP != "":
		target, tokenFile = "http://"+cc.HTTP, cmp.Or(tokenFile, cc.TokenFile)
	default:
		target = cmp.Or(cc.Socket, control.DefaultSocket())
	}
	if strings.HasPrefix(target, "http://") {
		if tokenFile == "" {
			return "", "", fmt.Errorf("%w: ctl: an HTTP endpoint needs --token-file", errUsage)
		}
		token, err = readToken(tokenFile)
		if err != nil {
			return "", "", err
		}
	}
	return target, token, nil
}

// readToken reads a bearer token file as a secret file (readSecretFile:
// one line, refused when group or others can read it) of at least 16
// characters.
func readToken(path string) (string, error) {
	tok, err := readSecretFile("control.token_file", path)
	if err != nil {
		return "", err
	}
	if len(tok) < 16 || strings.ContainsAny(tok, " \t") {
		return "", errors.New("config: control.token_file " + path + ": want one line of at least 16 characters, no spaces")
	}
	return tok, nil
}

// printCtlStatus prints a status for a terminal.
func printCtlStatus(w io.Writer, st control.Status) {
	state := "trading"
	if st.Killed {
		state = "KILLED (every intent refused)"
	}
	fmt.Fprintf(w, "host %s, up %s, %s on %s; %d open orders\n", st.Version, st.Uptime.Round(time.Second), state, st.Exchange, st.OpenOrder)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PLUGIN\tSTATE\tCALLS\tAVG\tMAX\tFAULTS\tRESTARTS\tOPEN\tLAST FAULT")
	for _, p := range st.Plugins {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\t%d\t%d\t%s\n", p.Name, p.State, p.Calls, p.AvgCall, p.MaxCall, p.Faults, p.Restarts, p.OpenOrders, p.LastFault)
	}
	tw.Flush()
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "POSITION\tINSTRUMENT\tSIZE\tAVG PRICE\tREALIZED PNL\tUNREALIZED PNL")
	for _, p := range st.Plugins {
		for _, pos := range p.Positions {
			fmt.Fprintf(tw, "%s\t%s\t%+g\t%.2f\t%.8f\t%.8f\n", p.Name, pos.Instrument, pos.Size, pos.AvgPrice, pos.RealizedPnL, pos.UnrealizedPnL)
		}
	}
	for _, a := range st.Accounts {
		for _, pos := range a.Positions {
			fmt.Fprintf(tw, "account %s\t%s\t%+g\t%.2f\t%.8f\t%.8f\n", a.Name, pos.Instrument, pos.Size, pos.AvgPrice, pos.RealizedPnL, pos.UnrealizedPnL)
		}
	}
	tw.Flush()
	deg := ""
	if st.Pool.Degraded {
		deg = ", DEGRADED"
	}
	fmt.Fprintf(w, "pool: %d of %d connections healthy%s\n", st.Pool.Healthy, st.Pool.Size, deg)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CONN\tSTATE\tORDERS\tRECONNECTS\tLOSSES\tTEST_REQUESTS\tANSWERED\tMISSED\tP50\tP99\tMAX")
	for _, c := range st.Pool.Connections {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", c.ID, c.State, c.Orders, c.Reconnects, c.Losses,
			c.TestRequests, c.Answered, c.Missed, c.AnswerP50, c.AnswerP99, c.AnswerMax)
	}
	tw.Flush()
	if len(st.Limits) > 0 {
		fmt.Fprintln(w, "limits in force ([risk]; a plugin's [plugin.risk] overrides them for it):")
		for _, l := range st.Limits {
			fmt.Fprintf(w, "  %s = %s\n", l.Key, l.Value)
		}
	}
}
