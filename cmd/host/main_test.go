package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

func TestUsageErrors(t *testing.T) {
	var out, errb bytes.Buffer
	for _, args := range [][]string{nil, {"frobnicate"}, {"sim", "extra"}, {"sim", "--key", "nocolon"}} {
		err := run(context.Background(), args, &out, &errb)
		if err == nil {
			t.Fatalf("%v: no error", args)
		}
		if !errors.Is(err, errUsage) {
			t.Fatalf("%v: %v is not a usage error", args, err)
		}
	}
}

func TestSimCommandServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"sim", "--listen", "127.0.0.1:0", "--key", "me:secret", "--no-market"}, pw, io.Discard)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatal("no output")
	}
	first := lines.Text()
	url := first[strings.Index(first, "ws://"):]
	if !lines.Scan() || !strings.Contains(lines.Text(), "me") || strings.Contains(lines.Text(), "secret") {
		t.Fatalf("key line %q: must name the key id and never the secret", lines.Text())
	}
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":1,"method":"public/auth","params":{"grant_type":"client_credentials","client_id":"me","client_secret":"secret"}}`)); err != nil {
		t.Fatal(err)
	}
	_, data, err := ws.ReadMessage()
	if err != nil || !strings.Contains(string(data), "access_token") {
		t.Fatalf("auth through host sim: %s %v", data, err)
	}
	ws.Close()
	cancel()
	var rest strings.Builder
	for lines.Scan() {
		rest.WriteString(lines.Text())
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rest.String(), "simulator stopped: 1 connections accepted") {
		t.Fatalf("summary %q", rest.String())
	}
}

func TestInspect(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"inspect", "../../testdata/abi/cancel_on_timer.wasm"}, &out, io.Discard); err != nil {
		t.Fatalf("inspect: %v\n%s", err, out.String())
	}
	for _, want := range []string{"ABI:          1.0", "stratbox_on_events", "stratbox.set_timer", "would load:   yes", "empty config: starts"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("inspect output lacks %q:\n%s", want, out.String())
		}
	}
	// What inspect says will not load, host run refuses at load (one check: sandbox.Load).
	out.Reset()
	err := run(context.Background(), []string{"inspect", "../../internal/hostile/wasi_missing.wasm"}, &out, io.Discard)
	if err == nil || !strings.Contains(out.String(), "would load:   no") || !strings.Contains(out.String(), "wasi_snapshot_preview1.sock_open") {
		t.Fatalf("inspect of a plugin importing a missing WASI function: %v\n%s", err, out.String())
	}
	out.Reset()
	err = run(context.Background(), []string{"inspect", "../../host/sandbox/testdata/v2.wasm"}, &out, io.Discard)
	if err == nil || !strings.Contains(out.String(), "would load:   no") || !strings.Contains(out.String(), "ABI 2.0") {
		t.Fatalf("inspect of a v2 plugin: %v\n%s", err, out.String())
	}
}
