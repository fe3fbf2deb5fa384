package rr

/*
#include <stdlib.h>
#include "rr.h"
*/
import "C"

import (
	"strings"
	"unsafe"
)

// Platform is a platform field by field: what an index entry states (Child.PlatformSpec)
// or what to ask for (WithPlatformSpec, Index.ImageForPlatformSpec). Unlike a platform
// string it carries os.features, which a chosen child must all list.
type Platform struct {
	OS           string   // "linux", "windows"
	Architecture string   // "amd64", "arm64"
	Variant      string   // "v8", or ""
	OSVersion    string   // "10.0.17763.1234", or ""
	OSFeatures   []string // "win32k", ...
}

// String is the platform string: "os/arch[/variant][:os.version]" (os.features have no
// place in it).
func (p Platform) String() string {
	var b strings.Builder
	b.WriteString(p.OS)
	b.WriteString("/")
	b.WriteString(p.Architecture)
	if p.Variant != "" {
		b.WriteString("/")
		b.WriteString(p.Variant)
	}
	if p.OSVersion != "" {
		b.WriteString(":")
		b.WriteString(p.OSVersion)
	}
	return b.String()
}

// spec is p as the C struct, its strings and the features array in C memory held by a
// (freed by the caller with a.free): the struct itself is Go memory holding only C
// pointers, which cgo allows to pass. librr reads it during the call only.
func (p Platform) spec(a *cstrs) *C.rr_platform_spec {
	s := &C.rr_platform_spec{
		os:           a.str(p.OS, "the platform's os"),
		architecture: a.str(p.Architecture, "the platform's architecture"),
		variant:      a.optStr(p.Variant, "the platform's variant"),
		os_version:   a.optStr(p.OSVersion, "the platform's os.version"),
	}
	if n := len(p.OSFeatures); n > 0 {
		array := C.malloc(C.size_t(n) * C.size_t(unsafe.Sizeof((*C.char)(nil))))
		a.ptrs = append(a.ptrs, array)
		features := unsafe.Slice((**C.char)(array), n)
		for i, f := range p.OSFeatures {
			features[i] = a.str(f, "an os.features entry")
		}
		s.os_features = (**C.char)(array)
		s.os_feature_count = C.size_t(n)
	}
	return s
}

// ManifestKind says what a manifest media type names, as librr tells images from indexes
// (rr_manifest_kind).
type ManifestKind int

// The values of rr_manifest_kind.
const (
	ManifestUnknown ManifestKind = C.RR_MANIFEST_UNKNOWN // not a manifest type librr reads
	ManifestImage   ManifestKind = C.RR_MANIFEST_IMAGE   // OCI image manifest, Docker schema 2
	ManifestIndex   ManifestKind = C.RR_MANIFEST_INDEX   // OCI index, Docker manifest list
	ManifestSchema1 ManifestKind = C.RR_MANIFEST_SCHEMA1 // Docker schema 1 (reported, not opened)
)

// MediaTypeKind is the kind of manifest mediaType names (Descriptor.MediaType,
// Child.MediaType), so that no caller compares media type strings.
func MediaTypeKind(mediaType string) ManifestKind {
	var a cstrs
	defer a.free()
	s := a.str(mediaType, "the media type")
	if a.err != nil {
		return ManifestUnknown
	}
	return ManifestKind(C.rr_media_type_kind(s))
}
