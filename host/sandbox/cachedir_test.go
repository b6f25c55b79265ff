//go:build unix

package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A root host's plugin children run as another user: their compilation
// cache is a directory of theirs under the host's when they can reach it,
// and in the temporary directory when they cannot (root's cache dir is
// under the 0700 /root).
func TestChildCacheDirReachable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a directory to another user")
	}
	cred := &syscall.Credential{Uid: 65534, Gid: 65534}
	open, err := os.MkdirTemp("", "stratbox-childcache-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(open) })
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	for p := filepath.Dir(open); p != filepath.Dir(p); p = filepath.Dir(p) {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm()&0o001 == 0 {
			t.Skipf("%s is not enterable by others: no reachable directory to test with", p)
		}
	}
	d, err := ChildCacheDir(open, cred)
	if err != nil || d != filepath.Join(open, "uid-65534") {
		t.Fatalf("reachable: %q, %v", d, err)
	}
	closed := filepath.Join(t.TempDir(), "private")
	if err := os.Mkdir(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	d, err = ChildCacheDir(filepath.Join(closed, "cache"), cred)
	if err != nil || !strings.HasPrefix(d, os.TempDir()) || strings.HasPrefix(d, closed) {
		t.Fatalf("out of reach: %q, %v; want a directory in %s", d, err, os.TempDir())
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	var st syscall.Stat_t
	if err := syscall.Stat(d, &st); err != nil || st.Uid != 65534 || st.Mode&0o777 != 0o700 {
		t.Fatalf("%s: uid %d mode %o (%v), want 65534 and 0700", d, st.Uid, st.Mode&0o777, err)
	}
}
