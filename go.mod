module github.com/stratbox/stratbox

go 1.26.0

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/gorilla/websocket v1.5.3
	github.com/tetratelabs/wazero v1.12.0
)

require golang.org/x/sys v0.50.0
