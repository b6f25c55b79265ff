package cluster

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Mode is how a node reaches NATS.
type Mode string

// Modes.
const (
	// ModeLocal (the zero value, no [cluster] section): one in-process
	// server that opens no port, R1 buckets; the same code path as a
	// cluster, with this node as its only member.
	ModeLocal Mode = ""
	// ModeEmbedded: this host's process runs a NATS server that joins the
	// others over routes (Config.Routes); R3 buckets from three nodes on.
	ModeEmbedded Mode = "embedded"
	// ModeExternal: connect to an existing NATS cluster (Config.URLs).
	ModeExternal Mode = "external"
)

// Placement chooses where a replacement connection goes.
type Placement string

// Placements.
const (
	// Spread prefers the region with the fewest healthy connections of the
	// pool, so that one region's loss leaves the pool alive (default).
	Spread Placement = "spread"
	// Closest prefers the region with the lowest latency to the exchange.
	Closest Placement = "closest"
)

// Defaults of Config.
const (
	DefaultCluster           = "stratbox"
	DefaultHeartbeatInterval = 250 * time.Millisecond
	DefaultPublishInterval   = time.Second
	DefaultLeaseTTL          = 2 * time.Second
	DefaultFailAfter         = 3 * time.Second
	DefaultRequestTimeout    = 5 * time.Second
	DefaultOpenTimeout       = 15 * time.Second
	DefaultStartTimeout      = 30 * time.Second
	DefaultReestablishWait   = 5 * time.Second
	DefaultMaxMemory         = 64 << 20
)

// ErrConfig is wrapped by every error Config.Validate returns.
var ErrConfig = errors.New("cluster: invalid config")

// Config configures a Node.
type Config struct {
	Mode Mode
	// Cluster names the cluster (NATS cluster name, subject and bucket
	// prefix). Default "stratbox".
	Cluster string
	// Name is this node's unique name. Required.
	Name string
	// Region labels where this node runs (e.g. "eu-west"); placement
	// reads it. Default "default".
	Region string
	// Listen is the NATS client listener of an embedded node ("host:port";
	// default 127.0.0.1:0, a free port; nats-server#5174 forbids none).
	Listen string
	// ClusterListen is the route listener of an embedded node. Required
	// in embedded mode.
	ClusterListen string
	// Routes are every member's route address ("host:port" or
	// nats-route://host:port), this node's own included. Embedded mode:
	// one (alone) or three and more.
	Routes []string
	// URLs are the servers of an external cluster (nats://host:port).
	URLs []string
	// Replicas of the shared buckets: default 3 when embedded with three
	// or more routes, else 1; external: default 1.
	Replicas int
	// StoreDir is JetStream's directory (embedded and local); default a
	// temporary directory removed by Close.
	StoreDir string
	// MaxMemory caps JetStream's memory (default 64 MiB).
	MaxMemory int64
	// Placement of replacement connections: Spread (default) or Closest.
	Placement Placement
	// MinHealthy: a pool with fewer healthy connections cluster-wide is
	// degraded (default 0: only failed connections degrade it).
	MinHealthy int

	// HeartbeatInterval is the period of the liveness messages (plain
	// NATS, default 250ms); NodeTimeout (default 6 intervals) without one
	// and a node is gone.
	HeartbeatInterval time.Duration
	NodeTimeout       time.Duration
	// PublishInterval is the period of the registry writes (default 1s);
	// RegistryTTL (default 3 intervals) without one and an entry expires.
	PublishInterval time.Duration
	RegistryTTL     time.Duration
	// LeaseTTL is the controller lease's lifetime, renewed every quarter
	// (default 2s).
	LeaseTTL time.Duration
	// FailAfter: a connection failed this long on a live node is replaced
	// elsewhere (default 3s; its own reconnection gets that long).
	FailAfter time.Duration
	// RequestTimeout bounds a remote order request (default 5s),
	// OpenTimeout a remote open (default 15s), StartTimeout Start.
	RequestTimeout time.Duration
	OpenTimeout    time.Duration
	StartTimeout   time.Duration
	// ReestablishWait bounds how long the controller waits for the
	// exchange to report a lost node's order cancelled (default 5s).
	ReestablishWait time.Duration

	// Auth secures the node's NATS: logins of the client listener, route
	// authentication, TLS, this node's own login to an external cluster.
	// An embedded node listening beyond loopback needs TLS and route
	// authentication.
	Auth Auth
	// Guard, when set, admits or refuses each order request another member
	// sends to this node's connections, after the method allow-list
	// (RemoteAllowed): the host wires its kill switch, validation and risk
	// limits here. Nil: the allow-list only.
	Guard func(RemoteOrder) error

	// NATSLog routes the embedded server's own log to the node's logger
	// (WithLogger) as well.
	NATSLog bool
	// Fitness overrides the node's measured fitness (tests, operators).
	Fitness func() Fitness
	// OnAlert is told of every change of a pool's degradation; it must
	// not block.
	OnAlert func(Alert)
	// OnFailover is told of every failover this node carried out as the
	// controller; it must not block.
	OnFailover func(Failover)
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidName reports whether s can name a node, a pool, a connection or a
// cluster (it becomes a NATS subject token and a KV key token).
func ValidName(s string) bool { return nameRE.MatchString(s) }

// Validate reports the first invalid field.
func (c Config) Validate() error {
	bad := func(f string, a ...any) error { return fmt.Errorf("%w: "+f, append([]any{ErrConfig}, a...)...) }
	if c.Cluster != "" && !ValidName(c.Cluster) {
		return bad("cluster name %q: want letters, digits, - or _", c.Cluster)
	}
	if !ValidName(c.Name) {
		return bad("node name %q: want 1-64 letters, digits, - or _", c.Name)
	}
	if c.Region != "" && !ValidName(c.Region) {
		return bad("region %q: want letters, digits, - or _", c.Region)
	}
	switch c.Placement {
	case "", Spread, Closest:
	default:
		return bad("placement %q: want %s or %s", c.Placement, Spread, Closest)
	}
	for _, d := range []struct {
		n string
		v time.Duration
	}{{"heartbeat_interval", c.HeartbeatInterval}, {"node_timeout", c.NodeTimeout}, {"publish_interval", c.PublishInterval},
		{"registry_ttl", c.RegistryTTL}, {"lease_ttl", c.LeaseTTL}, {"fail_after", c.FailAfter},
		{"request_timeout", c.RequestTimeout}, {"open_timeout", c.OpenTimeout}, {"start_timeout", c.StartTimeout},
		{"reestablish_wait", c.ReestablishWait}} {
		if d.v < 0 {
			return bad("%s is negative", d.n)
		}
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		return bad("replicas %d: want 1..5", c.Replicas)
	}
	if c.MinHealthy < 0 {
		return bad("min_healthy is negative")
	}
	d := c.withDefaults()
	if d.NodeTimeout < 2*d.HeartbeatInterval {
		return bad("node_timeout %v is less than two heartbeat intervals (%v)", d.NodeTimeout, d.HeartbeatInterval)
	}
	if d.RegistryTTL < 2*d.PublishInterval {
		return bad("registry_ttl %v is less than two publish intervals (%v)", d.RegistryTTL, d.PublishInterval)
	}
	if d.LeaseTTL < time.Second/2 {
		return bad("lease_ttl %v is below 500ms", d.LeaseTTL)
	}
	if err := c.Auth.validate(bad); err != nil {
		return err
	}
	switch c.Mode {
	case ModeLocal:
		if len(c.Routes) > 0 || len(c.URLs) > 0 || c.ClusterListen != "" || c.Listen != "" {
			return bad("mode is local (no [cluster] mode): listen, cluster_listen, routes and urls need mode embedded or external")
		}
	case ModeEmbedded:
		if len(c.URLs) > 0 {
			return bad("urls are for mode external; embedded nodes list routes")
		}
		if c.Listen != "" {
			if _, err := hostPort(c.Listen); err != nil {
				return bad("listen %q: %v", c.Listen, err)
			}
		}
		if c.ClusterListen == "" {
			return bad("mode embedded needs cluster_listen (this node's route address)")
		}
		if _, err := hostPort(c.ClusterListen); err != nil {
			return bad("cluster_listen %q: %v", c.ClusterListen, err)
		}
		if len(c.Routes) == 2 {
			return bad("two routes: a two-node cluster has no quorum after one loss; run one node, or three and more (a NATS-only witness is enough)")
		}
		if _, err := routeURLs(c.Routes); err != nil {
			return bad("%v", err)
		}
		if c.Replicas > 1 && c.Replicas > len(c.Routes) {
			return bad("replicas %d with %d routes", c.Replicas, len(c.Routes))
		}
		if err := c.exposed(bad); err != nil {
			return err
		}
	case ModeExternal:
		if len(c.URLs) == 0 {
			return bad("mode external needs urls (nats://host:port of the existing cluster)")
		}
		for _, u := range c.URLs {
			p, err := url.Parse(u)
			if err != nil || (p.Scheme != "nats" && p.Scheme != "tls") || p.Host == "" {
				return bad("url %q: want nats://host:port or tls://host:port", Redact(u))
			}
			if p.User != nil {
				return bad("url %s carries a login: put it in the credentials file (user and password, or nkey_seed)", Redact(u))
			}
		}
		if len(c.Routes) > 0 || c.ClusterListen != "" || c.Listen != "" {
			return bad("mode external: listen, cluster_listen and routes are for mode embedded")
		}
	default:
		return bad("mode %q: want embedded or external (or no mode: a single in-process node)", c.Mode)
	}
	return nil
}

func hostPort(s string) (int, error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return 0, err
	}
	if h == "" {
		return 0, fmt.Errorf("no host")
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return 0, fmt.Errorf("bad port %q", p)
	}
	return n, nil
}

func routeURLs(routes []string) ([]*url.URL, error) {
	var out []*url.URL
	for _, r := range routes {
		s := r
		if !strings.Contains(s, "://") {
			s = "nats-route://" + s
		}
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("route %q: want host:port or nats-route://host:port", Redact(r))
		}
		if u.User != nil {
			return nil, fmt.Errorf("route %s carries a login: put route_user and route_password in the credentials file", Redact(r))
		}
		if _, err := hostPort(u.Host); err != nil {
			return nil, fmt.Errorf("route %q: %v", Redact(r), err)
		}
		out = append(out, u)
	}
	return out, nil
}

func (c Config) withDefaults() Config {
	if c.Cluster == "" {
		c.Cluster = DefaultCluster
	}
	if c.Region == "" {
		c.Region = "default"
	}
	if c.Placement == "" {
		c.Placement = Spread
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.NodeTimeout == 0 {
		c.NodeTimeout = 6 * c.HeartbeatInterval
	}
	if c.PublishInterval == 0 {
		c.PublishInterval = DefaultPublishInterval
	}
	if c.RegistryTTL == 0 {
		c.RegistryTTL = 3 * c.PublishInterval
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.FailAfter == 0 {
		c.FailAfter = DefaultFailAfter
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.OpenTimeout == 0 {
		c.OpenTimeout = DefaultOpenTimeout
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.ReestablishWait == 0 {
		c.ReestablishWait = DefaultReestablishWait
	}
	if c.MaxMemory == 0 {
		c.MaxMemory = DefaultMaxMemory
	}
	if c.Replicas == 0 {
		c.Replicas = 1
		if c.Mode == ModeEmbedded && len(c.Routes) >= 3 {
			c.Replicas = 3
		}
	}
	return c
}
