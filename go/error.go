package rr

/*
#include "rr.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
)

// Status mirrors rr_status: the class of a failure. Its values are fixed by the C API.
// A Status is also an error value, so that errors.Is(err, StatusNotFound) works on the
// *Error values this package returns.
type Status int32

// The values of rr_status, in the C API's order.
const (
	StatusOK               Status = C.RR_OK
	StatusInvalidArgument  Status = C.RR_ERR_INVALID_ARGUMENT
	StatusInvalidReference Status = C.RR_ERR_INVALID_REFERENCE
	StatusNotFound         Status = C.RR_ERR_NOT_FOUND
	StatusUnauthorized     Status = C.RR_ERR_UNAUTHORIZED
	StatusDenied           Status = C.RR_ERR_DENIED
	StatusTooManyRequests  Status = C.RR_ERR_TOO_MANY_REQUESTS
	StatusDigestMismatch   Status = C.RR_ERR_DIGEST_MISMATCH
	StatusUnsupported      Status = C.RR_ERR_UNSUPPORTED
	StatusInvalidResponse  Status = C.RR_ERR_INVALID_RESPONSE
	StatusRegistry         Status = C.RR_ERR_REGISTRY
	StatusTransport        Status = C.RR_ERR_TRANSPORT
	StatusIO               Status = C.RR_ERR_IO
	StatusCancelled        Status = C.RR_ERR_CANCELLED
	StatusCallback         Status = C.RR_ERR_CALLBACK
	StatusPanic            Status = C.RR_ERR_PANIC
)

// String is the C name of the status, e.g. "RR_ERR_NOT_FOUND" ("RR_UNKNOWN" for a value
// that is not a status).
func (s Status) String() string {
	return C.GoString(C.rr_status_name(C.int32_t(s)))
}

// Error makes a Status usable as an errors.Is target.
func (s Status) Error() string { return s.String() }

// Error is a failure reported by librr.
type Error struct {
	Status       Status // the class of the failure
	Message      string // one line: what failed, on which reference or URL, and why
	HTTPStatus   int    // the HTTP status behind the error, 0 if none
	RegistryCode string // the registry's first error code (e.g. "MANIFEST_UNKNOWN"), or ""
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "rr: " + e.Status.String()
	}
	return fmt.Sprintf("rr: %s (%s)", e.Message, e.Status)
}

// Is reports whether target is this error's Status (errors.Is(err, StatusDenied)).
func (e *Error) Is(target error) bool {
	s, ok := target.(Status)
	return ok && s == e.Status
}

// StatusOf returns the Status of an *Error in err's chain, StatusOK for nil, and
// StatusCallback for any other error.
func StatusOf(err error) Status {
	if err == nil {
		return StatusOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return StatusCallback
}

// IsNotFound reports whether err is an *Error with StatusNotFound.
func IsNotFound(err error) bool { return errors.Is(err, StatusNotFound) }

// IsUnauthorized reports whether err is an *Error with StatusUnauthorized.
func IsUnauthorized(err error) bool { return errors.Is(err, StatusUnauthorized) }

// IsDenied reports whether err is an *Error with StatusDenied.
func IsDenied(err error) bool { return errors.Is(err, StatusDenied) }

// IsCancelled reports whether err is an *Error with StatusCancelled.
func IsCancelled(err error) bool { return errors.Is(err, StatusCancelled) }

// lastError reads the calling thread's error details; the caller holds the OS thread.
func lastError(st C.rr_status) *Error {
	return &Error{
		Status:       Status(st),
		Message:      C.GoString(C.rr_error_message()),
		HTTPStatus:   int(C.rr_error_http_status()),
		RegistryCode: goString(C.rr_error_registry_code()),
	}
}

// call is the one place a fallible C function runs: on a locked OS thread, so that the
// thread-local error details read right after it belong to it. Panics that callbacks of
// the given client states recovered while it ran are raised again here, after the
// thread is released.
func call(f func() C.rr_status, states ...*clientState) error {
	var err error
	runtime.LockOSThread()
	if st := f(); st != C.RR_OK {
		err = lastError(st)
	}
	runtime.UnlockOSThread()
	for _, s := range states {
		s.repanic()
	}
	return err
}
