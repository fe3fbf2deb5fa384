package rr

/*
#include "rr.h"
*/
import "C"

import (
	"context"
)

// Referrers lists the referrers of the manifest at ref (a digest, or a tag resolved to
// its digest by one HEAD): the manifests whose subject names it, such as signatures,
// SBOMs and attestations. With artifactType ("" for all), only those of that artifact
// type.
//
// The registry's referrers API is used when it has one (every Link page of its answer is
// followed; the filter is applied by rr unless the registry's OCI-Filters-Applied says it
// did). Where the API answers 404, the fallback tag sha256-<hex> is read instead and each
// entry it lists is fetched: one that is gone, or whose subject is another manifest, is
// left out (with a line in the request log); a tag holding something other than an index
// counts as no referrers.
//
// The result is an OCI index the caller closes: its children are the referrers, with
// their digests, artifact types and annotations (Children), and ChildImage opens one.
// StatusInvalidArgument when artifactType is not a media type ("type/subtype").
func (cl *Client) Referrers(ctx context.Context, ref string, artifactType string) (*Index, error) {
	var a cstrs
	defer a.free()
	t := a.optStr(artifactType, "the artifact type")
	if a.err != nil {
		return nil, a.err
	}
	var p *C.rr_index
	err := cl.withRef(ctx, ref, func(c *C.rr_client, r *C.char) C.rr_status { return C.rr_referrers(c, r, t, &p) })
	if err != nil {
		return nil, err
	}
	idx := newIndex(p, cl.derived())
	idx.cl = cl
	return idx, nil
}

// CopyWithReferrers copies the image or index at src to dst as Copy does, then every
// referrer of it, of an index's children, and of those referrers in turn (a signature of
// an SBOM), to dst's repository under their digests, byte for byte (mounted within one
// registry). Where dst's registry has no referrers API, each copy is listed under its
// subject's fallback tag there. A referrer that is neither an image nor an index is left
// out with a line in the request log. The context bounds the whole copy.
func (cl *Client) CopyWithReferrers(ctx context.Context, src, dst string) error {
	var a cstrs
	defer a.free()
	s, d := a.str(src, "the source reference"), a.str(dst, "the destination reference")
	if a.err != nil {
		return a.err
	}
	return cl.withContext(ctx, func(c *C.rr_client) C.rr_status { return C.rr_copy_with_referrers(c, s, d) })
}

// SaveFiles saves the files of the artifact img into dir (created when missing): every
// layer with an org.opencontainers.image.title annotation becomes the file of that name,
// verified against the layer's digest, replacing a file of that name. Layers without a
// title are not saved. It returns the number of files saved.
//
// A title is used as a bare file name only: StatusInvalidResponse, with nothing written,
// when one is empty, "." or "..", contains "/", "\" or a NUL, or when two layers share
// one. The files are renamed into place only once all of them are verified, so a failed
// call leaves none behind.
func (img *Image) SaveFiles(ctx context.Context, dir string) (int, error) {
	var a cstrs
	defer a.free()
	d := a.str(dir, "the directory")
	if a.err != nil {
		return 0, a.err
	}
	var files C.size_t
	err := img.withContext(ctx, func(im *C.rr_image) C.rr_status { return C.rr_image_save_files(im, d, &files) })
	if err != nil {
		return 0, err
	}
	return int(files), nil
}
