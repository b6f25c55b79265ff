package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/stratbox/stratbox/internal/netaddr"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Auth secures a node's NATS. An embedded node's client listener never
// admits an anonymous client: the node itself connects in-process with a
// key made at start (one that may publish only what members publish, and
// one for creating the buckets, used at start only), and the Users are the
// only other logins. Its routes require RouteUser and RoutePassword, or a
// certificate signed by TLS.CA (TLS.Verify). A node that listens beyond
// loopback refuses to start without TLS and without route authentication.
type Auth struct {
	// RouteUser and RoutePassword: every member's routes present them and
	// require them (the same on every member).
	RouteUser, RoutePassword string
	// Users may log in to an embedded node's client listener.
	Users []User
	// Login is this node's own login when it connects over TCP (external
	// mode, `host cluster status`).
	Login Login
	// TLS of an embedded node's client and route listeners, and of the
	// connection to an external cluster.
	TLS TLS
}

// Role is what a User may do.
type Role string

// Roles.
const (
	// RoleStatus reads the registry, the lease and the liveness messages
	// (host cluster status), and publishes nothing else.
	RoleStatus Role = "status"
	// RoleMember may publish what a member publishes, as the node named
	// by the user's Name: its liveness messages, its registry entries,
	// order requests and controller commands to other members, the
	// replies to its own order subject; never $JS administration.
	RoleMember Role = "member"
)

// User is one login of an embedded node's client listener: a password or
// an nkey (its public key, "U…").
type User struct {
	Name     string
	Password string
	NKey     string
	Role     Role
}

// Login is a node's (or a tool's) own credentials: a user and password, or
// an nkey seed ("SU…").
type Login struct {
	User, Password string
	NKeySeed       string
}

// TLS names PEM files. Verify requires the peer's certificate, signed by
// CA, on both listeners (mutual TLS); on routes it authenticates a member
// by itself. A route's certificate must name its host (IP or DNS SAN).
type TLS struct {
	Cert, Key, CA string
	Verify        bool
}

func (t TLS) on() bool { return t.Cert != "" }

func (a Auth) validate(bad func(string, ...any) error) error {
	if (a.RouteUser == "") != (a.RoutePassword == "") {
		return bad("route_user and route_password go together")
	}
	for i, u := range a.Users {
		who := u.Name
		if who == "" {
			who = fmt.Sprintf("#%d", i+1)
		}
		switch {
		case u.Role != RoleStatus && u.Role != RoleMember:
			return bad("user %s: role %q: want %s or %s", who, u.Role, RoleStatus, RoleMember)
		case (u.Password == "") == (u.NKey == ""):
			return bad("user %s: give a password or an nkey (one of them)", who)
		case u.NKey != "" && !nkeys.IsValidPublicUserKey(u.NKey):
			return bad("user %s: nkey is not a user public key (U…)", who)
		case u.Password != "" && u.Name == "":
			return bad("user %s: a password needs a name", who)
		case u.Role == RoleMember && !ValidName(u.Name):
			return bad("user %s: a member's name is its node's name (letters, digits, - or _)", who)
		}
	}
	if a.Login.NKeySeed != "" {
		if a.Login.Password != "" {
			return bad("login: a password or an nkey seed, not both")
		}
		if _, err := nkeys.FromSeed([]byte(a.Login.NKeySeed)); err != nil {
			return bad("login: nkey seed: %v", err)
		}
	}
	if (a.TLS.Cert == "") != (a.TLS.Key == "") {
		return bad("tls_cert and tls_key go together")
	}
	if a.TLS.Verify && a.TLS.CA == "" {
		return bad("tls_verify needs tls_ca (the authority that signs the members' certificates)")
	}
	return nil
}

// loopback reports whether a listen address's host only accepts local
// connections ("" and 0.0.0.0 are every interface).
func loopback(hostport string) bool { return netaddr.Loopback(hostport) }

// exposed checks an embedded node that listens beyond loopback: TLS on
// both listeners and authenticated routes, or an error naming what is
// missing.
func (c Config) exposed(bad func(string, ...any) error) error {
	var where []string
	if c.Listen != "" && !loopback(c.Listen) {
		where = append(where, "listen "+c.Listen)
	}
	if c.ClusterListen != "" && !loopback(c.ClusterListen) {
		where = append(where, "cluster_listen "+c.ClusterListen)
	}
	if len(where) == 0 {
		return nil
	}
	var missing []string
	if !c.Auth.TLS.on() {
		missing = append(missing, "tls_cert and tls_key (passwords and orders would cross the network in clear)")
	}
	if c.Auth.RoutePassword == "" && !c.Auth.TLS.Verify {
		missing = append(missing, "route authentication (route_user and route_password in the credentials file, or tls_verify with tls_ca)")
	}
	if len(missing) == 0 {
		return nil
	}
	return bad("%s is beyond loopback and lacks %s", strings.Join(where, " and "), strings.Join(missing, "; "))
}

// tlsConfig loads the TLS files, refusing a certificate that has expired
// or is not yet valid (naming the file).
func (t TLS) config(verify bool) (*tls.Config, error) {
	for _, f := range []struct{ what, path string }{{"tls_cert", t.Cert}, {"tls_ca", t.CA}} {
		if f.path == "" {
			continue
		}
		if err := checkCertFile(f.path); err != nil {
			return nil, fmt.Errorf("%w: %s %s: %v", ErrConfig, f.what, f.path, err)
		}
	}
	cfg, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: t.Cert, KeyFile: t.Key, CaFile: t.CA, Verify: verify, Timeout: 2})
	if err != nil {
		return nil, fmt.Errorf("%w: tls (%s, %s, %s): %v", ErrConfig, t.Cert, t.Key, t.CA, err)
	}
	// Routes are dialled with the same config: the CA checks the peer too.
	cfg.RootCAs = cfg.ClientCAs
	return cfg, nil
}

func checkCertFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	now := time.Now() // the wall clock, as TLS checks a certificate's validity
	n := 0
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		n++
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return fmt.Errorf("certificate %d: %v", n, err)
		}
		if now.After(c.NotAfter) {
			return fmt.Errorf("certificate %q expired on %s", c.Subject.CommonName, c.NotAfter.UTC().Format(time.RFC3339))
		}
		if now.Before(c.NotBefore) {
			return fmt.Errorf("certificate %q is not valid before %s", c.Subject.CommonName, c.NotBefore.UTC().Format(time.RFC3339))
		}
	}
	if n == 0 {
		return fmt.Errorf("no PEM certificate in it")
	}
	return nil
}

// keys are the in-process logins a node makes at start.
type keys struct {
	admin, member nkeys.KeyPair
}

func newKeys() (keys, error) {
	a, err := nkeys.CreateUser()
	if err != nil {
		return keys{}, fmt.Errorf("cluster: nkey: %w", err)
	}
	m, err := nkeys.CreateUser()
	if err != nil {
		return keys{}, fmt.Errorf("cluster: nkey: %w", err)
	}
	return keys{admin: a, member: m}, nil
}

func nkeyOption(kp nkeys.KeyPair) nats.Option {
	pub, _ := kp.PublicKey()
	return nats.Nkey(pub, kp.Sign)
}

var bucketKinds = []string{"registry", "leases", "claims"}

// jsRead are the JetStream API subjects a KV reader needs on bucket b: bind
// (stream info), get (direct), watch (an ordered consumer and its flow
// control). Nothing that creates, changes, purges or deletes a stream.
func jsRead(b string) []string {
	s := "KV_" + b
	return []string{"$JS.API.STREAM.INFO." + s, "$JS.API.DIRECT.GET." + s, "$JS.API.DIRECT.GET." + s + ".>",
		"$JS.API.STREAM.MSG.GET." + s, "$JS.API.CONSUMER.CREATE." + s, "$JS.API.CONSUMER.CREATE." + s + ".>",
		"$JS.API.CONSUMER.INFO." + s + ".>", "$JS.API.CONSUMER.DELETE." + s + ".>", "$JS.FC." + s + ".>"}
}

// memberPermissions is what node may do: publish its liveness messages,
// its own node record and connection records (the controller deletes a
// lost node's), the lease and the claims, order requests and controller
// commands to any member, replies to what it was asked; subscribe to the
// liveness messages, its own order and command subjects and its inboxes.
func memberPermissions(cluster, node string) *server.Permissions {
	p := "stratbox." + cluster + "."
	reg, leases, claims := bucketName(cluster, "registry"), bucketName(cluster, "leases"), bucketName(cluster, "claims")
	pub := []string{p + "hb." + node, p + "orders.*.*", p + "ctl.*",
		"$KV." + reg + ".node." + node, "$KV." + reg + ".conn.>", "$KV." + leases + ".>", "$KV." + claims + ".>"}
	for _, k := range bucketKinds {
		pub = append(pub, jsRead(bucketName(cluster, k))...)
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: []string{p + "hb.*", p + "ctl." + node, p + "orders.*." + node, "_INBOX.>"}},
		Response:  &server.ResponsePermission{MaxMsgs: 1, Expires: 2 * time.Minute},
	}
}

// statusPermissions reads the registry, the lease and the liveness
// messages.
func statusPermissions(cluster string) *server.Permissions {
	var pub []string
	for _, k := range []string{"registry", "leases"} {
		pub = append(pub, jsRead(bucketName(cluster, k))...)
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: []string{"stratbox." + cluster + ".hb.*", "_INBOX.>"}},
	}
}

func (u User) permissions(cluster string) *server.Permissions {
	if u.Role == RoleMember {
		return memberPermissions(cluster, u.Name)
	}
	return statusPermissions(cluster)
}

// secure sets an embedded or local server's authentication: the node's
// own in-process keys, the configured users, TLS, route authentication.
func secure(opts *server.Options, c Config, k keys) error {
	adminPub, _ := k.admin.PublicKey()
	memberPub, _ := k.member.PublicKey()
	opts.Nkeys = []*server.NkeyUser{{Nkey: adminPub}, {Nkey: memberPub, Permissions: memberPermissions(c.Cluster, c.Name)}}
	for _, u := range c.Auth.Users {
		if u.NKey != "" {
			opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: u.NKey, Permissions: u.permissions(c.Cluster)})
		} else {
			opts.Users = append(opts.Users, &server.User{Username: u.Name, Password: u.Password, Permissions: u.permissions(c.Cluster)})
		}
	}
	opts.AuthTimeout = 2
	if c.Mode != ModeEmbedded || !c.Auth.TLS.on() {
		return nil
	}
	cfg, err := c.Auth.TLS.config(c.Auth.TLS.Verify)
	if err != nil {
		return err
	}
	opts.TLSConfig, opts.TLSTimeout, opts.TLSVerify = cfg, 2, c.Auth.TLS.Verify
	return nil
}

// secureRoutes sets the route listener's TLS and authentication, and puts
// the route credentials into the URLs this node dials.
func secureRoutes(opts *server.Options, c Config) error {
	a := c.Auth
	opts.Cluster.Username, opts.Cluster.Password = a.RouteUser, a.RoutePassword
	opts.Cluster.AuthTimeout = 2
	if a.RouteUser != "" {
		for _, u := range opts.Routes {
			u.User = url.UserPassword(a.RouteUser, a.RoutePassword)
		}
	}
	if a.TLS.on() {
		cfg, err := a.TLS.config(a.TLS.Verify)
		if err != nil {
			return err
		}
		opts.Cluster.TLSConfig, opts.Cluster.TLSTimeout = cfg, 2
	}
	return nil
}

// loginOptions are the NATS options of a TCP connection made with login
// and tls (external mode, host cluster status).
func loginOptions(l Login, t TLS) ([]nats.Option, error) {
	var opts []nats.Option
	switch {
	case l.NKeySeed != "":
		kp, err := nkeys.FromSeed([]byte(l.NKeySeed))
		if err != nil {
			return nil, fmt.Errorf("%w: login nkey seed: %v", ErrConfig, err)
		}
		opts = append(opts, nkeyOption(kp))
	case l.User != "":
		opts = append(opts, nats.UserInfo(l.User, l.Password))
	}
	if t.CA != "" {
		if err := checkCertFile(t.CA); err != nil {
			return nil, fmt.Errorf("%w: tls_ca %s: %v", ErrConfig, t.CA, err)
		}
		opts = append(opts, nats.RootCAs(t.CA))
	}
	if t.Cert != "" {
		if err := checkCertFile(t.Cert); err != nil {
			return nil, fmt.Errorf("%w: tls_cert %s: %v", ErrConfig, t.Cert, err)
		}
		opts = append(opts, nats.ClientCert(t.Cert, t.Key))
	}
	return opts, nil
}

// ConnectOptions are the NATS options a tool (host cluster status) uses to
// reach a cluster with a's login and TLS.
func ConnectOptions(a Auth) ([]nats.Option, error) { return loginOptions(a.Login, a.TLS) }

// Redact hides the passwords in a list of URLs (comma-separated), for
// errors and logs: nats://user:pass@host becomes nats://user:xxxxx@host.
func Redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, s := range parts {
		u, err := url.Parse(strings.TrimSpace(s))
		if err == nil && u.User == nil {
			continue
		}
		if err == nil {
			parts[i] = u.Redacted()
			if _, has := u.User.Password(); !has && u.User.Username() != "" {
				// nats://token@host: the user part is the secret.
				u.User = url.User("xxxxx")
				parts[i] = u.String()
			}
			continue
		}
		// Not a URL: drop whatever precedes an @.
		if at := strings.LastIndex(s, "@"); at >= 0 {
			scheme, _, ok := strings.Cut(s, "://")
			parts[i] = "xxxxx" + s[at:]
			if ok {
				parts[i] = scheme + "://" + parts[i]
			}
		}
	}
	return strings.Join(parts, ",")
}
