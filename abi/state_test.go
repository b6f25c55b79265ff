package abi

import "testing"

// Filled, Cancelled and Rejected end an order; Pending, Open and values
// the spec does not define do not.
func TestOrderStateFinal(t *testing.T) {
	for v, want := range map[OrderState]bool{0: false, StatePending: false, StateOpen: false, StateFilled: true,
		StateCancelled: true, StateRejected: true, 6: false, 255: false} {
		if v.Final() != want {
			t.Errorf("%v (%d).Final() = %v, want %v", v, uint8(v), v.Final(), want)
		}
	}
}
