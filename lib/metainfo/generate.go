package metainfo

import (
	"crypto/sha1"
	"crypto/sha256"
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
// the blob's metainfo, named d, with the SHA-1 and SHA-256 of every piece and its InfoHash
// set. It reads r once, hashing pieces in parallel while it reads the next ones. It fails
// with ErrLengthMismatch if r yields fewer or more than length bytes, ErrEmpty for length 0,
// ErrInvalidPieceLength or ErrTooLarge for bounds the package does not accept.
//
// Generate does not check the blob against d: the caller vouches that r is the content of d
// (the store computes metainfo only from blobs it has verified).
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
		PieceSHA256: make([][32]byte, n),
	}
	if err := hashPieces(r, m); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
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

// hashPieces reads m.Length bytes from r and fills m's piece hashes. Pieces are dealt round
// robin to hashing workers, each computing both hashes of its pieces chunk by chunk, while
// this goroutine reads ahead.
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
// sums when its last chunk is in.
func hashWorker(chunks <-chan chunk, m *core.MetaInfo, free chan<- []byte) {
	h1, h256 := sha1.New(), sha256.New()
	var inPiece int64
	for c := range chunks {
		h1.Write(c.buf)
		h256.Write(c.buf)
		inPiece += int64(len(c.buf))
		if inPiece == m.PieceSize(c.piece) {
			h1.Sum(m.PieceSHA1[c.piece][:0])
			h256.Sum(m.PieceSHA256[c.piece][:0])
			h1.Reset()
			h256.Reset()
			inPiece = 0
		}
		free <- c.buf[:cap(c.buf)]
	}
}

// readChunks reads exactly m.Length bytes from r into pooled chunks, sending piece i's chunks
// to queues[i % len(queues)], then checks that r ends there.
func readChunks(r io.Reader, m *core.MetaInfo, free chan []byte, queues []chan chunk) error {
	var read int64
	for i := range m.NumPieces() {
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
			queues[i%len(queues)] <- chunk{piece: i, buf: buf}
		}
	}
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
