package bandwidth

import "errors"

// ErrConfig is returned by New for a negative rate or burst.
var ErrConfig = errors.New("bandwidth: invalid limit")
