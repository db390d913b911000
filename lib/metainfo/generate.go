package metainfo

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/docket-p2p/docket/core"
)

// Generate streams the blob through fixed-size chunks, whatever the piece length, so its
// memory stays bounded ((chunkBuffers + workers) × chunkSize) even for 64 MiB pieces.
const (
	chunkSize    = 256 << 10
	chunkBuffers = 8
)

// maxHashWorkers bounds the goroutines hashing pieces in parallel in Generate.
const maxHashWorkers = 8

// maxEmptyReads bounds how often Generate retries a reader that returns neither bytes nor an
// error while it checks that the content ends at the stated length.
const maxEmptyReads = 100

// Generate cuts the length bytes that r yields into pieces of pieceLength bytes and returns
// the blob's metainfo, named d, with the SHA-1 of every piece, the SHA-256 chain and its
// InfoHash set. It reads r once, hashing the chain as it reads and the pieces' SHA-1 in
// parallel. It fails with ErrLengthMismatch if r yields fewer or more than length bytes,
// ErrEmpty for length 0, ErrInvalidPieceLength or ErrTooLarge for bounds the package does not
// accept, and ErrDigestMismatch when d is a sha256 digest and not the content's.
func Generate(r io.Reader, d core.Digest, length, pieceLength int64) (*core.MetaInfo, error) {
	if d.IsZero() {
		return nil, fmt.Errorf("%w: empty digest", ErrInvalid)
	}
	if err := checkBounds(length, pieceLength); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	n := int((length-1)/pieceLength + 1)
	m := &core.MetaInfo{
		Digest:      d,
		Length:      length,
		PieceLength: pieceLength,
		PieceSHA1:   make([][20]byte, n),
		ChainSHA256: make([][32]byte, n),
	}
	if err := hashPieces(r, m); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	if m.ChainIsDigest() && hex.EncodeToString(m.ChainSHA256[n-1][:]) != d.Hex() {
		return nil, fmt.Errorf("%w: the content's SHA-256 is %x, not %s", ErrDigestMismatch, m.ChainSHA256[n-1], d)
	}
	ih, err := InfoHash(m)
	if err != nil {
		return nil, err
	}
	m.InfoHash = ih
	return m, nil
}

// checkBounds validates a blob length and piece length against the package's limits.
func checkBounds(length, pieceLength int64) error {
	if length == 0 {
		return ErrEmpty
	}
	if length < 0 {
		return fmt.Errorf("%w: negative length %d", ErrInvalid, length)
	}
	if length > MaxLength {
		return fmt.Errorf("%w: length %d above %d", ErrTooLarge, length, int64(MaxLength))
	}
	if err := ValidPieceLength(pieceLength); err != nil {
		return err
	}
	if (length-1)/pieceLength+1 > MaxPieces {
		return fmt.Errorf("%w: %d bytes in pieces of %d is more than %d pieces", ErrTooLarge, length, pieceLength, MaxPieces)
	}
	return nil
}

// chunk is one read of the blob, never spanning two pieces.
type chunk struct {
	piece int
	buf   []byte
}

// hashPieces reads m.Length bytes from r and fills m's piece hashes and chain. Pieces are
// dealt round robin to SHA-1 workers while this goroutine reads ahead and runs the SHA-256
// chain, which goes through the blob in order.
func hashPieces(r io.Reader, m *core.MetaInfo) error {
	workers := min(runtime.GOMAXPROCS(0), maxHashWorkers, m.NumPieces())
	free := make(chan []byte, chunkBuffers+workers)
	for range chunkBuffers + workers {
		free <- make([]byte, chunkSize)
	}
	queues := make([]chan chunk, workers)
	var wg sync.WaitGroup
	for w := range workers {
		queues[w] = make(chan chunk, chunkBuffers)
		wg.Go(func() { hashWorker(queues[w], m, free) })
	}
	err := readChunks(r, m, free, queues)
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	return err
}

// hashWorker hashes the chunks of its pieces, which arrive in order, and stores each piece's
// SHA-1 when its last chunk is in.
func hashWorker(chunks <-chan chunk, m *core.MetaInfo, free chan<- []byte) {
	h1 := sha1.New()
	var inPiece int64
	for c := range chunks {
		h1.Write(c.buf)
		inPiece += int64(len(c.buf))
		if inPiece == m.PieceSize(c.piece) {
			h1.Sum(m.PieceSHA1[c.piece][:0])
			h1.Reset()
			inPiece = 0
		}
		free <- c.buf[:cap(c.buf)]
	}
}

// readChunks reads exactly m.Length bytes from r into pooled chunks, feeding them to the
// SHA-256 chain and sending piece i's chunks to queues[i % len(queues)], then checks that r
// ends there.
func readChunks(r io.Reader, m *core.MetaInfo, free chan []byte, queues []chan chunk) error {
	var read int64
	chain := sha256.New()
	for i := range m.NumPieces() {
		if i > 0 {
			v, err := chainValue(chain)
			if err != nil {
				return err
			}
			m.ChainSHA256[i-1] = v
		}
		size := m.PieceSize(i)
		for off := int64(0); off < size; {
			buf := <-free
			buf = buf[:min(int64(len(buf)), size-off)]
			k, err := io.ReadFull(r, buf)
			read += int64(k)
			if err != nil {
				free <- buf[:cap(buf)]
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
					return fmt.Errorf("%w: read %d of %d bytes", ErrLengthMismatch, read, m.Length)
				}
				return fmt.Errorf("metainfo: reading at offset %d: %w", read, err)
			}
			off += int64(k)
			chain.Write(buf)
			queues[i%len(queues)] <- chunk{piece: i, buf: buf}
		}
	}
	chain.Sum(m.ChainSHA256[m.NumPieces()-1][:0])
	// The reader must end exactly at length.
	var one [1]byte
	for range maxEmptyReads {
		k, err := r.Read(one[:])
		if k > 0 {
			return fmt.Errorf("%w: more than %d bytes", ErrLengthMismatch, m.Length)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("metainfo: reading past the end: %w", err)
		}
	}
	return fmt.Errorf("metainfo: reading past the end: %w", io.ErrNoProgress)
}
