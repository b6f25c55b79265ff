//go:build unix

package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ChildCacheDir is the compilation cache of plugin children that run as
// another user (ProcessConfig.Credential): a directory of their own under
// the host's cache dir, which they own — or, when that user cannot reach
// the host's directory (a root host's cache dir is under the 0700 /root),
// one in the temporary directory, accepted only if it is a real directory
// of root's or that user's. dir "" (no cache) and a nil cred (the host's
// own user) give dir back.
func ChildCacheDir(dir string, cred *syscall.Credential) (string, error) {
	if dir == "" || cred == nil {
		return dir, nil
	}
	d := filepath.Join(dir, fmt.Sprintf("uid-%d", cred.Uid))
	if !othersCanEnter(dir) {
		d = filepath.Join(os.TempDir(), fmt.Sprintf("stratbox-wazero-uid-%d", cred.Uid))
		if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("cache dir for the plugins' user: %w", err)
		}
		// In a shared directory: only a real directory of root's or that user's.
		fi, err := os.Lstat(d)
		if err != nil {
			return "", fmt.Errorf("cache dir for the plugins' user: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !fi.IsDir() || !ok || st.Uid != 0 && st.Uid != cred.Uid {
			return "", fmt.Errorf("cache dir for the plugins' user: %s is not a directory of root's or uid %d's", d, cred.Uid)
		}
	} else if err := os.MkdirAll(d, 0o700); err != nil {
		return "", fmt.Errorf("cache dir: %w", err)
	}
	if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
		return "", fmt.Errorf("cache dir for the plugins' user: %w", err)
	}
	return d, nil
}

// othersCanEnter reports whether every directory from dir up to the root
// can be entered by any user (o+x): a conservative test of whether another
// user reaches dir (groups and ACLs are not counted).
func othersCanEnter(dir string) bool {
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if p == filepath.Dir(p) {
			return true
		}
	}
}
