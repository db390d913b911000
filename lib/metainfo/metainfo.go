// Package metainfo computes and encodes a blob's BitTorrent metainfo.
//
// A blob's metainfo is a BitTorrent v1 single-file info dictionary:
//
//	length        the blob's size in bytes
//	name          the blob's digest, "sha256:<hex>"
//	piece length  a power of two from a size→piece-length Table
//	pieces        the SHA-1 of every piece, concatenated (20 bytes each)
//	private       1 (BEP 27: peers come from the tracker only, no DHT, PEX or LPD)
//	sha256 chain  SHA-256's chaining value at the end of every piece, concatenated (32 bytes
//	              each); the last is the blob's SHA-256
//
// The info-hash is the SHA-1 of this dictionary's canonical bencoding. Stock BitTorrent
// clients (aria2c, libtorrent) ignore the unknown "sha256 chain" key but hash the whole
// dictionary, so they join the same swarm and verify pieces by SHA-1, while Docket peers
// verify every piece by SHA-256, and the info-hash authenticates the chain as well.
//
// The chain rather than a SHA-256 per piece: SHA-256 hashes a blob block by block, carrying
// 32 bytes of state from one block to the next, and a piece is a whole number of blocks. A
// peer verifies piece i by resuming SHA-256 from the state before it (chain value i-1), feeding
// it the piece and comparing the state after it with chain value i, in any order of pieces.
// Forging a piece that passes is finding a second preimage for SHA-256's compression chain, as
// hard as for SHA-256 itself. The last piece finishes the hash, so a blob whose pieces all
// passed is known to match its sha256 digest without hashing it a second time: one SHA-256 pass
// per peer, where per-piece hashes needed two (pieces, then the whole blob, read back from
// disk). This relies on crypto/sha256's state encoding (encoding.BinaryMarshaler).
//
// Why not a BEP 52 hybrid v1+v2 torrent: v2 hashes each file as a Merkle tree of 16 KiB
// blocks, keeps the per-piece layer outside the info dictionary ("piece layers") and names the
// swarm by a SHA-256 info-hash; verifying a piece means rebuilding its subtree, the tree's
// root is not the blob's digest (so the blob would still be hashed whole), and the stock
// clients on these machines (aria2c 1.36) speak v1 only. The chain inside the v1 dictionary
// gives Docket peers a SHA-256 check per piece and the whole-blob check in the same pass,
// keeps one swarm key for every client, and needs no pad files or file tree.
//
// Zero-length blobs have no metainfo: BitTorrent cannot describe a torrent of zero pieces
// (clients reject it), and there is nothing to share. Generate returns ErrEmpty; callers serve
// and fetch such blobs directly (their content is known from the digest alone).
//
// Unmarshal is strict: the info dictionary must hold exactly the keys above, canonically
// encoded, so that re-encoding an accepted MetaInfo gives the same bytes and the same
// info-hash.
package metainfo
