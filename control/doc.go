// Package control is the control endpoint of a running host and its client:
// what `host run` serves and `host ctl` speaks.
//
// The endpoint is one small JSON API over HTTP/1.1, served on a Unix socket
// by default (ListenUnix: mode 0600, so only the host's user can reach it) or
// on a loopback TCP address with a bearer token (ListenTCP). The server asks
// a Host for everything: it holds no state of its own and knows nothing of
// the engine, so it imports only the standard library.
//
//	GET  /v1/status                      Status
//	POST /v1/kill                        the kill switch (as SIGUSR1)
//	POST /v1/plugins/{name}/pause        {"cancel": bool}: stop delivering events; cancel its orders if asked
//	POST /v1/plugins/{name}/resume       deliver again
//	POST /v1/plugins/{name}/swap         {"file": path, "params": {k: v}}: hot swap (see Host.Swap) → Swapped
//	POST /v1/reload                      re-read the configuration file
//
// Errors come back as {"error": text, "code": name} with an HTTP status
// that fits (404 unknown_plugin, 409 conflict, 400 bad_request, 401
// unauthorized, 501 unsupported, 500 failed); the Client turns them into
// *Error values that errors.Is matches against ErrUnknownPlugin and the
// other sentinels.
package control
