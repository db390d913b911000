package devcluster

import "errors"

// ErrInvalidOptions is returned (wrapped) for Options that cannot describe a cluster: no data
// directory, a port out of range, two components on one port, an agent count out of range.
var ErrInvalidOptions = errors.New("devcluster: invalid options")
