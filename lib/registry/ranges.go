package registry

import (
	"math"
	"strings"
)

// rangeKind is what a Range header asks of a blob of a given size.
type rangeKind int

const (
	// rangeWhole: serve the whole blob. RFC 9110 (14.2) lets a server ignore a Range header
	// it does not understand, one with another unit, several ranges or bad syntax; Docket
	// serves those whole rather than as multipart bodies no registry client reads.
	rangeWhole rangeKind = iota
	// rangePartial: serve the one satisfiable range.
	rangePartial
	// rangeUnsatisfiable: answer 416 with "Content-Range: bytes */size".
	rangeUnsatisfiable
)

// byteRange is the part of a blob a satisfiable range selects.
type byteRange struct{ start, length int64 }

// parseRange reads a Range header against a blob of size bytes (RFC 9110 14.1.2): a single
// "bytes=first-[last]" or "bytes=-suffix". A first position at or past the end, a zero
// suffix, a last position before the first, and any range of an empty blob are
// unsatisfiable; a last position past the end
// is clamped; a suffix longer than the blob selects all of it.
func parseRange(header string, size int64) (byteRange, rangeKind) {
	unit, spec, ok := strings.Cut(strings.TrimSpace(header), "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(unit), "bytes") || strings.Contains(spec, ",") {
		return byteRange{}, rangeWhole
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return byteRange{}, rangeWhole
	}
	if first == "" {
		suffix, ok := parsePos(last)
		if !ok {
			return byteRange{}, rangeWhole
		}
		if suffix == 0 || size == 0 {
			return byteRange{}, rangeUnsatisfiable
		}
		n := min(suffix, size)
		return byteRange{start: size - n, length: n}, rangePartial
	}
	start, ok := parsePos(first)
	if !ok {
		return byteRange{}, rangeWhole
	}
	end := int64(math.MaxInt64)
	if last != "" {
		if end, ok = parsePos(last); !ok {
			return byteRange{}, rangeWhole
		}
		if end < start {
			// RFC 9110 would have this ignored as invalid; registries (distribution, the
			// OCI conformance suite) answer 416.
			return byteRange{}, rangeUnsatisfiable
		}
	}
	if start >= size {
		return byteRange{}, rangeUnsatisfiable
	}
	end = min(end, size-1)
	return byteRange{start: start, length: end - start + 1}, rangePartial
}

// parsePos reads a run of decimal digits; values past int64 saturate, since they only ever
// mean "beyond the end".
func parsePos(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var v int64
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if v > (math.MaxInt64-d)/10 {
			v = math.MaxInt64
			continue
		}
		v = v*10 + d
	}
	return v, true
}
