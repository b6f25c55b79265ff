package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/stratbox/stratbox/cluster"
)

// clusterConfig is the [cluster] section. Without it the host runs one
// in-process cluster node that opens no port (the same code path).
type clusterConfig struct {
	// Mode: "" (default: one in-process node, no port), "embedded" (this
	// host's process is a NATS cluster member: cluster_listen, routes) or
	// "external" (connect to an existing NATS cluster: urls).
	Mode string `toml:"mode"`
	// Name is this node's name (default: the host name).
	Name string `toml:"name"`
	// Cluster names the cluster (default "stratbox").
	Cluster string `toml:"cluster"`
	// Region labels where this node runs; placement reads it.
	Region string `toml:"region"`
	// Listen is an embedded node's NATS client address (default
	// 127.0.0.1:0); `host cluster status` connects there.
	Listen string `toml:"listen"`
	// ClusterListen is an embedded node's route address.
	ClusterListen string `toml:"cluster_listen"`
	// Routes are every member's route address, this node's included: one,
	// or three and more.
	Routes []string `toml:"routes"`
	// URLs are an external cluster's servers (nats://host:port).
	URLs []string `toml:"urls"`
	// Replicas of the shared buckets (default 3 with three routes or more, else 1).
	Replicas int `toml:"replicas"`
	// Placement of replacement connections: "spread" (default) or "closest".
	Placement string `toml:"placement"`
	// MinHealthy: fewer healthy connections of a pool cluster-wide is degraded.
	MinHealthy int `toml:"min_healthy"`
	// StoreDir is JetStream's directory (default: a temporary one).
	StoreDir string `toml:"store_dir"`
	// CredentialsFile holds the cluster's secrets (see credentialsFile):
	// route password, the logins of the client listener, this host's own
	// login. It must not be readable by group or others.
	CredentialsFile string `toml:"credentials_file"`
	// TLS of the client and route listeners (embedded) or of the
	// connection (external): PEM files; tls_verify requires the peer's
	// certificate signed by tls_ca (mutual TLS; on routes it is enough to
	// authenticate a member).
	TLSCert   string `toml:"tls_cert"`
	TLSKey    string `toml:"tls_key"`
	TLSCA     string `toml:"tls_ca"`
	TLSVerify bool   `toml:"tls_verify"`
	// Timings (defaults in package cluster).
	HeartbeatInterval duration `toml:"heartbeat_interval"`
	NodeTimeout       duration `toml:"node_timeout"`
	PublishInterval   duration `toml:"publish_interval"`
	LeaseTTL          duration `toml:"lease_ttl"`
	FailAfter         duration `toml:"fail_after"`
}

var notName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// config turns the section into a cluster.Config (checked).
func (c clusterConfig) config() (cluster.Config, error) {
	name := c.Name
	if name == "" {
		h, _ := os.Hostname()
		name = strings.Trim(notName.ReplaceAllString(h, "-"), "-")
		if len(name) > 64 {
			name = name[:64]
		}
		if name == "" {
			name = "host"
		}
	}
	cc := cluster.Config{Mode: cluster.Mode(c.Mode), Name: name, Cluster: c.Cluster, Region: c.Region, Listen: c.Listen,
		ClusterListen: c.ClusterListen, Routes: c.Routes, URLs: c.URLs, Replicas: c.Replicas,
		Placement: cluster.Placement(c.Placement), MinHealthy: c.MinHealthy, StoreDir: c.StoreDir,
		HeartbeatInterval: c.HeartbeatInterval.Duration, NodeTimeout: c.NodeTimeout.Duration,
		PublishInterval: c.PublishInterval.Duration, LeaseTTL: c.LeaseTTL.Duration, FailAfter: c.FailAfter.Duration}
	auth, err := c.auth()
	if err != nil {
		return cc, err
	}
	cc.Auth = auth
	if err := cc.Validate(); err != nil {
		return cc, fmt.Errorf("config: [cluster]: %w", err)
	}
	return cc, nil
}

// credentialsFile is the TOML file credentials_file names: the cluster's
// secrets, kept out of host.toml.
//
//	route_user = "route"            # routes: the same on every member
//	route_password = "…"
//	[login]                         # this host's own login over TCP
//	user = "n1"                     #   (external mode, host cluster status)
//	password = "…"                  #   or nkey_seed = "SU…"
//	[[users]]                       # logins of an embedded node's listener
//	name = "ops"
//	password = "…"                  #   or nkey = "U…" (a public key)
//	role = "status"                 #   or "member" (name = its node's name)
type credentialsFile struct {
	RouteUser     string `toml:"route_user"`
	RoutePassword string `toml:"route_password"`
	Login         struct {
		User     string `toml:"user"`
		Password string `toml:"password"`
		NKeySeed string `toml:"nkey_seed"`
	} `toml:"login"`
	Users []struct {
		Name     string `toml:"name"`
		Password string `toml:"password"`
		NKey     string `toml:"nkey"`
		Role     string `toml:"role"`
	} `toml:"users"`
}

// auth reads the credentials file (if any) and the TLS keys into a
// cluster.Auth. An error names the file and never quotes a secret.
func (c clusterConfig) auth() (cluster.Auth, error) {
	a := cluster.Auth{TLS: cluster.TLS{Cert: c.TLSCert, Key: c.TLSKey, CA: c.TLSCA, Verify: c.TLSVerify}}
	if c.CredentialsFile == "" {
		return a, nil
	}
	f, err := loadCredentials(c.CredentialsFile)
	if err != nil {
		return a, fmt.Errorf("config: [cluster] credentials_file %s: %w", c.CredentialsFile, err)
	}
	a.RouteUser, a.RoutePassword = f.RouteUser, f.RoutePassword
	a.Login = cluster.Login{User: f.Login.User, Password: f.Login.Password, NKeySeed: f.Login.NKeySeed}
	for _, u := range f.Users {
		a.Users = append(a.Users, cluster.User{Name: u.Name, Password: u.Password, NKey: u.NKey, Role: cluster.Role(u.Role)})
	}
	return a, nil
}

func loadCredentials(path string) (credentialsFile, error) {
	var f credentialsFile
	st, err := os.Stat(path)
	if err != nil {
		return f, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return f, fmt.Errorf("readable by group or others (mode %04o): chmod 600 it", st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return f, err
	}
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&f)
	if err != nil {
		// The decoder's message may quote the line: keep only its position.
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return f, fmt.Errorf("not valid TOML (line %d)", pe.Position.Line)
		}
		return f, fmt.Errorf("not valid TOML: wrong type of a key")
	}
	if u := md.Undecoded(); len(u) > 0 {
		var keys []string
		for _, k := range u {
			keys = append(keys, k.String())
		}
		return f, fmt.Errorf("unknown key(s): %s", strings.Join(keys, ", "))
	}
	if f.RouteUser == "" && f.RoutePassword == "" && f.Login.User == "" && f.Login.NKeySeed == "" && len(f.Users) == 0 {
		return f, fmt.Errorf("no credentials in it (route_user/route_password, [login], [[users]])")
	}
	return f, nil
}
