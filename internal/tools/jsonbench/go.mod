module github.com/stratbox/stratbox/internal/tools/jsonbench

go 1.26.0

require (
	github.com/buger/jsonparser v1.6.1
	github.com/stratbox/stratbox v0.0.0
	github.com/valyala/fastjson v1.6.10
)

require github.com/gorilla/websocket v1.5.3 // indirect

replace github.com/stratbox/stratbox => ../../..
