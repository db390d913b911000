// Package origin is Docket's dedicated seeder: a content-addressed store on disk behind an
// HTTP API, writing blobs back to a storage backend and reading through to it on a miss.
// Origins form a hash ring (lib/hashring over Config.Cluster, or the members DNS gives for
// Config.ClusterDNS, resolved again periodically with lib/membership; Config.Replicas owners
// per digest); other components reach them only through origin/client.
//
// # API
//
// Every route takes the namespace (the repository name, URL-encoded) as the query parameter
// ns; it selects the backend. Errors are JSON {"error": "...", "code": "..."} with the codes
// and statuses of origin/client's table (404 BLOB_NOT_FOUND / UPLOAD_NOT_FOUND, 416
// OFFSET_MISMATCH, 400 DIGEST_MISMATCH / BAD_REQUEST, 409 NO_METAINFO, 503 UNAVAILABLE).
//
//	GET    /blobs?after=D&n=N        JSON page of the blobs on disk after D, in digest order
//	HEAD   /blobs/{digest}           size in Content-Length; never fetches the blob
//	GET    /blobs/{digest}           the blob, with Range (sendfile from disk); reads through
//	PUT    /blobs/{digest}           monolithic upload, Content-Length required, verified → 201
//	DELETE /blobs/{digest}           removes it here, in the backend and on every origin → 204
//	GET    /blobs/{digest}/metainfo  bencoded torrent of the blob (lib/metainfo) → 200
//	POST   /uploads/{id}             starts a resumable upload under a caller-chosen id → 201
//	PATCH  /uploads/{id}             appends the body at Upload-Offset → 202, new Upload-Offset
//	GET    /uploads/{id}             bytes received so far in Upload-Offset → 200
//	PUT    /uploads/{id}?digest=D    verifies and publishes the upload as blob D → 201
//	DELETE /uploads/{id}             discards the upload → 204
//
// Headers between origins: Docket-Replica on a PUT marks a replica (stored, written back, not
// fanned out again); Docket-No-Peers makes the receiver answer from its disk and backend
// only, never by asking its peers (no loops); Docket-Local-Only makes a HEAD answer from the
// disk alone.
//
// # Durability
//
// A commit (PUT /uploads/{id} or PUT /blobs/{digest}) is verified against its digest while
// it streams, fsynced and published on this origin's disk, then pushed in parallel to the
// digest's other owners; it is acknowledged (201) once Replicas origins hold it. An owner that
// cannot take its copy is replaced by the next origin along the ring (a stand-in, within
// client.HolderSpan × Replicas members of the walk), and retried in the background (the
// replication queue) until it holds the blob. If fewer than Replicas origins can be reached
// the commit fails with 503, but the copy on this disk is kept, queued for the owners and
// written back.
//
// Every committed or replicated blob is written back to the backend of its namespace
// asynchronously, retried with exponential backoff. The write-back queue is journalled on
// disk (<data_dir>/writeback, one small file per blob, fsynced before the commit is
// acknowledged) and resumed at start-up, so a crash or restart delays a write-back but never
// loses it. Gauges writeback.queue_depth (blobs owed) and writeback.oldest_age_seconds (how
// long the oldest of them has waited) show a backend falling behind. The replication queue (owners that missed a commit) lives in memory: after a
// crash such an owner reads the blob through from the backend or its peers when asked, and
// its repair pass (repair.go: at start-up and every repair_interval, rate-limited) fetches
// every blob it owns that a peer lists (GET /blobs) but its disk lacks.
//
// # Read-through
//
// A GET or metainfo request for a blob missing on disk fetches it — from the backend, else
// from the digest's holders among the peers — verifies it against its digest and stores it.
// Concurrent misses of one digest share one fetch. A whole-blob GET that starts a backend
// fetch is answered while the bytes arrive (the last byte is withheld until the digest
// matches, so a corrupt object never looks complete); other callers, range requests and
// metainfo wait for the fetch and are served from disk. Peers are asked among the digest's
// holders only (owners, then stand-ins), with Docket-No-Peers. The backend's "not found" is
// authoritative: an origin reports a blob missing even when a peer could not be asked.
package origin
