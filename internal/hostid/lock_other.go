//go:build !unix

package hostid

import (
	"errors"
	"os"
)

var errWouldBlock = errors.New("would block")

func lock(*os.File) error {
	return errors.New("host id locks need a Unix system: set [host] id and run one host per id")
}
