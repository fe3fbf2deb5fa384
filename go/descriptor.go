package rr

/*
#include "rr.h"
*/
import "C"

import "runtime"

// Descriptor is what Get or Head found behind a reference: media type, digest, size and
// (after Get) the manifest. It is immutable and safe for concurrent use.
type Descriptor struct {
	p  *C.rr_descriptor
	st states  // the clients it came through (their callbacks)
	cl *Client // the client that got it (passed on to the images and indexes it opens)
}

func newDescriptor(p *C.rr_descriptor, st states) *Descriptor {
	d := &Descriptor{p: p, st: st.acquire()}
	runtime.SetFinalizer(d, (*Descriptor).Close)
	return d
}

// Close frees the descriptor. Idempotent.
func (d *Descriptor) Close() error {
	if d == nil || d.p == nil {
		return nil
	}
	C.rr_descriptor_free(d.p)
	d.p = nil
	d.st.release()
	d.st = nil
	runtime.SetFinalizer(d, nil)
	return nil
}

func (d *Descriptor) ptr() *C.rr_descriptor {
	if d == nil {
		return nil
	}
	return d.p
}

func (d *Descriptor) state() states {
	if d == nil {
		return nil
	}
	return d.st
}

func (d *Descriptor) do(f func() C.rr_status) error {
	err := call(f, d.state()...)
	runtime.KeepAlive(d)
	return err
}

// MediaType is the manifest's media type.
func (d *Descriptor) MediaType() string {
	defer runtime.KeepAlive(d)
	return goString(C.rr_descriptor_media_type(d.ptr()))
}

// Digest is the manifest's digest ("sha256:<64 hex>").
func (d *Descriptor) Digest() string {
	defer runtime.KeepAlive(d)
	return goString(C.rr_descriptor_digest(d.ptr()))
}

// Size is the manifest's size in bytes.
func (d *Descriptor) Size() uint64 {
	defer runtime.KeepAlive(d)
	return uint64(C.rr_descriptor_size(d.ptr()))
}

// Manifest returns a copy of the manifest's bytes; StatusInvalidArgument after Head.
func (d *Descriptor) Manifest() ([]byte, error) {
	var b *C.uint8_t
	var n C.size_t
	if err := d.do(func() C.rr_status { return C.rr_descriptor_manifest(d.ptr(), &b, &n) }); err != nil {
		return nil, err
	}
	defer runtime.KeepAlive(d)
	return goBytes(b, n), nil
}

// Image opens the manifest as an image (an index resolves by the client's platform).
func (d *Descriptor) Image() (*Image, error) {
	var p *C.rr_image
	if err := d.do(func() C.rr_status { return C.rr_descriptor_image(d.ptr(), &p) }); err != nil {
		return nil, err
	}
	img := newImage(p, d.state())
	img.cl = d.cl
	return img, nil
}

// Index opens the manifest as an index.
func (d *Descriptor) Index() (*Index, error) {
	var p *C.rr_index
	if err := d.do(func() C.rr_status { return C.rr_descriptor_index(d.ptr(), &p) }); err != nil {
		return nil, err
	}
	idx := newIndex(p, d.state())
	idx.cl = d.cl
	return idx, nil
}
