package host

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/stratbox/stratbox/pool"
)

// fakeLocal is a local pool of n healthy members with a policy.
type fakeLocal struct {
	n      int
	policy pool.Policy
	down   map[int]bool
}

func (f *fakeLocal) CallRaw(context.Context, string, []byte) (json.RawMessage, error) {
	return nil, errors.New("fakeLocal: no calls")
}
func (f *fakeLocal) Subscribe(context.Context, ...string) ([]string, error) { return nil, nil }
func (f *fakeLocal) Size() int                                              { return f.n }
func (f *fakeLocal) PickExcept(uint64) (int, error)                         { return 0, nil }
func (f *fakeLocal) CallOn(context.Context, int, string, []byte) (json.RawMessage, error) {
	return nil, errors.New("fakeLocal: no calls")
}
func (f *fakeLocal) Carry(int, int)      {}
func (f *fakeLocal) Healthy(m int) bool  { return m < f.n && !f.down[m] }
func (f *fakeLocal) Policy() pool.Policy { return f.policy }

// fakeRemotes are n remote slots.
type fakeRemotes struct {
	n    int
	down map[int]bool
}

func (f *fakeRemotes) Members() int          { return f.n }
func (f *fakeRemotes) Healthy(slot int) bool { return slot < f.n && !f.down[slot] }
func (f *fakeRemotes) CallOn(context.Context, int, string, []byte) (json.RawMessage, error) {
	return nil, errors.New("fakeRemotes: no calls")
}

// TestSpreadPolicy: with remote members, the local pool's policy still
// decides: round_robin takes every healthy member in turn, local and remote
// (skipping the unhealthy and the excepted), least_loaded the member that
// carries the fewest of the engine's orders.
func TestSpreadPolicy(t *testing.T) {
	picks := func(s *spread, n int, except uint64) []int {
		var got []int
		for range n {
			m, err := s.PickExcept(except)
			if err != nil {
				t.Fatal(err)
			}
			s.Carry(m, 1)
			got = append(got, m)
		}
		return got
	}
	rr := newSpread(&fakeLocal{n: 2, policy: pool.RoundRobin}, &fakeRemotes{n: 2})
	if got, want := picks(rr, 8, 0), []int{0, 1, 2, 3, 0, 1, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("round_robin picks %v, want %v", got, want)
	}
	// Load does not matter to round robin: member 0 carries the most now.
	rr.Carry(0, 100)
	if got, want := picks(rr, 4, 0), []int{0, 1, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("round_robin with a loaded member picks %v, want %v", got, want)
	}
	rr = newSpread(&fakeLocal{n: 2, policy: pool.RoundRobin, down: map[int]bool{1: true}},
		&fakeRemotes{n: 2, down: map[int]bool{0: true}})
	if got, want := picks(rr, 4, 1<<3), []int{0, 0, 0, 0}; !slices.Equal(got, want) {
		t.Errorf("round_robin without members 1, 2 (down) and 3 (excepted) picks %v, want %v", got, want)
	}
	if _, err := rr.PickExcept(1<<0 | 1<<3); !errors.Is(err, pool.ErrNoHealthy) {
		t.Errorf("round_robin with no member left: %v, want pool.ErrNoHealthy", err)
	}

	ll := newSpread(&fakeLocal{n: 2, policy: pool.LeastLoaded}, &fakeRemotes{n: 2})
	ll.Carry(0, 5)
	ll.Carry(1, 3)
	ll.Carry(2, 4)
	if got, want := picks(ll, 3, 0), []int{3, 3, 3}; !slices.Equal(got, want) {
		t.Errorf("least_loaded picks %v, want %v", got, want)
	}
}
