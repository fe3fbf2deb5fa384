package rr

/*
#include "rr.h"
*/
import "C"

import (
	"context"
	"runtime"
	"unsafe"
)

// ArtifactBuilder makes an OCI 1.1 artifact: an image manifest with an artifactType,
// the empty config unless one is set, files of any media type as its layers, and an
// optional subject. What it builds is an *Image, pushed with Client.Write like any other.
// Not safe for concurrent use.
type ArtifactBuilder struct {
	p *C.rr_artifact_builder
}

// NewArtifactBuilder starts an artifact of artifactType ("type/subtype", RFC 6838).
func NewArtifactBuilder(artifactType string) (*ArtifactBuilder, error) {
	var a cstrs
	defer a.free()
	t := a.str(artifactType, "the artifact type")
	if a.err != nil {
		return nil, a.err
	}
	var p *C.rr_artifact_builder
	if err := call(func() C.rr_status { return C.rr_artifact_builder_new(t, &p) }); err != nil {
		return nil, err
	}
	b := &ArtifactBuilder{p: p}
	runtime.SetFinalizer(b, (*ArtifactBuilder).Close)
	return b, nil
}

// Close frees the builder (images it built stay valid). Idempotent.
func (b *ArtifactBuilder) Close() error {
	if b == nil || b.p == nil {
		return nil
	}
	C.rr_artifact_builder_free(b.p)
	b.p = nil
	runtime.SetFinalizer(b, nil)
	return nil
}

func (b *ArtifactBuilder) ptr() *C.rr_artifact_builder {
	if b == nil {
		return nil
	}
	return b.p
}

func (b *ArtifactBuilder) do(f func() C.rr_status) error {
	err := call(f)
	runtime.KeepAlive(b)
	return err
}

// SetConfig sets a config blob of the artifact's own (stored as given) in place of the
// empty one.
func (b *ArtifactBuilder) SetConfig(mediaType string, config []byte) error {
	var a cstrs
	defer a.free()
	m := a.str(mediaType, "the media type")
	if a.err != nil {
		return a.err
	}
	var p *C.uint8_t
	if len(config) > 0 {
		p = (*C.uint8_t)(unsafe.Pointer(&config[0]))
	}
	return b.do(func() C.rr_status {
		return C.rr_artifact_builder_set_config(b.ptr(), m, p, C.size_t(len(config)))
	})
}

// AddFile adds the file at path as the next blob, of mediaType, titled with its base
// name (the org.opencontainers.image.title annotation).
func (b *ArtifactBuilder) AddFile(path, mediaType string) error {
	var a cstrs
	defer a.free()
	p, m := a.str(path, "the path"), a.str(mediaType, "the media type")
	if a.err != nil {
		return a.err
	}
	return b.do(func() C.rr_status { return C.rr_artifact_builder_add_file(b.ptr(), p, m) })
}

// AddAnnotation sets the manifest annotation key (non-empty) to value.
func (b *ArtifactBuilder) AddAnnotation(key, value string) error {
	var a cstrs
	defer a.free()
	k, v := a.str(key, "the annotation key"), a.str(value, "the annotation value")
	if a.err != nil {
		return a.err
	}
	return b.do(func() C.rr_status { return C.rr_artifact_builder_add_annotation(b.ptr(), k, v) })
}

// SetSubject sets the manifest the artifact refers to, by its media type, digest and
// size (as a Descriptor from Client.Head gives them). Nothing is asked of a registry.
func (b *ArtifactBuilder) SetSubject(mediaType, digest string, size uint64) error {
	var a cstrs
	defer a.free()
	m, d := a.str(mediaType, "the media type"), a.str(digest, "the digest")
	if a.err != nil {
		return a.err
	}
	return b.do(func() C.rr_status {
		return C.rr_artifact_builder_set_subject(b.ptr(), m, d, C.uint64_t(size))
	})
}

// SetSubjectRef sets the subject to the manifest at ref, found with one HEAD through
// cl; an absent manifest is an *Error with StatusNotFound.
func (b *ArtifactBuilder) SetSubjectRef(ctx context.Context, cl *Client, ref string) error {
	if cl == nil {
		return errNil("client")
	}
	err := cl.withRef(ctx, ref, func(c *C.rr_client, r *C.char) C.rr_status {
		return C.rr_artifact_builder_set_subject_ref(b.ptr(), c, r)
	})
	runtime.KeepAlive(b)
	return err
}

// Build makes the artifact as an image. The builder may be closed after.
func (b *ArtifactBuilder) Build() (*Image, error) {
	var p *C.rr_image
	if err := b.do(func() C.rr_status { return C.rr_artifact_builder_build(b.ptr(), &p) }); err != nil {
		return nil, err
	}
	return newImage(p, nil), nil
}
