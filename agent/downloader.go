package agent

import (
	"context"

	"github.com/docket-p2p/docket/core"
)

// Downloader brings a blob into the agent's store. It is the only thing in the agent that knows
// how bytes arrive: over HTTP from an origin now, from peers through the P2P scheduler later.
// Download returns once the blob, verified against d, is published in the store (at once if it
// already is). Concurrent calls for one digest share one transfer. repo is the namespace the
// blob belongs to, for backend selection on the origin. When no source has the blob, the error
// wraps registry.ErrBlobUnknown.
type Downloader interface {
	Download(ctx context.Context, repo string, d core.Digest) error
}
