package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/stratbox/stratbox/cluster"
	"github.com/stratbox/stratbox/host"
	"github.com/stratbox/stratbox/pool"
)

// startCluster makes this host a cluster node holding its pool as "main"
// (no [cluster] section: a single in-process node with no port). A
// replacement connection the controller asks for is one more connection
// with this host's own keys (they never cross NATS); it serves the orders
// other nodes send and those re-established after a node's loss, not the
// engine's own (which trade on the pool). Every order request another
// member sends passes the engine's kill switch, validation and per-order
// limits first (eng.AdmitRemote). The returned func leaves the cluster.
func startCluster(ctx context.Context, c fileConfig, pc pool.Config, x *pool.Pool, eng *host.Engine, log *slog.Logger, stdout io.Writer) (*cluster.Node, func(), error) {
	cc, err := c.Cluster.config()
	if err != nil {
		return nil, nil, err
	}
	cc.Guard = func(o cluster.RemoteOrder) error { return eng.AdmitRemote(o.Method, o.Params, o.Instrument) }
	cc.OnAlert = func(a cluster.Alert) {
		state := "recovered"
		if a.Degraded {
			state = "DEGRADED"
		}
		fmt.Fprintf(stdout, "cluster: pool %s %s: %d of %d connections healthy across %d nodes\n",
			a.Pool, state, a.Health.Healthy, a.Health.Total, a.Health.Nodes)
	}
	cc.OnFailover = func(f cluster.Failover) {
		fmt.Fprintf(stdout, "cluster: connection %s/%s of pool %s replaced by %s/%s (%d orders re-established)\n",
			f.FromNode, f.FromConn, f.Pool, f.ToNode, f.ToConn, f.Reestablished)
	}
	h := cluster.NewPoolHolder()
	one := pc
	one.Size, one.MinHealthy, one.OrderChannels = 1, 1, 1
	if err := h.Add("main", x, func(context.Context) (*pool.Pool, error) {
		p, err := pool.New(one, nil, nil, log)
		if err != nil {
			return nil, err
		}
		if err := p.Start(ctx); err != nil {
			p.Close()
			return nil, err
		}
		return p, nil
	}); err != nil {
		return nil, nil, err
	}
	n, err := cluster.New(cc, h, h, cluster.WithLogger(log))
	if err == nil {
		err = n.Start(ctx)
	}
	if err != nil {
		h.Close()
		return nil, nil, err
	}
	where := "in-process, no port"
	if u := n.ClientURL(); u != "" {
		where = u
	}
	fmt.Fprintf(stdout, "cluster %s: node %s (region %s, %s)\n", orDefault(cc.Cluster, cluster.DefaultCluster), cc.Name,
		orDefault(cc.Region, "default"), where)
	return n, func() { n.Close(); h.Close() }, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func runCluster(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "credentials" {
		return runClusterCredentials(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "status" {
		fmt.Fprintln(stderr, "usage: host cluster status [--config host.toml | --url nats://host:port [--credentials file]] [--cluster name]\n"+
			"       host cluster credentials --out file [--status-user name]")
		return fmt.Errorf("%w: host cluster: want the subcommand status or credentials", errUsage)
	}
	fs := flag.NewFlagSet("host cluster status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "the host's TOML config: its [cluster] section says where the cluster is")
	url := fs.String("url", "", "a NATS server of the cluster (nats://host:port); overrides the config")
	name := fs.String("cluster", "", `the cluster's name (default: the config's, or "stratbox")`)
	creds := fs.String("credentials", "", "the cluster's credentials file (its [login] is used); default: the config's credentials_file")
	listen := fs.Duration("listen", 1500*time.Millisecond, "how long to listen for liveness messages (at least one node timeout)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: host cluster status takes no arguments", errUsage)
	}
	urls := *url
	var cs clusterConfig
	if urls == "" || *cfgPath != "" {
		if *cfgPath == "" {
			return fmt.Errorf("%w: host cluster status needs --url or --config", errUsage)
		}
		c, err := loadConfig(*cfgPath)
		if err != nil {
			return err
		}
		cs = c.Cluster
		if *name == "" {
			*name = c.Cluster.Cluster
		}
		switch c.Cluster.Mode {
		case "":
			if urls != "" {
				break
			}
			return fmt.Errorf("%s has no [cluster] mode: that host runs a single in-process node with no port, which only its own `host run` sees", *cfgPath)
		case string(cluster.ModeExternal):
			if urls == "" {
				urls = strings.Join(c.Cluster.URLs, ",")
			}
		case string(cluster.ModeEmbedded):
			if urls != "" {
				break
			}
			if c.Cluster.Listen == "" || strings.HasSuffix(c.Cluster.Listen, ":0") {
				return fmt.Errorf("%s: [cluster] listen is not a fixed address: give --url (the node prints its address at start)", *cfgPath)
			}
			urls = "nats://" + c.Cluster.Listen
		}
	}
	if *creds != "" {
		cs.CredentialsFile = *creds
	}
	auth, err := cs.auth()
	if err != nil {
		return err
	}
	opts, err := cluster.ConnectOptions(auth)
	if err != nil {
		return fmt.Errorf("cluster status: %w", err)
	}
	nc, err := nats.Connect(urls, append(opts, nats.Name("stratbox-cluster-status"), nats.Timeout(3*time.Second))...)
	if err != nil {
		hint := ""
		if errors.Is(err, nats.ErrAuthorization) {
			hint = " (the cluster refused this login: give --credentials, or the config's credentials_file, with a [login] the nodes list in their [[users]])"
		}
		return fmt.Errorf("cluster status: connect to %s: %w%s", cluster.Redact(urls), err, hint)
	}
	defer nc.Close()
	st, err := cluster.ReadStatus(ctx, nc, *name, *listen)
	if err != nil {
		return err
	}
	return st.Write(stdout)
}
