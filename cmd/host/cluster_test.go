package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stratbox/stratbox/cluster"
)

func TestClusterConfig(t *testing.T) {
	c, err := parseConfig("t", []byte("[cluster]\nmode = \"embedded\"\nname = \"a\"\nregion = \"eu\"\ncluster_listen = \"127.0.0.1:6222\"\nroutes = [\"127.0.0.1:6222\", \"127.0.0.2:6222\", \"127.0.0.3:6222\"]\nplacement = \"closest\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	cc, err := c.Cluster.config()
	if err != nil || cc.Mode != cluster.ModeEmbedded || cc.Name != "a" || cc.Region != "eu" || len(cc.Routes) != 3 || cc.Placement != cluster.Closest {
		t.Fatalf("%+v %v", cc, err)
	}
	// No section: a local node named after the host.
	if cc, err := (clusterConfig{}).config(); err != nil || cc.Mode != cluster.ModeLocal || !cluster.ValidName(cc.Name) {
		t.Fatalf("default: %+v %v", cc, err)
	}
	for _, bad := range []struct{ toml, want string }{
		{"[cluster]\nmode = \"mesh\"\nname = \"a\"", `mode "mesh"`},
		{"[cluster]\nmode = \"embedded\"\nname = \"a\"\ncluster_listen = \"x:1\"\nroutes = [\"x:1\", \"y:1\"]", "two-node"},
		{"[cluster]\nmode = \"external\"\nname = \"a\"", "needs urls"},
		{"[cluster]\nname = \"a\"\nroutes = [\"x:1\"]", "need mode embedded"},
		{"[cluster]\nname = \"a b\"", "node name"},
		{"[cluster]\nnodes = 3", "unknown key"},
	} {
		_, err := parseConfig("t", []byte(bad.toml))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want %q", bad.toml, err, bad.want)
		}
	}
}

// host cluster status against a running one-node embedded cluster.
// The credentials file: every mistake is named, no secret is quoted.
func TestClusterCredentialsFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "route_user = \"r\"\nroute_password = \"pw-123\"\n[[users]]\nname = \"ops\"\npassword = \"pw-456\"\nrole = \"status\"\n", 0o600)
	a, err := clusterConfig{CredentialsFile: good}.auth()
	if err != nil || a.RoutePassword != "pw-123" || len(a.Users) != 1 || a.Users[0].Role != cluster.RoleStatus {
		t.Fatalf("good file: %+v %v", a, err)
	}
	for _, bad := range []struct{ path, want string }{
		{filepath.Join(dir, "missing"), "no such file"},
		{write("open", "route_user = \"r\"\nroute_password = \"pw-open\"\n", 0o644), "readable by group or others (mode 0644)"},
		{write("syntax", "route_password = \"pw-syntax\n", 0o600), "not valid TOML (line 1)"},
		{write("unknown", "route_pasword = \"pw-typo\"\n", 0o600), "unknown key(s): route_pasword"},
		{write("empty", "# nothing\n", 0o600), "no credentials"},
	} {
		_, err := clusterConfig{CredentialsFile: bad.path}.auth()
		if err == nil || !strings.Contains(err.Error(), bad.path) || !strings.Contains(err.Error(), bad.want) || strings.Contains(err.Error(), "pw-") {
			t.Errorf("%s: %v, want an error naming the file and %q, quoting no secret", bad.path, err, bad.want)
		}
	}
	// Checked with the rest of the config: a user without a role.
	p := write("norole", "[[users]]\nname = \"ops\"\npassword = \"pw-789\"\n", 0o600)
	_, err = parseConfig("t", []byte("[cluster]\nname = \"a\"\ncredentials_file = \""+p+"\"\n"))
	if err == nil || !strings.Contains(err.Error(), "user ops: role") || strings.Contains(err.Error(), "pw-") {
		t.Fatalf("no role: %v", err)
	}
	// Beyond loopback without TLS or route authentication: refused, naming both.
	_, err = parseConfig("t", []byte("[cluster]\nmode = \"embedded\"\nname = \"a\"\ncluster_listen = \"0.0.0.0:6222\"\nroutes = [\"10.0.0.1:6222\", \"10.0.0.2:6222\", \"10.0.0.3:6222\"]\n"))
	if err == nil || !strings.Contains(err.Error(), "beyond loopback") || !strings.Contains(err.Error(), "tls_cert") || !strings.Contains(err.Error(), "route_password") {
		t.Fatalf("exposed without auth: %v", err)
	}
}

// host cluster credentials writes a file the config loads, 0600, never
// twice, printing no secret.
func TestClusterCredentialsCommand(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cluster.credentials")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"cluster", "credentials", "--out", p}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the file: %v %v", st, err)
	}
	f, err := loadCredentials(p)
	if err != nil || len(f.RoutePassword) != 64 || f.Login.User != "ops" || len(f.Users) != 1 || f.Users[0].Password != f.Login.Password {
		t.Fatalf("loaded: %+v %v", f, err)
	}
	if strings.Contains(out.String(), f.RoutePassword) || strings.Contains(out.String(), f.Login.Password) {
		t.Fatalf("a secret was printed: %s", out.String())
	}
	if _, err := (clusterConfig{CredentialsFile: p}.config()); err != nil {
		t.Fatalf("as credentials_file: %v", err)
	}
	before, _ := os.ReadFile(p)
	if err := run(context.Background(), []string{"cluster", "credentials", "--out", p}, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "exists") {
		t.Fatalf("a second time: %v", err)
	}
	if after, _ := os.ReadFile(p); !bytes.Equal(before, after) {
		t.Fatal("the existing file was changed")
	}
	if err := run(context.Background(), []string{"cluster", "credentials"}, io.Discard, io.Discard); !errors.Is(err, errUsage) {
		t.Fatalf("no --out: %v", err)
	}
}

func TestClusterStatusCommand(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	route := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	creds := filepath.Join(dir, "cluster.creds")
	if err := os.WriteFile(creds, []byte("[login]\nuser = \"ops\"\npassword = \"s3cret-ops\"\n[[users]]\nname = \"ops\"\npassword = \"s3cret-ops\"\nrole = \"status\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	auth, err := clusterConfig{CredentialsFile: creds}.auth()
	if err != nil {
		t.Fatal(err)
	}
	h := cluster.NewPoolHolder()
	n, err := cluster.New(cluster.Config{Mode: cluster.ModeEmbedded, Name: "alpha", Region: "eu",
		ClusterListen: route, Routes: []string{route}, Auth: auth}, h, h)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"cluster", "status", "--url", n.ClientURL(), "--credentials", creds}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cluster stratbox: 1 nodes, controller alpha", "alpha", "eu", "true"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("status lacks %q:\n%s", want, out.String())
		}
	}
	// Bad input: clear errors.
	if err := run(context.Background(), []string{"cluster"}, io.Discard, io.Discard); !errors.Is(err, errUsage) {
		t.Fatalf("no subcommand: %v", err)
	}
	if err := run(context.Background(), []string{"cluster", "status"}, io.Discard, io.Discard); !errors.Is(err, errUsage) {
		t.Fatalf("no url or config: %v", err)
	}
	// Without a login the node refuses the status reader, and says why.
	if err := run(context.Background(), []string{"cluster", "status", "--url", n.ClientURL()}, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "refused this login") {
		t.Fatalf("anonymous status: %v", err)
	}
	// A password in the URL is never printed.
	u := strings.Replace(n.ClientURL(), "nats://", "nats://ops:hunter2@", 1)
	if err := run(context.Background(), []string{"cluster", "status", "--url", u + "0"}, io.Discard, io.Discard); err == nil ||
		strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "ops:xxxxx@") {
		t.Fatalf("a URL's password: %v", err)
	}
	cfg := filepath.Join(dir, "h.toml")
	_ = os.WriteFile(cfg, []byte("[cluster]\nname = \"x\"\n"), 0o644)
	if err := run(context.Background(), []string{"cluster", "status", "--config", cfg}, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "single in-process node") {
		t.Fatalf("local mode: %v", err)
	}
	ln, _ = net.Listen("tcp", "127.0.0.1:0")
	dead := "nats://127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	if err := run(context.Background(), []string{"cluster", "status", "--url", dead}, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "connect to "+dead) {
		t.Fatalf("unreachable: %v", err)
	}
}
