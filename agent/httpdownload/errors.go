package httpdownload

import "errors"

// ErrClosed is returned by Download after Close.
var ErrClosed = errors.New("httpdownload: downloader closed")
