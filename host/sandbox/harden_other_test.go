//go:build !linux

package sandbox

const testChildConfined = "__stratbox_test_child_confined"

func serveConfinedProbe() int { return 1 } // nothing to confine outside Linux
