// Package rr is the Go binding of librr, a container-registry client library with a C
// ABI (include/rr.h).
//
// Every Go object (Client, Image, Index, Descriptor, ImageBuilder, IndexBuilder) owns one
// C handle and frees it in Close. Close is idempotent; a finalizer calls it as a safety
// net, but long-running programs should Close what they open. Close must not run
// concurrently with other methods of the same object.
//
// A Client is safe for concurrent use by many goroutines; so are Image, Index and
// Descriptor (they are immutable). Builders are not.
//
// Failures are returned as *Error, which carries the library's Status, a one-line
// message, the HTTP status and the registry's error code. errors.Is(err, StatusNotFound)
// and the IsNotFound-style helpers test the status.
//
// Callbacks (WithAuthFunc, WithProgress, WithTransport, WithLogger) may be called from
// threads of the library, several at once: they must be safe for concurrent use. A
// panic inside one is recovered, reported to the library as a failure, and raised again
// (with the same value) in the goroutine whose call on the client (or on an object made
// through it) returns next.
//
// Linking: by default the package links ../target/debug/librr.so through the symlinks
// in go/lib (see README.md); CGO_CFLAGS and CGO_LDFLAGS, which come before these flags,
// point it at another build or an installed copy.
package rr

/*
#cgo CFLAGS: -I${SRCDIR}/../include
#cgo LDFLAGS: -L${SRCDIR}/lib -lrr -Wl,-rpath,${SRCDIR}/lib
#include <stdlib.h>
#include "rr.h"
*/
import "C"

import (
	"bytes"
	"fmt"
	"strings"
	"unsafe"
)

// Version is the version of the librr the program runs with ("MAJOR.MINOR.PATCH").
func Version() string {
	return C.GoString(C.rr_version())
}

// HeaderVersion is the version of the rr.h the package was compiled against; it agrees
// with Version when the program runs with the library it was built with.
var HeaderVersion = fmt.Sprintf("%d.%d.%d", C.RR_VERSION_MAJOR, C.RR_VERSION_MINOR, C.RR_VERSION_PATCH)

// cstrs allocates C strings for one call and frees them all at once.
type cstrs struct {
	ptrs []unsafe.Pointer
	err  error
}

// str returns a C copy of s. A string holding a NUL byte cannot cross the boundary:
// it records an InvalidArgument error (check a.err before the call) and gives NULL.
func (a *cstrs) str(s, what string) *C.char {
	if strings.IndexByte(s, 0) >= 0 {
		if a.err == nil {
			a.err = &Error{Status: StatusInvalidArgument, Message: "rr: " + what + " holds a NUL byte"}
		}
		return nil
	}
	p := C.CString(s)
	a.ptrs = append(a.ptrs, unsafe.Pointer(p))
	return p
}

// optStr is str, with "" giving NULL.
func (a *cstrs) optStr(s, what string) *C.char {
	if s == "" {
		return nil
	}
	return a.str(s, what)
}

func (a *cstrs) free() {
	for _, p := range a.ptrs {
		C.free(p)
	}
	a.ptrs = nil
}

// goBytes copies a (pointer, length) result out of C memory.
func goBytes(p *C.uint8_t, n C.size_t) []byte {
	if p == nil || n == 0 {
		return []byte{}
	}
	return bytes.Clone(unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n)))
}

// goString converts a C string that may be NULL ("" then).
func goString(p *C.char) string {
	if p == nil {
		return ""
	}
	return C.GoString(p)
}
