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
func TestClusterStatusCommand(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	route := ln.Addr().String()
	ln.Close()
	h := cluster.NewPoolHolder()
	n, err := cluster.New(context.Background(), cluster.Config{Mode: cluster.ModeEmbedded, Name: "alpha", Region: "eu",
		ClusterListen: route, Routes: []string{route}}, h, h)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"cluster", "status", "--url", n.ClientURL()}, &out, io.Discard); err != nil {
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
	dir := t.TempDir()
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
