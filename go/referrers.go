package rr

/*
#include "rr.h"
*/
import "C"

import "context"

// OCI 1.1 referrers (rr_referrers, rr_copy_with_referrers) and an artifact's files
// (rr_image_save_files).

// Referrers lists the referrers of the manifest at ref ("registry/repository@sha256:...",
// or a tag, resolved to its digest by one HEAD): the manifests whose subject names it,
// such as signatures, SBOMs and attestations. With artifactType ("type/subtype"), only
// the referrers of that artifact type; "" lists them all.
//
// The registry's referrers API is used when it has one (every Link page followed; the
// filter is applied by rr when the registry does not say, in OCI-Filters-Applied, that it
// did). Where the API answers 404 (distribution 2.8, among others) the fallback tag
// "sha256-<hex>" of the subject's digest is read instead, and each manifest it lists is
// fetched: one that is gone or whose subject is another manifest is left out (the logger
// says so), and a fallback tag holding something other than an index counts as no
// referrers. No referrers is an empty Index, not an error.
//
// The result is an OCI index the caller closes: its Children are the referrers, each with
// its MediaType, Digest, Size, ArtifactType and Annotations, and ChildImage opens one.
// Its Manifest is the registry's answer when that was one page kept whole, else an index
// rr made of the entries kept. StatusInvalidArgument when artifactType is not a media
// type. The end of ctx ends the listing as a failure wrapping ctx.Err().
func (cl *Client) Referrers(ctx context.Context, ref string, artifactType string) (*Index, error) {
	var a cstrs
	defer a.free()
	r, t := a.str(ref, "the reference"), a.optStr(artifactType, "the artifact type")
	if a.err != nil {
		return nil, a.err
	}
	var p *C.rr_index
	err := cl.withContext(ctx, func(c *C.rr_client) C.rr_status { return C.rr_referrers(c, r, t, &p) })
	if err != nil {
		return nil, err
	}
	idx := newIndex(p, cl.derived())
	idx.cl = cl
	return idx, nil
}

// CopyWithReferrers copies the image or whole index at src to dst as Copy does, then
// every referrer of it, of each of an index's children, and of those referrers in turn (a
// signature of an SBOM), into dst's repository under their own digests, byte for byte
// (mounted within one registry). Where dst's registry has no referrers API, each copy is
// listed under its subject's fallback tag "sha256-<hex>" there, so that Referrers finds
// it. A referrer that is neither an image nor an index is left out (the logger says so).
// Copying again changes nothing. Progress and the end of ctx as for Copy.
func (cl *Client) CopyWithReferrers(ctx context.Context, src, dst string) error {
	var a cstrs
	defer a.free()
	s, d := a.str(src, "the source reference"), a.str(dst, "the destination reference")
	if a.err != nil {
		return a.err
	}
	return cl.withContext(ctx, func(c *C.rr_client) C.rr_status { return C.rr_copy_with_referrers(c, s, d) })
}

// SaveFiles saves the files of the artifact img into dir (made, parents included, when
// missing) and returns how many it saved: every layer with an
// org.opencontainers.image.title annotation becomes the file of that name (as
// ArtifactBuilder.AddFile or oras write them), verified against the layer's digest,
// replacing a file of that name. Layers without a title are not saved.
//
// A title comes from whoever pushed the artifact and is used as a bare file name only: a
// title that is empty, "." or "..", or holds a "/", "\" or NUL byte, and two layers with
// one title, are StatusInvalidResponse, with nothing written (dir is not even made).
// Every file is written beside its final name and renamed only once all are verified, so
// a failed call, also one ended by ctx, leaves no file behind.
func (img *Image) SaveFiles(ctx context.Context, dir string) (int, error) {
	var a cstrs
	defer a.free()
	d := a.str(dir, "the directory")
	if a.err != nil {
		return 0, a.err
	}
	var n C.size_t
	if err := img.withContext(ctx, func(p *C.rr_image) C.rr_status { return C.rr_image_save_files(p, d, &n) }); err != nil {
		return 0, err
	}
	return int(n), nil
}
