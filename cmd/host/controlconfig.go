package main

import (
	"fmt"
	"net"
	"strings"
)

// controlConfig is the [control] section: where `host run` serves its
// control endpoint and where `host ctl` finds it.
type controlConfig struct {
	// Disabled turns the endpoint off (`host ctl` then cannot reach the host).
	Disabled bool `toml:"disabled"`
	// Socket is the Unix socket's path (default: control.DefaultSocket()).
	Socket string `toml:"socket"`
	// HTTP serves the endpoint over HTTP on this loopback host:port as
	// well, with the bearer token of TokenFile.
	HTTP string `toml:"http"`
	// TokenFile holds the bearer token of HTTP (one line, mode 0600).
	TokenFile string `toml:"token_file"`
}

func (c controlConfig) validate() error {
	if c.HTTP == "" {
		if c.TokenFile != "" {
			return fmt.Errorf("config: control.token_file is set without control.http")
		}
		return nil
	}
	host, _, err := net.SplitHostPort(c.HTTP)
	if err != nil {
		return fmt.Errorf("config: control.http %q: want host:port on loopback", c.HTTP)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("config: control.http %q is beyond loopback: the control endpoint steers the host and serves loopback only", c.HTTP)
	}
	if strings.TrimSpace(c.TokenFile) == "" {
		return fmt.Errorf("config: control.http needs control.token_file (a file holding a bearer token, mode 0600)")
	}
	return nil
}
