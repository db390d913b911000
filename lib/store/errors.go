package store

import "errors"

// Errors returned (wrapped) by the store.
var (
	ErrNotFound        = errors.New("store: blob not found")
	ErrDigestMismatch  = errors.New("store: content does not match digest")
	ErrSizeMismatch    = errors.New("store: content does not match size")
	ErrUploadNotFound  = errors.New("store: upload not found")
	ErrUploadExists    = errors.New("store: upload exists")
	ErrOffsetMismatch  = errors.New("store: upload offset mismatch")
	ErrInvalidUploadID = errors.New("store: invalid upload id")
)
