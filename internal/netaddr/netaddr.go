// Package netaddr answers the one question about network addresses that the
// connection, telemetry and cluster configurations all ask: does this
// address stay on the machine? It is nobody's API.
package netaddr

import "net"

// LoopbackHost reports whether host (a name or an IP, no port) is loopback:
// "localhost", 127.0.0.0/8 or ::1.
func LoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Loopback reports whether a host:port listen or dial address is loopback
// only; an empty host (every interface) or a malformed address is not.
func Loopback(hostport string) bool {
	h, _, err := net.SplitHostPort(hostport)
	return err == nil && LoopbackHost(h)
}
