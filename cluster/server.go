package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

// startServer starts this node's NATS server (local and embedded modes)
// and waits until it accepts connections. It returns the server and the
// temporary store directory to remove on Close ("" if none).
func startServer(c Config, log *slog.Logger, k keys, ref *refusals) (*server.Server, string, error) {
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
	if err := secure(opts, c, k); err != nil {
		return fail(err)
	}
	var peers []string // the routes this node dials, but its own
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
			if err := secureRoutes(opts, c); err != nil {
				return fail(err)
			}
			for _, r := range routes {
				if r.Host != c.ClusterListen {
					peers = append(peers, r.Host)
				}
			}
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return fail(fmt.Errorf("cluster: nats server: %w", err))
	}
	// The server's log is always read: a route that a peer refuses (wrong
	// credentials, a certificate it does not trust) ends the start with
	// that reason rather than a wait for a quorum that cannot form.
	ref.peers = len(peers)
	s.SetLoggerV2(natsLogger{l: log.With("nats", c.Name), on: c.NATSLog, peers: peers, ref: ref}, false, false, false)
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return fail(fmt.Errorf("cluster: nats server %s not ready for connections within 10s (listen %q, cluster_listen %q: in use?)",
			c.Name, c.Listen, c.ClusterListen))
	}
	return s, tmp, nil
}

// connect opens the node's NATS connection: in-process to its own server
// as the node's member key (kp), or with the configured login to the
// external cluster's URLs.
func connect(c Config, s *server.Server, kp nkeys.KeyPair, errs nats.ErrHandler) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name("stratbox-" + c.Name), nats.MaxReconnects(-1),
		nats.ReconnectWait(100 * time.Millisecond), nats.Timeout(5 * time.Second)}
	if errs != nil {
		opts = append(opts, nats.ErrorHandler(errs))
	}
	var url string
	if s != nil {
		opts = append(opts, nats.InProcessServer(s), nkeyOption(kp))
	} else {
		url = strings.Join(c.URLs, ",")
		lo, err := loginOptions(c.Auth.Login, c.Auth.TLS)
		if err != nil {
			return nil, err
		}
		opts = append(append(opts, lo...), nats.RetryOnFailedConnect(false))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		if s == nil {
			return nil, fmt.Errorf("cluster: connect to %s: %w%s", Redact(url), err, authHint(err))
		}
		return nil, fmt.Errorf("cluster: connect in-process: %w", err)
	}
	return nc, nil
}

// authHint says what to check after a refused login.
func authHint(err error) string {
	if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) {
		return " (the server refused this login: check user and password, or nkey_seed, in the credentials file)"
	}
	if strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "x509:") {
		return " (TLS: check tls_ca, tls_cert and tls_key)"
	}
	return ""
}

// buckets are the shared KV stores.
type buckets struct {
	reg, leases, claims jetstream.KeyValue
}

func bucketName(cluster, what string) string { return "stratbox_" + cluster + "_" + what }

// openBuckets creates (or binds to) the shared buckets, retrying until ctx
// ends: a clustered node's first bucket needs a JetStream quorum, which
// exists only once enough peers have joined (error 10005 "no suitable
// peers" until then). admin (nil in external mode) creates or updates
// them, js binds them (see bucket). Routes refused by every peer (ref)
// end the wait at once.
func openBuckets(ctx context.Context, admin, js jetstream.JetStream, c Config, log *slog.Logger, ref *refusals) (buckets, error) {
	var allRefused <-chan error
	if ref != nil {
		allRefused = ref.all
	}
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
			kv, err := bucket(cctx, admin, js, kc)
			cancel()
			if err == nil {
				kvs[i] = kv
				break
			}
			if ctx.Err() != nil {
				return buckets{}, fmt.Errorf("cluster: bucket %s (replicas %d): %w (last: %v)%s", kc.Bucket, kc.Replicas, ctx.Err(), err, ref.summary())
			}
			if attempt%10 == 0 {
				log.Debug("cluster: bucket not ready, retrying", "bucket", kc.Bucket, "err", err)
			}
			select {
			case <-ctx.Done():
			case err := <-allRefused:
				return buckets{}, err
			case <-time.After(100 * time.Millisecond): // the wall clock: a quorum forms in real time, within Start's ctx
			}
		}
	}
	return buckets{reg: kvs[0], leases: kvs[1], claims: kvs[2]}, nil
}

// bucket creates or updates a bucket with admin and binds it with js (the
// node's own connection, which may not create or delete streams). Without
// admin (external mode) an existing bucket is bound as it is, and only a
// missing one is created (which the cluster's operator may not allow).
func bucket(ctx context.Context, admin, js jetstream.JetStream, kc jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	if admin == nil {
		kv, err := js.KeyValue(ctx, kc.Bucket)
		if err == nil || !errors.Is(err, jetstream.ErrBucketNotFound) {
			return kv, err
		}
		return js.CreateOrUpdateKeyValue(ctx, kc)
	}
	if _, err := admin.CreateOrUpdateKeyValue(ctx, kc); err != nil {
		return nil, err
	}
	return js.KeyValue(ctx, kc.Bucket)
}

// refusals collects the peers that refused this node's routes. Each is
// logged once; when every peer has refused, the start cannot succeed and
// all gets the reason at once (a node refused by some only waits for the
// others, and its timeout names the refusals).
type refusals struct {
	log   *slog.Logger
	peers int
	all   chan error
	mu    sync.Mutex
	by    map[string]error
}

func newRefusals(log *slog.Logger) *refusals {
	return &refusals{log: log, all: make(chan error, 1), by: map[string]error{}}
}

func (r *refusals) add(peer string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, seen := r.by[peer]; !seen {
		r.log.Warn(err.Error())
	}
	r.by[peer] = err
	if len(r.by) == r.peers {
		select {
		case r.all <- fmt.Errorf("cluster: every peer refused this node's routes: %w", r.joinLocked()):
		default:
		}
	}
}

func (r *refusals) joinLocked() error {
	var errs []error
	for _, p := range slices.Sorted(maps.Keys(r.by)) {
		errs = append(errs, r.by[p])
	}
	return errors.Join(errs...)
}

func (r *refusals) summary() string {
	if r == nil {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.by) == 0 {
		return ""
	}
	return "; " + strings.ReplaceAll(r.joinLocked().Error(), "\n", "; ")
}

// natsLogger routes nats-server's log to slog (when on) and tells ref of
// a route to a peer that the peer refused.
type natsLogger struct {
	l     *slog.Logger
	on    bool
	peers []string // host:port of the routes this node dials
	ref   *refusals
}

func (n natsLogger) Noticef(f string, a ...any) { n.log(slog.LevelDebug, f, a) }
func (n natsLogger) Warnf(f string, a ...any)   { n.log(slog.LevelWarn, f, a) }
func (n natsLogger) Fatalf(f string, a ...any)  { n.log(slog.LevelError, f, a) }
func (n natsLogger) Errorf(f string, a ...any)  { n.log(slog.LevelWarn, f, a) }
func (n natsLogger) Debugf(f string, a ...any)  { n.log(slog.LevelDebug, f, a) }
func (n natsLogger) Tracef(f string, a ...any)  {}

func (n natsLogger) log(level slog.Level, f string, a []any) {
	if level < slog.LevelWarn && !n.on {
		return
	}
	msg := fmt.Sprintf(f, a...)
	if level >= slog.LevelWarn && n.ref != nil {
		if peer, err := routeRefused(msg, n.peers); err != nil {
			n.ref.add(peer, err)
		}
	}
	if n.on {
		n.l.Log(context.Background(), level, msg)
	}
}

// routeRefused recognises, in a line of the server's log, a route this
// node dialled that its peer refused: an authorization violation, or a TLS
// handshake that failed.
func routeRefused(msg string, peers []string) (string, error) {
	refused := strings.Contains(msg, "Route Error") && strings.Contains(msg, "Authorization Violation")
	tlsErr := strings.Contains(msg, "TLS route handshake error")
	if !refused && !tlsErr {
		return "", nil
	}
	for _, p := range peers {
		if !strings.Contains(msg, p+" - rid:") {
			continue // not a route this node dialled (a refused stranger's, for one)
		}
		if refused {
			return p, fmt.Errorf("cluster: the route to %s was refused (authorization violation): its route_user and route_password (credentials file) differ from this node's, or it requires a certificate", p)
		}
		_, detail, _ := strings.Cut(msg, "handshake error: ")
		return p, fmt.Errorf("cluster: the route to %s failed its TLS handshake (%s): check tls_cert, tls_key and tls_ca on both", p, detail)
	}
	return "", nil
}

var errClosed = errors.New("cluster: node closed")
