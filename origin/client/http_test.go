package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/docket-p2p/docket/core"
)

// fakeOrigin answers with a scripted status and error code, counting requests and recording
// the last one.
type fakeOrigin struct {
	failFirst atomic.Int32 // answer this many requests with 503 first
	calls     atomic.Int32
	last      atomic.Pointer[http.Request]
	status    int
	code      string
	body      string
}

func (f *fakeOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	f.last.Store(r.Clone(context.Background()))
	if f.failFirst.Add(-1) >= 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if f.code != "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "scripted", "code": f.code})
		return
	}
	w.Header().Set(HeaderOffset, "42")
	if f.status != 0 {
		w.WriteHeader(f.status)
	}
	_, _ = io.WriteString(w, f.body)
}

func start(t *testing.T, f *fakeOrigin) Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return New(strings.TrimPrefix(srv.URL, "http://"), nil)
}

var testDigest = core.SHA256Digest([]byte("x"))

func TestErrorCodesMapToSentinels(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		code   string
		status int
		want   error
	}{
		{CodeBlobNotFound, 404, ErrBlobNotFound},
		{CodeUploadNotFound, 404, ErrUploadNotFound},
		{CodeOffsetMismatch, 416, ErrOffsetMismatch},
		{CodeDigestMismatch, 400, ErrDigestMismatch},
		{CodeBadRequest, 400, ErrBadRequest},
		{CodeNoMetaInfo, 409, ErrNoMetaInfo},
	} {
		c := start(t, &fakeOrigin{status: tc.status, code: tc.code})
		if _, err := c.PatchUpload(ctx, "ns", "id", 0, strings.NewReader("x")); !errors.Is(err, tc.want) {
			t.Errorf("code %s: got %v, want %v", tc.code, err, tc.want)
		}
		// The server's table maps the sentinel back to the same code and status.
		if code, status := CodeFor(tc.want); code != tc.code || status != tc.status {
			t.Errorf("CodeFor(%v) = %s %d", tc.want, code, status)
		}
	}
	// HEAD has no body: a bare 404 is a missing blob.
	c := start(t, &fakeOrigin{status: 404})
	if _, err := c.Stat(ctx, "ns", testDigest); !errors.Is(err, ErrBlobNotFound) {
		t.Fatalf("HEAD 404: %v", err)
	}
}

func TestReadsRetryOnUnavailable(t *testing.T) {
	ctx := context.Background()
	f := &fakeOrigin{body: "hello"}
	f.failFirst.Store(2)
	c := start(t, f)
	body, err := c.Download(ctx, "a/b", testDigest, 0, -1)
	if err != nil {
		t.Fatalf("Download after two 503s: %v", err)
	}
	got, _ := io.ReadAll(body)
	body.Close()
	if string(got) != "hello" || f.calls.Load() != 3 {
		t.Fatalf("got %q after %d calls", got, f.calls.Load())
	}
	if ns := f.last.Load().URL.Query().Get("ns"); ns != "a/b" {
		t.Fatalf("namespace sent as %q", ns)
	}
	// Always unavailable: gives up after readAttempts.
	f2 := &fakeOrigin{}
	f2.failFirst.Store(100)
	c2 := start(t, f2)
	if _, err := c2.Stat(ctx, "ns", testDigest); !errors.Is(err, ErrUnavailable) || f2.calls.Load() != readAttempts {
		t.Fatalf("Stat: %v after %d calls", err, f2.calls.Load())
	}
	// Writes are not retried: a PATCH may have been applied.
	f3 := &fakeOrigin{}
	f3.failFirst.Store(1)
	c3 := start(t, f3)
	if _, err := c3.PatchUpload(ctx, "ns", "id", 0, strings.NewReader("x")); !errors.Is(err, ErrUnavailable) || f3.calls.Load() != 1 {
		t.Fatalf("PatchUpload: %v after %d calls", err, f3.calls.Load())
	}
	// A refused connection is unavailable too.
	dead := New("127.0.0.1:1", nil)
	if _, err := dead.Stat(ctx, "ns", testDigest); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Stat of a closed port: %v", err)
	}
}

func TestRangeAndPeerHeaders(t *testing.T) {
	ctx := context.Background()
	f := &fakeOrigin{status: http.StatusPartialContent, body: "abc"}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct {
		offset, length int64
		want           string
	}{
		{10, 5, "bytes=10-14"},
		{10, -1, "bytes=10-"},
	} {
		body, err := New(addr, nil).Download(ctx, "ns", testDigest, tc.offset, tc.length)
		if err != nil {
			t.Fatal(err)
		}
		body.Close()
		if got := f.last.Load().Header.Get("Range"); got != tc.want {
			t.Errorf("Range for (%d, %d) = %q, want %q", tc.offset, tc.length, got, tc.want)
		}
		if f.last.Load().Header.Get(HeaderNoPeers) != "" {
			t.Error("a plain client marked its request as from a peer")
		}
	}
	// An origin ignoring the range (200 for a range request) is an error, not wrong bytes.
	f.status = http.StatusOK
	if _, err := New(addr, nil).Download(ctx, "ns", testDigest, 1, 1); err == nil {
		t.Fatal("a 200 answer to a range request was accepted")
	}
	if _, err := NewPeer(addr, nil).UploadSize(ctx, "ns", "id"); err != nil {
		t.Fatal(err)
	}
	if f.last.Load().Header.Get(HeaderNoPeers) == "" {
		t.Fatal("peer client did not send " + HeaderNoPeers)
	}
}
