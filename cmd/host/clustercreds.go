package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/stratbox/stratbox/cluster"
)

// runClusterCredentials writes a new credentials file: a random route
// password and a status login (the same file serves every member and
// host cluster status). It never overwrites a file and never prints a
// secret.
func runClusterCredentials(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("host cluster credentials", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "the file to write (mode 0600; an existing file is left alone)")
	user := fs.String("status-user", "ops", "the name of the status login (reads the cluster's state, publishes nothing)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		return fmt.Errorf("%w: host cluster credentials --out file [--status-user name]", errUsage)
	}
	if !cluster.ValidName(*user) {
		return fmt.Errorf("%w: --status-user %q: want letters, digits, - or _", errUsage, *user)
	}
	secret := func() string {
		var b [32]byte
		_, _ = rand.Read(b[:]) // crypto/rand never fails (Go 1.24+)
		return hex.EncodeToString(b[:])
	}
	status := secret()
	body := fmt.Sprintf(`# stratbox cluster credentials, written by host cluster credentials on %s.
# Keep it mode 0600; copy it to every member and name it in [cluster] credentials_file.
route_user = "route"
route_password = %q

[login]                 # host cluster status (and external mode) log in with this
user = %q
password = %q

[[users]]               # who may log in to a member's client listener
name = %q
password = %q
role = "status"
`, time.Now().UTC().Format(time.RFC3339), secret(), *user, status, *user, status)
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("cluster credentials: %s exists: left alone (remove it first to make new secrets)", *out)
		}
		return fmt.Errorf("cluster credentials: %w", err)
	}
	if _, err := io.WriteString(f, body); err != nil {
		f.Close()
		os.Remove(*out)
		return fmt.Errorf("cluster credentials: write %s: %w", *out, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(*out)
		return fmt.Errorf("cluster credentials: write %s: %w", *out, err)
	}
	fmt.Fprintf(stdout, "wrote %s (mode 0600): a route password and the status login %q; name it in [cluster] credentials_file on every member\n", *out, *user)
	return nil
}
