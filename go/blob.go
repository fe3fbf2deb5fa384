package rr

// #include "bridge.h"
import "C"

import (
	"context"
	"io"
	"runtime/cgo"
)

// Blobs on their own, named by their digest (go-containerregistry's remote.Layer and
// remote.WriteLayer): rr_blob_stat, rr_blob_read, rr_blob_save, rr_blob_write_file and
// rr_blob_write_reader.

// StatBlob returns the size of the blob ref names (REGISTRY/REPOSITORY@sha256:...), from
// one HEAD. StatusNotFound when the registry has no such blob; StatusInvalidReference
// when ref names a tag.
func (cl *Client) StatBlob(ctx context.Context, ref string) (int64, error) {
	var size C.uint64_t
	err := cl.withRef(ctx, ref, func(c *C.rr_client, r *C.char) C.rr_status { return C.rr_blob_stat(c, r, &size) })
	if err != nil {
		return 0, err
	}
	return int64(size), nil
}

// ReadBlob streams the blob ref names (REGISTRY/REPOSITORY@sha256:...) to w as it arrives
// and returns the count written. A broken connection resumes with Range; the digest and
// size are checked at the end: on StatusDigestMismatch w has seen bad bytes and must
// discard them. A write error of w stops the read and is returned as it is. Reports
// progress to the client's ProgressFunc.
func (cl *Client) ReadBlob(ctx context.Context, ref string, w io.Writer) (int64, error) {
	lw := &layerWriter{w: w}
	h := cgo.NewHandle(lw)
	defer h.Delete()
	err := cl.withRef(ctx, ref, func(c *C.rr_client, r *C.char) C.rr_status { return C.rrgo_blob_read(c, r, C.uintptr_t(h)) })
	if lw.panicked {
		panic(lw.panicVal)
	}
	if err != nil && lw.err != nil && StatusOf(err) == StatusCallback {
		return lw.n, lw.err
	}
	return lw.n, err
}

// SaveBlob writes the blob ref names to path atomically: path is replaced only once the
// whole blob arrived and verified, and no partial or temporary file is left on failure.
func (cl *Client) SaveBlob(ctx context.Context, ref, path string) error {
	var a cstrs
	defer a.free()
	p := a.str(path, "the path")
	if a.err != nil {
		return a.err
	}
	return cl.withRef(ctx, ref, func(c *C.rr_client, r *C.char) C.rr_status { return C.rr_blob_save(c, r, p) })
}

// BlobOption is an option of WriteBlob and WriteBlobFile.
type BlobOption func(*blobOptions)

type blobOptions struct {
	digest string
	from   string
}

// ExpectDigest gives WriteBlob the digest its content has: the blob is HEADed first and
// the reader not read at all when the repository has it (or, with MountFrom, when it can
// be mounted), and content that hashes to another digest fails the push with
// StatusDigestMismatch, nothing committed. WriteBlobFile hashes its file and takes no
// digest.
func ExpectDigest(digest string) BlobOption {
	return func(o *blobOptions) { o.digest = digest }
}

// MountFrom names another repository of the same registry (REGISTRY/REPOSITORY) to mount
// the blob from when it has it. WriteBlob needs ExpectDigest with it.
func MountFrom(repository string) BlobOption {
	return func(o *blobOptions) { o.from = repository }
}

func blobOpts(opts []BlobOption) blobOptions {
	var o blobOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

func digestString(d *[C.RR_DIGEST_SIZE]C.char) string {
	return C.GoString(&d[0])
}

// WriteBlob pushes what r yields, to its end, as one blob to repo (REGISTRY/REPOSITORY, no
// tag or digest) and returns its digest and size. The size need not be known: the bytes
// are hashed as they are sent, at constant memory (one streamed PATCH, or chunks under
// WithUploadStrategy(..., UploadChunked, ...), which resume after a break). r is read on
// a library thread, one Read at a time, and never after WriteBlob returns (a Read in
// progress when ctx is cancelled is waited for). An error of r (other than io.EOF) stops
// the push, the upload session is cancelled, and the error is returned as it is.
func (cl *Client) WriteBlob(ctx context.Context, repo string, r io.Reader, opts ...BlobOption) (string, int64, error) {
	o := blobOpts(opts)
	var a cstrs
	defer a.free()
	rp, exp, from := a.str(repo, "the repository"), a.optStr(o.digest, "the digest"), a.optStr(o.from, "the repository to mount from")
	if a.err != nil {
		return "", 0, a.err
	}
	br := &blobReader{r: r}
	h := cgo.NewHandle(br)
	defer h.Delete()
	var digest [C.RR_DIGEST_SIZE]C.char
	var size C.uint64_t
	err := cl.withContext(ctx, func(c *C.rr_client) C.rr_status {
		return C.rrgo_blob_write_reader(c, rp, C.uintptr_t(h), exp, from, &digest[0], C.size_t(len(digest)), &size)
	})
	if br.panicked {
		panic(br.panicVal)
	}
	if err != nil && br.err != nil && StatusOf(err) == StatusCallback {
		return "", 0, br.err
	}
	if err != nil {
		return "", 0, err
	}
	return digestString(&digest), int64(size), nil
}

// WriteBlobFile pushes the file at path as one blob to repo (REGISTRY/REPOSITORY) and
// returns its digest and size. The file is hashed first: a blob the repository has is not
// sent again, and with MountFrom one the other repository has is mounted; otherwise it is
// uploaded the way the client's upload strategy says, resumed after a break.
func (cl *Client) WriteBlobFile(ctx context.Context, repo, path string, opts ...BlobOption) (string, int64, error) {
	o := blobOpts(opts)
	if o.digest != "" {
		return "", 0, &Error{Status: StatusInvalidArgument, Message: "rr: ExpectDigest applies to WriteBlob; WriteBlobFile hashes its file"}
	}
	var a cstrs
	defer a.free()
	rp, p, from := a.str(repo, "the repository"), a.str(path, "the path"), a.optStr(o.from, "the repository to mount from")
	if a.err != nil {
		return "", 0, a.err
	}
	var digest [C.RR_DIGEST_SIZE]C.char
	var size C.uint64_t
	err := cl.withContext(ctx, func(c *C.rr_client) C.rr_status {
		return C.rr_blob_write_file(c, rp, p, from, &digest[0], C.size_t(len(digest)), &size)
	})
	if err != nil {
		return "", 0, err
	}
	return digestString(&digest), int64(size), nil
}
