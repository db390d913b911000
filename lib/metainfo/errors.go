package metainfo

import "errors"

// Sentinel errors, returned wrapped; test with errors.Is.
var (
	// ErrEmpty is returned for a zero-length blob, which has no metainfo (see the package doc).
	ErrEmpty = errors.New("metainfo: empty blob has no metainfo")
	// ErrInvalidPieceLength is returned for a piece length that is not a power of two between
	// MinPieceLength and MaxPieceLength, and for a Table whose rows are not usable.
	ErrInvalidPieceLength = errors.New("metainfo: invalid piece length")
	// ErrTooLarge is returned for a blob longer than MaxLength, a blob that would need more
	// than MaxPieces pieces, or an encoded torrent longer than MaxTorrentSize.
	ErrTooLarge = errors.New("metainfo: too large")
	// ErrLengthMismatch is returned by Generate when the reader yields more or fewer bytes
	// than the stated length.
	ErrLengthMismatch = errors.New("metainfo: content length mismatch")
	// ErrDigestMismatch is returned by Generate when the content does not hash to the sha256
	// digest it is named by.
	ErrDigestMismatch = errors.New("metainfo: content does not match its digest")
	// ErrInvalid is returned by Unmarshal for input that is not a Docket torrent: bad
	// bencode, a missing, extra or mistyped key, piece hashes that disagree with the length.
	ErrInvalid = errors.New("metainfo: invalid metainfo")
	// ErrInfoHashMismatch is returned by Marshal when the MetaInfo's InfoHash is set and is
	// not the SHA-1 of its info dictionary.
	ErrInfoHashMismatch = errors.New("metainfo: info hash mismatch")
)

// ErrPieceMismatch is returned by VerifyPiece for data that is not the piece the metainfo
// describes.
var ErrPieceMismatch = errors.New("metainfo: piece hash mismatch")
