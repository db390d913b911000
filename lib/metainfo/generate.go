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

// maxHashWorkers bounds the goroutines hashing pieces in parallel in Generate; reading stays
// on the caller's goroutine, so one read stream feeds them.
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

type pieceJob struct {
	index int
	buf   []byte
}

// hashPieces reads m.Length bytes from r and fills m's piece hashes.
func hashPieces(r io.Reader, m *core.MetaInfo) error {
	n := m.NumPieces()
	workers := min(runtime.GOMAXPROCS(0), maxHashWorkers, n)
	// Two buffers per worker: one being hashed, one being filled.
	free := make(chan []byte, 2*workers)
	for range 2 * workers {
		free <- make([]byte, m.PieceLength)
	}
	jobs := make(chan pieceJob, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				m.PieceSHA1[j.index] = sha1.Sum(j.buf)
				m.PieceSHA256[j.index] = sha256.Sum256(j.buf)
				free <- j.buf[:cap(j.buf)]
			}
		})
	}
	err := readPieces(r, m, free, jobs)
	close(jobs)
	wg.Wait()
	return err
}

func readPieces(r io.Reader, m *core.MetaInfo, free chan []byte, jobs chan<- pieceJob) error {
	var read int64
	for i := range m.NumPieces() {
		buf := (<-free)[:m.PieceSize(i)]
		k, err := io.ReadFull(r, buf)
		read += int64(k)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%w: read %d of %d bytes", ErrLengthMismatch, read, m.Length)
			}
			return fmt.Errorf("metainfo: reading piece %d: %w", i, err)
		}
		jobs <- pieceJob{index: i, buf: buf}
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
