package rr

/*
#include "rr.h"
*/
import "C"

import (
	"context"
	"runtime"
)

// Index is an image index (or Docker manifest list). It is immutable and safe for
// concurrent use.
type Index struct {
	p  *C.rr_index
	st states  // the clients it came through (their callbacks)
	cl *Client // the client it was opened with, which bounds its reads by ctx; nil for built and layout indexes
}

// Child describes one manifest an index lists, as the index states it.
type Child struct {
	Digest    string
	MediaType string
	Platform  string // "os/arch[/variant]", or "" when the index gives none
	// Size is the child manifest's size.
	Size uint64
	// PlatformSpec is every field of the platform (os.version and os.features included),
	// as written; nil when the index gives none.
	PlatformSpec *Platform
	ArtifactType string            // the entry's artifactType, or ""
	Annotations  map[string]string // nil when it has none
}

// withContext runs f on idx, or, when ctx can end and idx came from a client, on a copy
// of idx that reads through a client derived for this call (rr_index_with_client).
func (idx *Index) withContext(ctx context.Context, f func(p *C.rr_index) C.rr_status) error {
	if idx == nil || idx.cl == nil { // nil: the C call reports it
		if ctx != nil && ctx.Err() != nil {
			return endedBefore(ctx.Err())
		}
		return idx.do(func() C.rr_status { return f(idx.ptr()) })
	}
	own := idx.cl.ptr()
	err := idx.cl.withContext(ctx, func(c *C.rr_client) C.rr_status {
		if c == own {
			return f(idx.ptr())
		}
		var bound *C.rr_index
		if rc := C.rr_index_with_client(idx.ptr(), c, &bound); rc != C.RR_OK {
			return rc
		}
		defer C.rr_index_free(bound)
		return f(bound)
	}, idx.state()...)
	runtime.KeepAlive(idx)
	return err
}

// child wraps an image or index opened through idx: it keeps idx's client.
func (idx *Index) childImage(p *C.rr_image) *Image {
	img := newImage(p, idx.state())
	img.cl = idx.cl
	return img
}

func (idx *Index) childIndex(p *C.rr_index) *Index {
	child := newIndex(p, idx.state())
	child.cl = idx.cl
	return child
}

func newIndex(p *C.rr_index, st states) *Index {
	idx := &Index{p: p, st: st.acquire()}
	runtime.SetFinalizer(idx, (*Index).Close)
	return idx
}

// Close frees the index. Idempotent.
func (idx *Index) Close() error {
	if idx == nil || idx.p == nil {
		return nil
	}
	C.rr_index_free(idx.p)
	idx.p = nil
	idx.st.release()
	idx.st = nil
	runtime.SetFinalizer(idx, nil)
	return nil
}

func (idx *Index) ptr() *C.rr_index {
	if idx == nil {
		return nil
	}
	return idx.p
}

func (idx *Index) state() states {
	if idx == nil {
		return nil
	}
	return idx.st
}

func (idx *Index) do(f func() C.rr_status) error {
	err := call(f, idx.state()...)
	runtime.KeepAlive(idx)
	return err
}

// Digest is the index's digest.
func (idx *Index) Digest() string {
	defer runtime.KeepAlive(idx)
	return goString(C.rr_index_digest(idx.ptr()))
}

// MediaType is the index's media type.
func (idx *Index) MediaType() string {
	defer runtime.KeepAlive(idx)
	return goString(C.rr_index_media_type(idx.ptr()))
}

// Manifest returns a copy of the index's bytes.
func (idx *Index) Manifest() ([]byte, error) {
	var b *C.uint8_t
	var n C.size_t
	if err := idx.do(func() C.rr_status { return C.rr_index_manifest(idx.ptr(), &b, &n) }); err != nil {
		return nil, err
	}
	defer runtime.KeepAlive(idx)
	return goBytes(b, n), nil
}

// ChildCount is the number of manifests the index lists.
func (idx *Index) ChildCount() int {
	defer runtime.KeepAlive(idx)
	return int(C.rr_index_child_count(idx.ptr()))
}

// Children describes every listed manifest, in order.
func (idx *Index) Children() []Child {
	defer runtime.KeepAlive(idx)
	p := idx.ptr()
	out := make([]Child, int(C.rr_index_child_count(p)))
	for i := range out {
		j := C.size_t(i)
		out[i] = Child{
			Digest:       goString(C.rr_index_child_digest(p, j)),
			MediaType:    goString(C.rr_index_child_media_type(p, j)),
			Platform:     goString(C.rr_index_child_platform(p, j)),
			Size:         uint64(C.rr_index_child_size(p, j)),
			PlatformSpec: childPlatform(p, j),
			ArtifactType: goString(C.rr_index_child_artifact_type(p, j)),
			Annotations: annotations(C.rr_index_child_annotation_count(p, j),
				func(k C.size_t) *C.char { return C.rr_index_child_annotation_key(p, j, k) },
				func(k C.size_t) *C.char { return C.rr_index_child_annotation_value(p, j, k) }),
		}
	}
	return out
}

// childPlatform reads child j's platform fields; nil when it declares none.
func childPlatform(p *C.rr_index, j C.size_t) *Platform {
	os := C.rr_index_child_os(p, j)
	if os == nil {
		return nil
	}
	pl := &Platform{
		OS:           goString(os),
		Architecture: goString(C.rr_index_child_architecture(p, j)),
		Variant:      goString(C.rr_index_child_variant(p, j)),
		OSVersion:    goString(C.rr_index_child_os_version(p, j)),
	}
	for k := C.size_t(0); k < C.rr_index_child_os_feature_count(p, j); k++ {
		pl.OSFeatures = append(pl.OSFeatures, goString(C.rr_index_child_os_feature(p, j, k)))
	}
	return pl
}

// ArtifactType is the index's own artifactType, or "".
func (idx *Index) ArtifactType() string {
	defer runtime.KeepAlive(idx)
	return goString(C.rr_index_artifact_type(idx.ptr()))
}

// Annotations are the index's own annotations (nil when it has none); a new map on each
// call. Children's are in Children.
func (idx *Index) Annotations() map[string]string {
	defer runtime.KeepAlive(idx)
	p := idx.ptr()
	return annotations(C.rr_index_annotation_count(p),
		func(j C.size_t) *C.char { return C.rr_index_annotation_key(p, j) },
		func(j C.size_t) *C.char { return C.rr_index_annotation_value(p, j) })
}

// ChildImage opens child i as an image (within ctx).
func (idx *Index) ChildImage(ctx context.Context, i int) (*Image, error) {
	if i < 0 {
		return nil, &Error{Status: StatusInvalidArgument, Message: "rr: negative child index"}
	}
	var p *C.rr_image
	if err := idx.withContext(ctx, func(x *C.rr_index) C.rr_status { return C.rr_index_child_image(x, C.size_t(i), &p) }); err != nil {
		return nil, err
	}
	return idx.childImage(p), nil
}

// ChildIndex opens child i as an index (within ctx).
func (idx *Index) ChildIndex(ctx context.Context, i int) (*Index, error) {
	if i < 0 {
		return nil, &Error{Status: StatusInvalidArgument, Message: "rr: negative child index"}
	}
	var p *C.rr_index
	if err := idx.withContext(ctx, func(x *C.rr_index) C.rr_status { return C.rr_index_child_index(x, C.size_t(i), &p) }); err != nil {
		return nil, err
	}
	return idx.childIndex(p), nil
}

// ImageForPlatform opens the child that best matches platform
// ("os/arch[/variant][:os.version]"); StatusNotFound when none does.
func (idx *Index) ImageForPlatform(ctx context.Context, platform string) (*Image, error) {
	var a cstrs
	defer a.free()
	s := a.str(platform, "the platform")
	if a.err != nil {
		return nil, a.err
	}
	var p *C.rr_image
	if err := idx.withContext(ctx, func(x *C.rr_index) C.rr_status { return C.rr_index_image_for_platform(x, s, &p) }); err != nil {
		return nil, err
	}
	return idx.childImage(p), nil
}

// ImageForPlatformSpec opens the child that best matches p, field by field: as
// ImageForPlatform, and the child must also list each of p.OSFeatures. StatusNotFound
// when none does; StatusInvalidReference for a field that is no platform's.
func (idx *Index) ImageForPlatformSpec(ctx context.Context, p Platform) (*Image, error) {
	var a cstrs
	defer a.free()
	spec := p.spec(&a)
	if a.err != nil {
		return nil, a.err
	}
	var img *C.rr_image
	if err := idx.withContext(ctx, func(x *C.rr_index) C.rr_status { return C.rr_index_image_for_platform_spec(x, spec, &img) }); err != nil {
		return nil, err
	}
	return idx.childImage(img), nil
}

// ToOCI returns the index with OCI media types: a Docker manifest list becomes an OCI
// image index, and every child is converted as by Image.ToOCI (nested indexes too), each
// entry naming its converted child's media type, digest and size. The converted children
// are held by the new Index (ChildImage, WriteIndex and WriteLayoutIndex find them); their
// blobs stay where idx's are. Fetches every child manifest. An index without Docker media
// types comes back unchanged, with the same digest. StatusUnsupported for a Docker media
// type with no OCI equivalent, a schema1 child, or, in an index that must change, a child
// that is neither an image nor an index. The result is a new Index the caller closes.
func (idx *Index) ToOCI(ctx context.Context) (*Index, error) {
	var p *C.rr_index
	if err := idx.withContext(ctx, func(x *C.rr_index) C.rr_status { return C.rr_index_to_oci(x, &p) }); err != nil {
		return nil, err
	}
	return idx.childIndex(p), nil
}
