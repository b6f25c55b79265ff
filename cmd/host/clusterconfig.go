package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"

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
	if err := cc.Validate(); err != nil {
		return cc, fmt.Errorf("config: [cluster]: %w", err)
	}
	return cc, nil
}
