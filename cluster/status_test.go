package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// kvEntry is a registry entry as a KV watch delivers it.
type kvEntry struct {
	key string
	val []byte
	op  jetstream.KeyValueOp
}

func (e kvEntry) Bucket() string                  { return "registry" }
func (e kvEntry) Key() string                     { return e.key }
func (e kvEntry) Value() []byte                   { return e.val }
func (e kvEntry) Revision() uint64                { return 1 }
func (e kvEntry) Created() time.Time              { return time.Time{} }
func (e kvEntry) Delta() uint64                   { return 0 }
func (e kvEntry) Operation() jetstream.KeyValueOp { return e.op }

func putConn(t *testing.T, node, id string) jetstream.KeyValueEntry {
	b, err := json.Marshal(ConnRecord{Pool: "main", Node: node, ID: id, State: "ready"})
	if err != nil {
		t.Fatal(err)
	}
	return kvEntry{key: connKey("main", node, id), val: b, op: jetstream.KeyValuePut}
}

// The status from outside follows the registry for the whole of listen:
// an kvEntry that expired just before the read (its node's write late under
// load) and came back is counted, one retired meanwhile is not, a record
// under another key than its own is ignored, and listen ending before the
// registry's current values have arrived waits for them.
func TestWatchRegistry(t *testing.T) {
	updates := make(chan jetstream.KeyValueEntry)
	listen := make(chan time.Time)
	type result struct {
		conns map[string]ConnRecord
		nodes map[string]NodeRecord
		err   error
	}
	done := make(chan result, 1)
	go func() {
		nodes, conns, err := watchRegistry(context.Background(), updates, listen)
		done <- result{conns, nodes, err}
	}()
	nodeRec, _ := json.Marshal(NodeRecord{Name: "n1"})
	updates <- kvEntry{key: "node.n1", val: nodeRec, op: jetstream.KeyValuePut}
	updates <- putConn(t, "n1", "m0")
	updates <- putConn(t, "n1", "m1")
	updates <- kvEntry{key: connKey("main", "n1", "m1"), op: jetstream.KeyValuePurge} // expired
	liar := putConn(t, "n2", "m0").(kvEntry)
	liar.key = connKey("main", "n1", "m7")
	updates <- liar
	listen <- time.Time{} // listen over, the current values not yet all in: reads on
	updates <- putConn(t, "n2", "m0")
	updates <- nil
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := slices.Sorted(maps.Keys(r.conns)); !slices.Equal(got, []string{connKey("main", "n1", "m0"), connKey("main", "n2", "m0")}) {
		t.Fatalf("connections %v", got)
	}
	if len(r.nodes) != 1 || r.nodes["n1"].Name != "n1" {
		t.Fatalf("nodes %v", r.nodes)
	}

	// After the current values, within listen: the kvEntry that expired
	// comes back, a retired one goes.
	go func() {
		nodes, conns, err := watchRegistry(context.Background(), updates, listen)
		done <- result{conns, nodes, err}
	}()
	updates <- putConn(t, "n1", "m0")
	updates <- putConn(t, "n1", "m1")
	updates <- nil
	updates <- kvEntry{key: connKey("main", "n1", "m1"), op: jetstream.KeyValuePurge}
	updates <- kvEntry{key: connKey("main", "n1", "m0"), op: jetstream.KeyValueDelete}
	updates <- putConn(t, "n1", "m1")
	listen <- time.Time{}
	r = <-done
	if got := slices.Sorted(maps.Keys(r.conns)); r.err != nil || !slices.Equal(got, []string{connKey("main", "n1", "m1")}) {
		t.Fatalf("connections %v, %v", got, r.err)
	}

	// A watch that ends, or a context that does: an error, not a partial view.
	closed := make(chan jetstream.KeyValueEntry)
	close(closed)
	if _, _, err := watchRegistry(context.Background(), closed, nil); err == nil {
		t.Fatal("a closed watch read as a status")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := watchRegistry(ctx, make(chan jetstream.KeyValueEntry), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
