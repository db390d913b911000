package scheduler

import "errors"

var (
	// ErrConfig is returned by New for an invalid Config.
	ErrConfig = errors.New("scheduler: invalid config")
	// ErrTorrentExists is returned when a torrent is already being seeded or downloaded.
	ErrTorrentExists = errors.New("scheduler: torrent already active")
	// ErrNoPeers is returned by Download when every peer is gone before completion.
	ErrNoPeers = errors.New("scheduler: no peers left")
	// ErrNoProgress is returned by Download when no piece verified for Config.ProgressTimeout.
	ErrNoProgress = errors.New("scheduler: no progress")
	// ErrBadPiece marks a peer that sent a piece failing its hash.
	ErrBadPiece = errors.New("scheduler: piece failed verification")
	// ErrStalled marks a peer that sent no block within Config.StallTimeout.
	ErrStalled = errors.New("scheduler: peer stalled")
	// ErrLyingPeer marks a peer that refused pieces it claimed to hold (see maxLies).
	ErrLyingPeer = errors.New("scheduler: peer refused pieces it claimed")
)
