package rr

/*
#include "bridge.h"
*/
import "C"

import (
	"errors"
	"io"
	"runtime/cgo"
	"unsafe"
)

// The functions below are called by librr through the trampolines in bridge.c. Each one
// recovers a panic (its own code's included: nothing may unwind into C), stores it for
// the call helper to raise again, and reports a failure.

//export rrgoAuth
func rrgoAuth(h C.uintptr_t, registry *C.char, cred *C.rr_credential) (rc C.int32_t) {
	var s *clientState
	defer func() {
		if v := recover(); v != nil {
			s.storePanic(v)
			rc = 1
		}
	}()
	s = stateOf(uintptr(h))
	if s.auth == nil {
		return 0
	}
	c, err := s.auth(C.GoString(registry))
	if err != nil {
		return 1
	}
	if c == nil {
		return 0
	}
	var a cstrs
	defer a.free()
	if c.apply(&a, cred) != C.RR_OK {
		return 1
	}
	return 0
}

//export rrgoProgress
func rrgoProgress(h C.uintptr_t, complete, total C.uint64_t) (rc C.int32_t) {
	var s *clientState
	defer func() {
		if v := recover(); v != nil {
			s.storePanic(v)
			rc = 1
		}
	}()
	s = stateOf(uintptr(h))
	if s.progress == nil || s.progress(uint64(complete), uint64(total)) {
		return 0
	}
	return 1
}

//export rrgoBlobProgress
func rrgoBlobProgress(h C.uintptr_t, e *C.rr_blob_progress) (rc C.int32_t) {
	var s *clientState
	defer func() {
		if v := recover(); v != nil {
			s.storePanic(v)
			rc = 1
		}
	}()
	s = stateOf(uintptr(h))
	if s.blobs == nil {
		return 0
	}
	event := BlobProgress{
		Operation: uint64(e.operation),
		Phase:     BlobPhase(e.phase),
		BlobSize:  uint64(e.blob_size),
		BlobDone:  uint64(e.blob_done),
		Complete:  uint64(e.complete),
		Total:     uint64(e.total),
	}
	if e.digest != nil {
		event.Digest = C.GoString(e.digest)
	}
	if s.blobs(event) {
		return 0
	}
	return 1
}

//export rrgoLog
func rrgoLog(h C.uintptr_t, line *C.char) {
	var s *clientState
	defer func() {
		if v := recover(); v != nil {
			s.storePanic(v)
		}
	}()
	s = stateOf(uintptr(h))
	if s.logf != nil {
		s.logf(C.GoString(line))
	}
}

// layerWriter is the per-call userdata of rr_image_layer_read.
type layerWriter struct {
	w        io.Writer
	n        int64
	err      error
	panicked bool
	panicVal any
}

//export rrgoWrite
func rrgoWrite(h C.uintptr_t, buf *C.uint8_t, n C.size_t) (rc C.int32_t) {
	var lw *layerWriter
	defer func() {
		if v := recover(); v != nil {
			if lw != nil {
				lw.panicked, lw.panicVal = true, v
			}
			rc = 1
		}
	}()
	lw = cgo.Handle(h).Value().(*layerWriter)
	if n == 0 {
		return 0
	}
	p := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n))
	m, err := lw.w.Write(p)
	lw.n += int64(m)
	if err == nil && m != len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		lw.err = err
		return 1
	}
	return 0
}

// blobReader is the per-call userdata of rr_blob_write_reader. The library calls its
// read function on one of its threads, one call at a time.
type blobReader struct {
	r        io.Reader
	eof      bool
	err      error
	panicked bool
	panicVal any
}

// Reads that may return nothing and no error before the reader counts as stuck
// (io.ErrNoProgress), as bufio does.
const maxEmptyReads = 100

var errInvalidRead = errors.New("rr: the blob's reader returned an invalid count")

//export rrgoRead
func rrgoRead(h C.uintptr_t, buf *C.uint8_t, n C.size_t) (rc C.int64_t) {
	var br *blobReader
	defer func() {
		if v := recover(); v != nil {
			if br != nil {
				br.panicked, br.panicVal = true, v
			}
			rc = -1
		}
	}()
	br = cgo.Handle(h).Value().(*blobReader)
	if br.eof || n == 0 {
		return 0
	}
	if br.err != nil {
		return -1
	}
	p := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n))
	for range maxEmptyReads {
		m, err := br.r.Read(p)
		switch {
		case m < 0 || m > len(p):
			br.err = errInvalidRead
			return -1
		case err == io.EOF:
			br.eof = true
		case err != nil:
			// The bytes that came with the error are not taken: the push fails anyway.
			br.err = err
			return -1
		}
		if m > 0 || br.eof {
			return C.int64_t(m)
		}
	}
	br.err = io.ErrNoProgress
	return -1
}

// pageWriter is the per-call userdata of rr_list_pages and rr_catalog_pages: each page
// goes to the goroutine ranging over the iterator, and the callback returns only when the
// loop body is done with it (next) or has left the loop (stop closed), so that librr
// makes no request the loop did not ask for.
type pageWriter struct {
	pages    chan []string
	next     chan struct{}
	stop     chan struct{}
	panicked bool
	panicVal any
}

//export rrgoPage
func rrgoPage(h C.uintptr_t, entries **C.char, n C.size_t) (rc C.int32_t) {
	var pw *pageWriter
	defer func() {
		if v := recover(); v != nil {
			if pw != nil {
				pw.panicked, pw.panicVal = true, v
			}
			rc = 1
		}
	}()
	pw = cgo.Handle(h).Value().(*pageWriter)
	select {
	case <-pw.stop:
		return 1
	default:
	}
	ptrs := unsafe.Slice(entries, int(n))
	page := make([]string, len(ptrs))
	for i, p := range ptrs {
		page[i] = C.GoString(p)
	}
	select {
	case pw.pages <- page:
	case <-pw.stop:
		return 1
	}
	select {
	case <-pw.next:
		return 0
	case <-pw.stop:
		return 1
	}
}
