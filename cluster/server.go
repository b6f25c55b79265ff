package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startServer starts this node's NATS server (local and embedded modes)
// and waits until it accepts connections. It returns the server and the
// temporary store directory to remove on Close ("" if none).
func startServer(c Config) (*server.Server, string, error) {
	opts := &server.Options{
		ServerName:         c.Name,
		JetStream:          true,
		JetStreamMaxMemory: c.MaxMemory,
		JetStreamMaxStore:  c.MaxMemory,
		NoSigs:             true,
		NoLog:              !c.NATSLog,
		StoreDir:           c.StoreDir,
	}
	tmp := ""
	if opts.StoreDir == "" {
		d, err := os.MkdirTemp("", "stratbox-nats-"+c.Name+"-")
		if err != nil {
			return nil, "", fmt.Errorf("cluster: store dir: %w", err)
		}
		opts.StoreDir, tmp = d, d
	}
	fail := func(err error) (*server.Server, string, error) {
		if tmp != "" {
			os.RemoveAll(tmp)
		}
		return nil, "", err
	}
	switch c.Mode {
	case ModeLocal:
		// No TCP port at all: the node talks to its server in-process.
		opts.DontListen = true
	case ModeEmbedded:
		// A client listener is required for routes to start
		// (nats-server#5174); the host itself still connects in-process.
		opts.Host, opts.Port = "127.0.0.1", server.RANDOM_PORT
		if c.Listen != "" {
			h, _, _ := net.SplitHostPort(c.Listen)
			opts.Host = h
			if opts.Port, _ = hostPort(c.Listen); opts.Port == 0 {
				opts.Port = server.RANDOM_PORT
			}
		}
		routes, err := routeURLs(c.Routes)
		if err != nil {
			return fail(fmt.Errorf("%w: %v", ErrConfig, err))
		}
		// One route (this node's own): a one-node cluster, a standalone
		// server with a client listener (clustered JetStream would wait
		// for peers that do not exist).
		if len(routes) > 1 {
			h, _, _ := net.SplitHostPort(c.ClusterListen)
			cp, _ := hostPort(c.ClusterListen)
			opts.Cluster = server.ClusterOpts{Name: c.Cluster, Host: h, Port: cp,
				// A crashed peer is seen at once (TCP reset); a partition or a
				// power loss within ~3 s rather than the default 4 min.
				PingInterval: time.Second, MaxPingsOut: 3}
			opts.Routes = routes
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return fail(fmt.Errorf("cluster: nats server: %w", err))
	}
	if c.NATSLog {
		s.SetLoggerV2(natsLogger{c.Logger.With("nats", c.Name)}, false, false, false)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return fail(fmt.Errorf("cluster: nats server %s not ready for connections within 10s (listen %q, cluster_listen %q: in use?)",
			c.Name, c.Listen, c.ClusterListen))
	}
	return s, tmp, nil
}

// connect opens the node's NATS connection: in-process to its own server,
// or to the external cluster's URLs.
func connect(c Config, s *server.Server) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name("stratbox-" + c.Name), nats.MaxReconnects(-1),
		nats.ReconnectWait(100 * time.Millisecond), nats.Timeout(5 * time.Second)}
	var url string
	if s != nil {
		opts = append(opts, nats.InProcessServer(s))
	} else {
		url = strings.Join(c.URLs, ",")
		opts = append(opts, nats.RetryOnFailedConnect(false))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		if s == nil {
			return nil, fmt.Errorf("cluster: connect to %s: %w", url, err)
		}
		return nil, fmt.Errorf("cluster: connect in-process: %w", err)
	}
	return nc, nil
}

// buckets are the shared KV stores.
type buckets struct {
	reg, leases, claims jetstream.KeyValue
}

func bucketName(cluster, what string) string { return "stratbox_" + cluster + "_" + what }

// openBuckets creates (or binds to) the shared buckets, retrying until ctx
// ends: a clustered node's first bucket needs a JetStream quorum, which
// exists only once enough peers have joined (error 10005 "no suitable
// peers" until then).
func openBuckets(ctx context.Context, js jetstream.JetStream, c Config, log *slog.Logger) (buckets, error) {
	cfgs := []jetstream.KeyValueConfig{
		// The registry: every node re-puts its keys every PublishInterval,
		// which renews the bucket's TTL; a crashed node's keys expire and
		// watchers see the marker (LimitMarkerTTL).
		{Bucket: bucketName(c.Cluster, "registry"), History: 1, TTL: c.RegistryTTL, LimitMarkerTTL: max(time.Second, c.RegistryTTL),
			Storage: jetstream.MemoryStorage, Replicas: c.Replicas, Description: "stratbox registry: nodes and connections"},
		// The controller lease: renewed by CAS every LeaseTTL/4; the bucket
		// TTL removes it when its holder stops renewing.
		{Bucket: bucketName(c.Cluster, "leases"), History: 1, TTL: c.LeaseTTL,
			Storage: jetstream.MemoryStorage, Replicas: c.Replicas, Description: "stratbox controller lease"},
		// Claims: created once per failover incident and per lost order,
		// never updated; Create's "only if absent" is the exactly-once.
		{Bucket: bucketName(c.Cluster, "claims"), History: 1, TTL: time.Hour,
			Storage: jetstream.MemoryStorage, Replicas: c.Replicas, Description: "stratbox failover claims"},
	}
	kvs := make([]jetstream.KeyValue, len(cfgs))
	for i, kc := range cfgs {
		for attempt := 0; ; attempt++ {
			// Short attempts: until the JetStream meta leader is elected, a
			// request is not answered at all.
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			kv, err := js.CreateOrUpdateKeyValue(cctx, kc)
			cancel()
			if err == nil {
				kvs[i] = kv
				break
			}
			if ctx.Err() != nil {
				return buckets{}, fmt.Errorf("cluster: bucket %s (replicas %d): %w (last: %v)", kc.Bucket, kc.Replicas, ctx.Err(), err)
			}
			if attempt%10 == 0 {
				log.Debug("cluster: bucket not ready, retrying", "bucket", kc.Bucket, "err", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return buckets{reg: kvs[0], leases: kvs[1], claims: kvs[2]}, nil
}

// natsLogger routes nats-server's log to slog.
type natsLogger struct{ l *slog.Logger }

func (n natsLogger) Noticef(f string, a ...any) { n.l.Debug(fmt.Sprintf(f, a...)) }
func (n natsLogger) Warnf(f string, a ...any)   { n.l.Warn(fmt.Sprintf(f, a...)) }
func (n natsLogger) Fatalf(f string, a ...any)  { n.l.Error(fmt.Sprintf(f, a...)) }
func (n natsLogger) Errorf(f string, a ...any)  { n.l.Warn(fmt.Sprintf(f, a...)) }
func (n natsLogger) Debugf(f string, a ...any)  { n.l.Debug(fmt.Sprintf(f, a...)) }
func (n natsLogger) Tracef(f string, a ...any)  {}

var errClosed = errors.New("cluster: node closed")
