package fsutil

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// StartWriteback asks the kernel to begin writing [off, off+n) of f to disk without waiting,
// so a later fsync finds little left to flush (the write-out overlaps the
// transfer instead of following it).
func StartWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// Preallocate sizes f to n bytes with its disk blocks allocated up front (fallocate), so
// pieces written at scattered offsets fill allocated extents instead of growing a sparse file,
// and a full disk shows at the start of a download rather than midway. Where the file system
// cannot preallocate, the file is only sized.
func Preallocate(f *os.File, n int64) error {
	if n == 0 {
		return f.Truncate(0) // fallocate refuses an empty range
	}
	if err := unix.Fallocate(int(f.Fd()), 0, 0, n); err == nil {
		return nil
	} else if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.ENOSYS) {
		return err
	}
	return f.Truncate(n)
}
