package rr

/*
#include "rr.h"
*/
import "C"

import "unsafe"

// ReferenceNormalize returns the normalised form of a reference: "ubuntu" gives
// "index.docker.io/library/ubuntu:latest"; StatusInvalidReference when it does not parse.
func ReferenceNormalize(ref string) (string, error) {
	var a cstrs
	defer a.free()
	r := a.str(ref, "the reference")
	if a.err != nil {
		return "", a.err
	}
	buf := make([]byte, 256)
	for {
		var needed C.size_t
		err := call(func() C.rr_status {
			return C.rr_reference_normalize(r, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), &needed)
		})
		if err == nil {
			return string(buf[:needed-1]), nil
		}
		if StatusOf(err) == StatusInvalidArgument && int(needed) > len(buf) {
			buf = make([]byte, needed)
			continue
		}
		return "", err
	}
}
