package rr

/*
#include "rr.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// ImageBuilder makes a local image (OCI manifest) from layer files. Not safe for
// concurrent use.
type ImageBuilder struct {
	p *C.rr_image_builder
}

// NewImageBuilder starts an image; the platform defaults to linux/amd64.
func NewImageBuilder() (*ImageBuilder, error) {
	var p *C.rr_image_builder
	if err := call(func() C.rr_status { return C.rr_image_builder_new(&p) }); err != nil {
		return nil, err
	}
	b := &ImageBuilder{p: p}
	runtime.SetFinalizer(b, (*ImageBuilder).Close)
	return b, nil
}

// Close frees the builder (images it built stay valid). Idempotent.
func (b *ImageBuilder) Close() error {
	if b == nil || b.p == nil {
		return nil
	}
	C.rr_image_builder_free(b.p)
	b.p = nil
	runtime.SetFinalizer(b, nil)
	return nil
}

func (b *ImageBuilder) ptr() *C.rr_image_builder {
	if b == nil {
		return nil
	}
	return b.p
}

func (b *ImageBuilder) do(f func() C.rr_status) error {
	err := call(f)
	runtime.KeepAlive(b)
	return err
}

// SetPlatform sets the image's platform ("os/arch[/variant][:os.version]").
func (b *ImageBuilder) SetPlatform(platform string) error {
	var a cstrs
	defer a.free()
	s := a.str(platform, "the platform")
	if a.err != nil {
		return a.err
	}
	return b.do(func() C.rr_status { return C.rr_image_builder_set_platform(b.ptr(), s) })
}

// SetConfig sets the base config (a JSON object); rootfs and history are filled in.
func (b *ImageBuilder) SetConfig(json []byte) error {
	var p *C.uint8_t
	if len(json) > 0 {
		p = (*C.uint8_t)(unsafe.Pointer(&json[0]))
	}
	return b.do(func() C.rr_status { return C.rr_image_builder_set_config(b.ptr(), p, C.size_t(len(json))) })
}

// AddLayerFile adds a tar, tar+gzip or tar+zstd file as the next layer, stored exactly
// as it is; mediaType "" detects it.
func (b *ImageBuilder) AddLayerFile(path, mediaType string) error {
	var a cstrs
	defer a.free()
	p, m := a.str(path, "the path"), a.optStr(mediaType, "the media type")
	if a.err != nil {
		return a.err
	}
	return b.do(func() C.rr_status { return C.rr_image_builder_add_layer_file(b.ptr(), p, m) })
}

// Build makes the image. The builder may be closed after.
func (b *ImageBuilder) Build() (*Image, error) {
	var p *C.rr_image
	if err := b.do(func() C.rr_status { return C.rr_image_builder_build(b.ptr(), &p) }); err != nil {
		return nil, err
	}
	return newImage(p, nil), nil
}

// IndexBuilder makes a local index from images. Not safe for concurrent use.
type IndexBuilder struct {
	p  *C.rr_index_builder
	st states // of the images added
}

// NewIndexBuilder starts an index.
func NewIndexBuilder() (*IndexBuilder, error) {
	var p *C.rr_index_builder
	if err := call(func() C.rr_status { return C.rr_index_builder_new(&p) }); err != nil {
		return nil, err
	}
	b := &IndexBuilder{p: p}
	runtime.SetFinalizer(b, (*IndexBuilder).Close)
	return b, nil
}

// Close frees the builder (indexes it built stay valid). Idempotent.
func (b *IndexBuilder) Close() error {
	if b == nil || b.p == nil {
		return nil
	}
	C.rr_index_builder_free(b.p)
	b.p = nil
	b.st.release()
	b.st = nil
	runtime.SetFinalizer(b, nil)
	return nil
}

func (b *IndexBuilder) ptr() *C.rr_index_builder {
	if b == nil {
		return nil
	}
	return b.p
}

// AddImage adds img as the next child; platform "" takes the image's own.
func (b *IndexBuilder) AddImage(img *Image, platform string) error {
	if img == nil {
		return errNil("image")
	}
	var a cstrs
	defer a.free()
	s := a.optStr(platform, "the platform")
	if a.err != nil {
		return a.err
	}
	err := call(func() C.rr_status { return C.rr_index_builder_add_image(b.ptr(), img.ptr(), s) }, img.state()...)
	runtime.KeepAlive(b)
	runtime.KeepAlive(img)
	if err == nil && b != nil {
		// The index keeps the image's source, hence its client's callbacks, alive.
		old := b.st
		b.st = old.union(img.state()).acquire()
		old.release()
	}
	return err
}

// Build makes the index. The builder and the images may be closed after.
func (b *IndexBuilder) Build() (*Index, error) {
	var p *C.rr_index
	err := call(func() C.rr_status { return C.rr_index_builder_build(b.ptr(), &p) })
	runtime.KeepAlive(b)
	if err != nil {
		return nil, err
	}
	var st states
	if b != nil {
		st = b.st
	}
	return newIndex(p, st), nil
}
