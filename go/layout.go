package rr

/*
#include "rr.h"
*/
import "C"

import (
	"context"
	"runtime"
)

// OCI image layout directories, interoperable with skopeo, crane and umoci.

// ReadLayoutImage opens the image named name (its org.opencontainers.image.ref.name) in
// the layout at dir; name "" takes the only manifest (StatusInvalidArgument when there
// are several). StatusNotFound for an unknown name.
func ReadLayoutImage(dir, name string) (*Image, error) {
	var a cstrs
	defer a.free()
	d, n := a.str(dir, "the directory"), a.optStr(name, "the name")
	if a.err != nil {
		return nil, a.err
	}
	var p *C.rr_image
	if err := call(func() C.rr_status { return C.rr_layout_read_image(d, n, &p) }); err != nil {
		return nil, err
	}
	return newImage(p, nil), nil
}

// ReadLayoutIndex opens the layout's index.json (its digest is the file's sha256).
func ReadLayoutIndex(dir string) (*Index, error) {
	var a cstrs
	defer a.free()
	d := a.str(dir, "the directory")
	if a.err != nil {
		return nil, a.err
	}
	var p *C.rr_index
	if err := call(func() C.rr_status { return C.rr_layout_read_index(d, &p) }); err != nil {
		return nil, err
	}
	return newIndex(p, nil), nil
}

// WriteLayout writes img into the layout at dir (created if needed) under name ("" for
// none), streaming its blobs from their source, verified. Progress goes to the client.
func (cl *Client) WriteLayout(ctx context.Context, dir string, img *Image, name string) error {
	if img == nil {
		return errNil("image")
	}
	var a cstrs
	defer a.free()
	d, n := a.str(dir, "the directory"), a.optStr(name, "the name")
	if a.err != nil {
		return a.err
	}
	err := cl.withContext(ctx, func(c *C.rr_client) C.rr_status { return C.rr_layout_write_image(c, d, img.ptr(), n) }, img.state()...)
	runtime.KeepAlive(img)
	return err
}

// WriteLayoutIndex writes idx and its children into the layout at dir under name.
func (cl *Client) WriteLayoutIndex(ctx context.Context, dir string, idx *Index, name string) error {
	if idx == nil {
		return errNil("index")
	}
	var a cstrs
	defer a.free()
	d, n := a.str(dir, "the directory"), a.optStr(name, "the name")
	if a.err != nil {
		return a.err
	}
	err := cl.withContext(ctx, func(c *C.rr_client) C.rr_status { return C.rr_layout_write_index(c, d, idx.ptr(), n) }, idx.state()...)
	runtime.KeepAlive(idx)
	return err
}
