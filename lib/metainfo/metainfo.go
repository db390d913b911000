// Package metainfo computes and encodes a blob's BitTorrent metainfo.
//
// A blob's metainfo is a BitTorrent v1 single-file info dictionary:
//
//	length        the blob's size in bytes
//	name          the blob's digest, "sha256:<hex>"
//	piece length  a power of two from a size→piece-length Table
//	pieces        the SHA-1 of every piece, concatenated (20 bytes each)
//	private       1 (BEP 27: peers come from the tracker only, no DHT, PEX or LPD)
//	sha256 pieces the SHA-256 of every piece, concatenated (32 bytes each)
//
// The info-hash is the SHA-1 of this dictionary's canonical bencoding. Stock BitTorrent
// clients (aria2c, libtorrent) ignore the unknown "sha256 pieces" key but hash the whole
// dictionary, so they join the same swarm and verify pieces by SHA-1, while Docket peers
// verify every piece by SHA-256, and the info-hash authenticates the SHA-256 list as well.
//
// Why not a BEP 52 hybrid v1+v2 torrent: v2 hashes each file as a Merkle tree of 16 KiB
// blocks, keeps the per-piece layer outside the info dictionary ("piece layers") and names the
// swarm by a SHA-256 info-hash; verifying a piece means rebuilding its subtree, and the
// stock clients on these machines (aria2c 1.36) speak v1 only. A flat SHA-256 list inside the
// v1 dictionary gives Docket peers the same cryptographic check per piece with one hash per
// piece, keeps one swarm key for every client, and needs no pad files or file tree. The
// whole blob is still checked against its digest before it is published.
//
// Zero-length blobs have no metainfo: BitTorrent cannot describe a torrent of zero pieces
// (clients reject it), and there is nothing to share. Generate returns ErrEmpty; callers serve
// and fetch such blobs directly (their content is known from the digest alone).
//
// Unmarshal is strict: the info dictionary must hold exactly the keys above, canonically
// encoded, so that re-encoding an accepted MetaInfo gives the same bytes and the same
// info-hash.
package metainfo
