package host

import "errors"

// ErrConfig is wrapped by every error of Config.Validate and New.
var ErrConfig = errors.New("host: invalid config")
