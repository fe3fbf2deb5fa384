package rr

/*
#include "bridge.h"
*/
import "C"

import (
	"context"
	"io"
	"runtime"
	"runtime/cgo"
)

// Image is an image manifest with its config and layers, opened from a registry, read
// from a layout or built. It is immutable and safe for concurrent use.
type Image struct {
	p  *C.rr_image
	st states  // the clients it came through (their callbacks)
	cl *Client // the client it was opened with, which bounds its reads by ctx; nil for built and layout images
}

// Layer describes one layer of an image, as its manifest states it.
type Layer struct {
	Digest       string
	MediaType    string
	Size         uint64
	ArtifactType string            // the descriptor's artifactType, or ""
	Annotations  map[string]string // nil when it has none
}

// annotations reads count annotations through a key and a value getter; nil for none.
func annotations(count C.size_t, key, value func(j C.size_t) *C.char) map[string]string {
	if count == 0 {
		return nil
	}
	m := make(map[string]string, int(count))
	for j := C.size_t(0); j < count; j++ {
		m[goString(key(j))] = goString(value(j))
	}
	return m
}

// newImage wraps p, taking a reference on each of st.
func newImage(p *C.rr_image, st states) *Image {
	img := &Image{p: p, st: st.acquire()}
	runtime.SetFinalizer(img, (*Image).Close)
	return img
}

// Close frees the image. Idempotent.
func (img *Image) Close() error {
	if img == nil || img.p == nil {
		return nil
	}
	C.rr_image_free(img.p)
	img.p = nil
	img.st.release()
	img.st = nil
	runtime.SetFinalizer(img, nil)
	return nil
}

func (img *Image) ptr() *C.rr_image {
	if img == nil {
		return nil
	}
	return img.p
}

func (img *Image) state() states {
	if img == nil {
		return nil
	}
	return img.st
}

// withContext runs f on img, or, when ctx can end and img came from a client, on a copy
// of img that reads through a client derived for this call (rr_image_with_client), so
// that the end of ctx cancels the read.
func (img *Image) withContext(ctx context.Context, f func(p *C.rr_image) C.rr_status) error {
	if img == nil || img.cl == nil { // nil: the C call reports it
		if ctx != nil && ctx.Err() != nil {
			return endedBefore(ctx.Err())
		}
		return img.do(func() C.rr_status { return f(img.ptr()) })
	}
	own := img.cl.ptr()
	err := img.cl.withContext(ctx, func(c *C.rr_client) C.rr_status {
		if c == own { // a context that cannot end: no copy needed
			return f(img.ptr())
		}
		var bound *C.rr_image
		if rc := C.rr_image_with_client(img.ptr(), c, &bound); rc != C.RR_OK {
			return rc
		}
		defer C.rr_image_free(bound)
		return f(bound)
	}, img.state()...)
	runtime.KeepAlive(img)
	return err
}

func (img *Image) do(f func() C.rr_status) error {
	err := call(f, img.state()...)
	runtime.KeepAlive(img)
	return err
}

// Digest is the manifest's digest ("sha256:...").
func (img *Image) Digest() string {
	defer runtime.KeepAlive(img)
	return goString(C.rr_image_digest(img.ptr()))
}

// MediaType is the manifest's media type.
func (img *Image) MediaType() string {
	defer runtime.KeepAlive(img)
	return goString(C.rr_image_media_type(img.ptr()))
}

// Manifest returns a copy of the manifest's bytes.
func (img *Image) Manifest() ([]byte, error) {
	var b *C.uint8_t
	var n C.size_t
	if err := img.do(func() C.rr_status { return C.rr_image_manifest(img.ptr(), &b, &n) }); err != nil {
		return nil, err
	}
	defer runtime.KeepAlive(img)
	return goBytes(b, n), nil
}

// Config returns a copy of the config blob, fetched and verified on the first call
// (within ctx).
func (img *Image) Config(ctx context.Context) ([]byte, error) {
	var b *C.uint8_t
	var n C.size_t
	if err := img.withContext(ctx, func(p *C.rr_image) C.rr_status { return C.rr_image_config(p, &b, &n) }); err != nil {
		return nil, err
	}
	defer runtime.KeepAlive(img)
	return goBytes(b, n), nil
}

// ConfigDigest is the config's digest as the manifest states it (no fetch).
func (img *Image) ConfigDigest() string {
	defer runtime.KeepAlive(img)
	return goString(C.rr_image_config_digest(img.ptr()))
}

// ConfigMediaType is the config's media type as the manifest states it.
func (img *Image) ConfigMediaType() string {
	defer runtime.KeepAlive(img)
	return goString(C.rr_image_config_media_type(img.ptr()))
}

// ConfigSize is the config's size as the manifest states it (what Config verifies).
func (img *Image) ConfigSize() uint64 {
	defer runtime.KeepAlive(img)
	return uint64(C.rr_image_config_size(img.ptr()))
}

// TotalSize is the image's size as its manifest states it: the config and every layer,
// each distinct digest once, the manifest not counted (without foreign layers, the total
// a pull's progress reports).
func (img *Image) TotalSize() uint64 {
	defer runtime.KeepAlive(img)
	return uint64(C.rr_image_total_size(img.ptr()))
}

// ArtifactType is the manifest's artifactType, or "".
func (img *Image) ArtifactType() string {
	defer runtime.KeepAlive(img)
	return goString(C.rr_image_artifact_type(img.ptr()))
}

// SubjectDigest is the digest of the manifest's subject (the manifest an artifact refers
// to), "" when it has none.
func (img *Image) SubjectDigest() string {
	defer runtime.KeepAlive(img)
	return goString(C.rr_image_subject_digest(img.ptr()))
}

// SubjectMediaType is the media type of the manifest's subject, "" when it has none.
func (img *Image) SubjectMediaType() string {
	defer runtime.KeepAlive(img)
	return goString(C.rr_image_subject_media_type(img.ptr()))
}

// SubjectSize is the size of the manifest's subject, 0 when it has none.
func (img *Image) SubjectSize() uint64 {
	defer runtime.KeepAlive(img)
	return uint64(C.rr_image_subject_size(img.ptr()))
}

// Annotations are the manifest's own annotations (nil when it has none); a new map on
// each call.
func (img *Image) Annotations() map[string]string {
	defer runtime.KeepAlive(img)
	p := img.ptr()
	return annotations(C.rr_image_annotation_count(p),
		func(j C.size_t) *C.char { return C.rr_image_annotation_key(p, j) },
		func(j C.size_t) *C.char { return C.rr_image_annotation_value(p, j) })
}

// LayerCount is the number of layers.
func (img *Image) LayerCount() int {
	defer runtime.KeepAlive(img)
	return int(C.rr_image_layer_count(img.ptr()))
}

// Layers describes every layer, in manifest order.
func (img *Image) Layers() []Layer {
	defer runtime.KeepAlive(img)
	p := img.ptr()
	out := make([]Layer, int(C.rr_image_layer_count(p)))
	for i := range out {
		j := C.size_t(i)
		out[i] = Layer{
			Digest:       goString(C.rr_image_layer_digest(p, j)),
			MediaType:    goString(C.rr_image_layer_media_type(p, j)),
			Size:         uint64(C.rr_image_layer_size(p, j)),
			ArtifactType: goString(C.rr_image_layer_artifact_type(p, j)),
			Annotations: annotations(C.rr_image_layer_annotation_count(p, j),
				func(k C.size_t) *C.char { return C.rr_image_layer_annotation_key(p, j, k) },
				func(k C.size_t) *C.char { return C.rr_image_layer_annotation_value(p, j, k) }),
		}
	}
	return out
}

// WriteLayerTo streams layer i's compressed bytes to w as they arrive and returns the
// count written. The digest and size are checked at the end: on StatusDigestMismatch w
// has seen bad bytes and must discard them. A write error of w stops the transfer and
// is returned as it is. Reports progress to the client's ProgressFunc. The end of ctx
// cancels the transfer.
func (img *Image) WriteLayerTo(ctx context.Context, i int, w io.Writer) (int64, error) {
	if i < 0 {
		return 0, &Error{Status: StatusInvalidArgument, Message: "rr: negative layer index"}
	}
	lw := &layerWriter{w: w}
	h := cgo.NewHandle(lw)
	defer h.Delete()
	err := img.withContext(ctx, func(p *C.rr_image) C.rr_status { return C.rrgo_image_layer_read(p, C.size_t(i), C.uintptr_t(h)) })
	if lw.panicked {
		panic(lw.panicVal)
	}
	if err != nil && lw.err != nil && StatusOf(err) == StatusCallback {
		return lw.n, lw.err
	}
	return lw.n, err
}

// LayerReader returns a reader of layer i's compressed bytes, streamed by a goroutine
// through WriteLayerTo. The reader's final error (at the end, instead of io.EOF) reports
// a failed verification: only a read that ends with io.EOF saw a verified layer. Close
// the reader to stop early. A panic of a callback is raised again in Read. The end of
// ctx ends the stream with an error wrapping ctx.Err().
func (img *Image) LayerReader(ctx context.Context, i int) (io.ReadCloser, error) {
	if i < 0 || i >= img.LayerCount() {
		return nil, &Error{Status: StatusInvalidArgument, Message: "rr: layer index out of range"}
	}
	pr, pw := io.Pipe()
	lr := &layerReader{pr: pr}
	go func() {
		defer func() {
			if v := recover(); v != nil {
				lr.panicVal = v
				pw.CloseWithError(errLayerPanic)
			}
		}()
		_, err := img.WriteLayerTo(ctx, i, pw)
		pw.CloseWithError(err) // nil: io.EOF for the reader
	}()
	return lr, nil
}

type panicError struct{}

func (panicError) Error() string { return "rr: a callback panicked" }

var errLayerPanic error = panicError{}

type layerReader struct {
	pr       *io.PipeReader
	panicVal any
}

func (r *layerReader) Read(p []byte) (int, error) {
	n, err := r.pr.Read(p)
	if err == errLayerPanic {
		// The writer set panicVal before closing the pipe, which orders it before here.
		panic(r.panicVal)
	}
	return n, err
}

func (r *layerReader) Close() error {
	return r.pr.Close()
}

// SaveLayer writes layer i's compressed bytes to path atomically (overwriting it; no
// partial or temporary file is left behind on failure, also when ctx ends).
func (img *Image) SaveLayer(ctx context.Context, i int, path string) error {
	if i < 0 {
		return &Error{Status: StatusInvalidArgument, Message: "rr: negative layer index"}
	}
	var a cstrs
	defer a.free()
	p := a.str(path, "the path")
	if a.err != nil {
		return a.err
	}
	return img.withContext(ctx, func(im *C.rr_image) C.rr_status { return C.rr_image_layer_save(im, C.size_t(i), p) })
}

// ToOCI returns the image with OCI media types: a Docker schema 2 manifest becomes an OCI
// image manifest, its config and layers get the OCI media types of the same content, and
// nothing else changes (the blobs are the same, with the same digests; the manifest, and
// so its digest, is new). An image without Docker media types comes back unchanged, with
// the same digest. StatusUnsupported for a Docker media type with no OCI equivalent (a
// plugin config). The result is a new Image the caller closes; img stays usable.
func (img *Image) ToOCI() (*Image, error) {
	var p *C.rr_image
	if err := img.do(func() C.rr_status { return C.rr_image_to_oci(img.ptr(), &p) }); err != nil {
		return nil, err
	}
	out := newImage(p, img.state())
	out.cl = img.cl
	return out, nil
}
