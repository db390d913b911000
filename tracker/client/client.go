// Package client announces to a Docket (or any BEP 3) tracker and fetches blob metainfo from
// a Docket tracker.
package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/bencode"
	"github.com/docket-p2p/docket/lib/metainfo"
)

// Limits on tracker responses, which are untrusted input.
const (
	maxAnnounceResponse = 1 << 20
	maxMetaInfoResponse = 64 << 20
)

// ErrTracker is returned (wrapped) when the tracker refuses an announce or answers nonsense.
var ErrTracker = errors.New("tracker")

// ErrNotFound is returned (wrapped) when the tracker has no metainfo for a digest.
var ErrNotFound = errors.New("tracker: metainfo not found")

// Client talks to one tracker.
type Client struct {
	base     string // http://host:port
	announce string // the announce URL
	hc       *http.Client
}

// New returns a client of the tracker at addr (host:port).
func New(addr string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: "http://" + addr, announce: "http://" + addr + "/announce", hc: hc}
}

// NewAnnounceURL returns a client that announces to a .torrent's announce URL, which may be
// any BEP 3 HTTP tracker (opentracker, ...); MetaInfo then asks that URL's host.
func NewAnnounceURL(announce string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(announce)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: announce URL %q: want http(s)://host:port/path", ErrTracker, announce)
	}
	c := New(u.Host, hc)
	c.base = u.Scheme + "://" + u.Host
	c.announce = announce
	return c, nil
}

// AnnounceRequest is what a peer tells the tracker.
type AnnounceRequest struct {
	InfoHash                   core.InfoHash
	PeerID                     core.PeerID
	Port                       uint16
	Uploaded, Downloaded, Left int64
	Event                      string // "", "started", "completed", "stopped"
	NumWant                    int    // 0: the tracker's default
	Origin                     bool   // this peer is a Docket origin
}

// AnnounceResponse is the tracker's answer.
type AnnounceResponse struct {
	Interval             time.Duration
	Peers                []netip.AddrPort
	Complete, Incomplete int
}

// Announce sends one announce (compact) and returns the peers the tracker handed out.
func (c *Client) Announce(ctx context.Context, r AnnounceRequest) (AnnounceResponse, error) {
	// Spaces are %20, never "+": opentracker did not always decode "+" as a space, so an
	// info-hash with a 0x20 byte was refused (TestAnnounceRawBytesToOpentracker).
	q := []string{
		"info_hash=" + escape(string(r.InfoHash[:])),
		"peer_id=" + escape(string(r.PeerID[:])),
		"port=" + strconv.Itoa(int(r.Port)),
		"uploaded=" + strconv.FormatInt(r.Uploaded, 10),
		"downloaded=" + strconv.FormatInt(r.Downloaded, 10),
		"left=" + strconv.FormatInt(r.Left, 10),
		"compact=1",
	}
	if r.Event != "" {
		q = append(q, "event="+escape(r.Event))
	}
	if r.NumWant > 0 {
		q = append(q, "numwant="+strconv.Itoa(r.NumWant))
	}
	if r.Origin {
		q = append(q, "origin=1")
	}
	sep := "?"
	if strings.Contains(c.announce, "?") {
		sep = "&"
	}
	body, err := c.get(ctx, c.announce+sep+strings.Join(q, "&"), maxAnnounceResponse)
	if err != nil {
		return AnnounceResponse{}, err
	}
	return ParseAnnounceResponse(body)
}

// escape percent-encodes v for a query string, a space as %20.
func escape(v string) string { return strings.ReplaceAll(url.QueryEscape(v), "+", "%20") }

// ParseAnnounceResponse decodes a bencoded announce response (compact peers, IPv4 and IPv6).
func ParseAnnounceResponse(body []byte) (AnnounceResponse, error) {
	v, err := bencode.Decode(body)
	if err != nil {
		return AnnounceResponse{}, fmt.Errorf("%w: bad response: %w", ErrTracker, err)
	}
	if reason, err := v.GetString("failure reason"); err == nil {
		return AnnounceResponse{}, fmt.Errorf("%w: %s", ErrTracker, reason)
	}
	var out AnnounceResponse
	interval, err := v.GetInt("interval")
	if err != nil || interval <= 0 {
		return AnnounceResponse{}, fmt.Errorf("%w: no interval", ErrTracker)
	}
	out.Interval = time.Duration(interval) * time.Second
	if n, err := v.GetInt("complete"); err == nil {
		out.Complete = int(n)
	}
	if n, err := v.GetInt("incomplete"); err == nil {
		out.Incomplete = int(n)
	}
	for _, f := range []struct {
		key  string
		size int
	}{{"peers", 6}, {"peers6", 18}} {
		raw, err := v.GetBytes(f.key)
		if err != nil {
			continue
		}
		if len(raw)%f.size != 0 {
			return AnnounceResponse{}, fmt.Errorf("%w: %s of %d bytes", ErrTracker, f.key, len(raw))
		}
		for i := 0; i < len(raw); i += f.size {
			a, _ := netip.AddrFromSlice(raw[i : i+f.size-2])
			port := uint16(raw[i+f.size-2])<<8 | uint16(raw[i+f.size-1])
			out.Peers = append(out.Peers, netip.AddrPortFrom(a.Unmap(), port))
		}
	}
	return out, nil
}

// PeersExcept returns r's peers without self, the announcing peer's own listening address,
// which a stock tracker may hand back (opentracker does): the same port at a loopback address
// or at self's own.
func (r AnnounceResponse) PeersExcept(self netip.AddrPort) []netip.AddrPort {
	out := make([]netip.AddrPort, 0, len(r.Peers))
	for _, p := range r.Peers {
		if p.Port() == self.Port() && (p.Addr().IsLoopback() || p.Addr() == self.Addr().Unmap()) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// MetaInfo fetches a blob's metainfo; ns is the blob's repository.
func (c *Client) MetaInfo(ctx context.Context, ns string, d core.Digest) (*core.MetaInfo, error) {
	body, err := c.get(ctx, c.base+"/metainfo/"+d.String()+"?"+url.Values{"ns": {ns}}.Encode(), maxMetaInfoResponse)
	if err != nil {
		return nil, err
	}
	m, err := metainfo.Unmarshal(body)
	if err != nil {
		return nil, fmt.Errorf("%w: metainfo %s: %w", ErrTracker, d, err)
	}
	if m.Digest != d {
		return nil, fmt.Errorf("%w: metainfo for %s names %s", ErrTracker, d, m.Digest)
	}
	return m, nil
}

func (c *Client) get(ctx context.Context, u string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTracker, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTracker, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: response over %d bytes", ErrTracker, limit)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%w: %s", ErrNotFound, body)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: status %d: %s", ErrTracker, resp.StatusCode, body)
	}
	return body, nil
}
