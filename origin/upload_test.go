package origin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/metainfo"
	"github.com/docket-p2p/docket/origin/client"
)

// rawRequest sends head and then body on a fresh connection, closes the sending side and
// returns the response the origin writes before it closes the connection.
func rawRequest(t *testing.T, addr, head string, body []byte) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(body); err != nil {
		t.Fatal(err)
	}
	_ = conn.(*net.TCPConn).CloseWrite()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, _ := io.ReadAll(conn)
	return string(resp)
}

// TestTruncatedPatch: a PATCH whose body ends before its Content-Length (the client gave up)
// is refused with 400 and the new offset; the upload holds exactly the bytes that arrived,
// resumes from there, and commits to the right blob.
func TestTruncatedPatch(t *testing.T) {
	ctx := context.Background()
	o := startOrigins(t, 1, 1)[0]
	c := client.New(o.addr, nil)
	data, d := randomBlob(t, 256<<10)
	if err := c.StartUpload(ctx, "lib/x", "cut"); err != nil {
		t.Fatal(err)
	}
	first := int64(1000)
	if _, err := c.PatchUpload(ctx, "lib/x", "cut", 0, bytes.NewReader(data[:first])); err != nil {
		t.Fatal(err)
	}
	sent := 100 << 10
	head := fmt.Sprintf("PATCH /uploads/cut?ns=lib%%2Fx HTTP/1.1\r\nHost: %s\r\n%s: %d\r\nContent-Length: %d\r\n\r\n",
		o.addr, client.HeaderOffset, first, int64(len(data))-first)
	resp := rawRequest(t, o.addr, head, data[first:first+int64(sent)])
	if !strings.HasPrefix(resp, "HTTP/1.1 400 ") || !strings.Contains(resp, client.CodeBadRequest) {
		t.Fatalf("truncated PATCH answered %q", firstLine(resp))
	}
	n, err := c.UploadSize(ctx, "lib/x", "cut")
	if err != nil || n != first+int64(sent) {
		t.Fatalf("UploadSize after a truncated PATCH: %d, %v; want %d", n, err, first+int64(sent))
	}
	if !strings.Contains(resp, fmt.Sprintf("%s: %d\r\n", client.HeaderOffset, n)) {
		t.Fatalf("truncated PATCH did not report the offset %d: %q", n, resp)
	}
	// A stale offset (the client's idea before the cut) is refused and changes nothing.
	if _, err := c.PatchUpload(ctx, "lib/x", "cut", first, bytes.NewReader(data[first:])); !errors.Is(err, client.ErrOffsetMismatch) {
		t.Fatalf("PATCH at a stale offset: %v", err)
	}
	if m, _ := c.UploadSize(ctx, "lib/x", "cut"); m != n {
		t.Fatalf("a refused PATCH changed the size from %d to %d", n, m)
	}
	if got, err := c.PatchUpload(ctx, "lib/x", "cut", n, bytes.NewReader(data[n:])); err != nil || got != int64(len(data)) {
		t.Fatalf("resuming at %d: %d, %v", n, got, err)
	}
	if err := c.CommitUpload(ctx, "lib/x", "cut", d); err != nil {
		t.Fatalf("commit after resuming: %v", err)
	}
	body, err := c.Download(ctx, "lib/x", d, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := readAllClose(body); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("resumed upload stored %d bytes (%v), differing", len(got), err)
	}
	assertNoLeftovers(t, o)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

// TestUploadErrors: requests that cannot be honoured get their error code and change nothing.
func TestUploadErrors(t *testing.T) {
	ctx := context.Background()
	o := startOrigins(t, 1, 1)[0]
	c := client.New(o.addr, nil)
	data, d := randomBlob(t, 4096)
	for _, tc := range []struct {
		name string
		call func() error
		want error
	}{
		{"patch of an unknown upload", func() error {
			_, err := c.PatchUpload(ctx, "ns", "nope", 0, bytes.NewReader(data))
			return err
		}, client.ErrUploadNotFound},
		{"size of an unknown upload", func() error { _, err := c.UploadSize(ctx, "ns", "nope"); return err }, client.ErrUploadNotFound},
		{"commit of an unknown upload", func() error { return c.CommitUpload(ctx, "ns", "nope", d) }, client.ErrUploadNotFound},
		{"cancel of an unknown upload", func() error { return c.CancelUpload(ctx, "ns", "nope") }, client.ErrUploadNotFound},
		{"upload id with a dot-dot", func() error { return c.StartUpload(ctx, "ns", "..") }, client.ErrBadRequest},
		{"metainfo of an empty blob", func() error {
			empty := core.SHA256Digest(nil)
			if err := c.Upload(ctx, "ns", empty, 0, bytes.NewReader(nil)); err != nil {
				return err
			}
			_, err := c.MetaInfo(ctx, "ns", empty)
			return err
		}, client.ErrNoMetaInfo},
		{"put shorter than its digest's blob", func() error {
			return c.Upload(ctx, "ns", d, int64(len(data)-1), bytes.NewReader(data[:len(data)-1]))
		}, client.ErrDigestMismatch},
	} {
		if err := tc.call(); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := c.Stat(ctx, "ns", d); !errors.Is(err, client.ErrBlobNotFound) {
		t.Fatalf("a failed request published the blob: %v", err)
	}
	// Requests the client library would never send.
	for _, tc := range []struct {
		method, path string
		header       map[string]string
		status       int
	}{
		{http.MethodGet, "/blobs/sha256:abc", nil, http.StatusBadRequest},
		{http.MethodGet, "/blobs/md5:d41d8cd98f00b204e9800998ecf8427e", nil, http.StatusBadRequest},
		{http.MethodPut, "/uploads/x?digest=nope", nil, http.StatusBadRequest},
		{http.MethodPatch, "/uploads/x", map[string]string{client.HeaderOffset: "-1"}, http.StatusBadRequest},
		{http.MethodPatch, "/uploads/x", nil, http.StatusBadRequest},
	} {
		req, err := http.NewRequestWithContext(ctx, tc.method, "http://"+o.addr+tc.path, strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %s, want %d with a JSON error", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.status)
		}
	}
	// A PUT without Content-Length (chunked transfer encoding) is refused.
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+o.addr+"/blobs/"+d.String(), io.NopCloser(bytes.NewReader(data)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("PUT without Content-Length: %d", resp.StatusCode)
	}
	assertNoLeftovers(t, o)
}

// TestMetaInfoEndpoint: GET /blobs/{digest}/metainfo is a torrent that metainfo.Unmarshal
// accepts and that equals what metainfo.Generate computes from the blob.
func TestMetaInfoEndpoint(t *testing.T) {
	ctx := context.Background()
	o := startOrigins(t, 1, 1)[0]
	data, d := randomBlob(t, 5<<20+123)
	if err := client.New(o.addr, nil).Upload(ctx, "ns", d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + o.addr + "/blobs/" + d.String() + "/metainfo?ns=ns")
	if err != nil {
		t.Fatal(err)
	}
	b, err := readAllClose(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("metainfo: %d, %v", resp.StatusCode, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-bittorrent" {
		t.Fatalf("Content-Type %q", ct)
	}
	got, err := metainfo.Unmarshal(b)
	if err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	pl := metainfo.PieceLength(int64(len(data)), metainfo.DefaultTable)
	want, err := metainfo.Generate(bytes.NewReader(data), d, int64(len(data)), pl)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != d || got.Length != want.Length || got.PieceLength != want.PieceLength ||
		got.InfoHash != want.InfoHash || got.NumPieces() != want.NumPieces() {
		t.Fatalf("metainfo %+v differs from the generated %+v", got, want)
	}
	for i := range want.ChainSHA256 {
		if got.PieceSHA1[i] != want.PieceSHA1[i] || got.ChainSHA256[i] != want.ChainSHA256[i] {
			t.Fatalf("piece %d hashes differ", i)
		}
	}
	// Marshal of the parsed metainfo gives back the same bytes: one canonical encoding.
	again, err := metainfo.Marshal(got)
	if err != nil || !bytes.Equal(again, b) {
		t.Fatalf("re-encoding differs (%v)", err)
	}
}
