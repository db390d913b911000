package tracker

import (
	"container/list"
	"context"
	"sync"

	"github.com/docket-p2p/docket/core"
)

// metaInfoCacheSize bounds how many blobs' metainfo the tracker keeps in memory. An entry is
// small (about 50 bytes per piece, 2,000 pieces at most by the default table).
const metaInfoCacheSize = 4096

// metaInfoSource is where metainfo comes from: the origin ring.
type metaInfoSource interface {
	MetaInfo(ctx context.Context, ns string, d core.Digest) (*core.MetaInfo, error)
}

// metaInfoCache is a bounded LRU of metainfo by digest. Metainfo is immutable for a digest, so
// an entry never goes stale; keeping it lets peers find each other while origins are down.
type metaInfoCache struct {
	mu    sync.Mutex
	order *list.List // of core.Digest, most recent first
	items map[core.Digest]*cacheItem
}

type cacheItem struct {
	m    *core.MetaInfo
	elem *list.Element
}

func newMetaInfoCache() *metaInfoCache {
	return &metaInfoCache{order: list.New(), items: make(map[core.Digest]*cacheItem)}
}

func (c *metaInfoCache) get(d core.Digest) (*core.MetaInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[d]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(it.elem)
	return it.m, true
}

func (c *metaInfoCache) put(m *core.MetaInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if it, ok := c.items[m.Digest]; ok {
		c.order.MoveToFront(it.elem)
		return
	}
	c.items[m.Digest] = &cacheItem{m: m, elem: c.order.PushFront(m.Digest)}
	for c.order.Len() > metaInfoCacheSize {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(core.Digest))
	}
}
