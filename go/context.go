package rr

// #include "bridge.h"
import "C"

import (
	"context"
	"errors"
	"runtime"
	"time"
)

// ctxError is the error of a call whose context ended: both the library's *Error
// (StatusCancelled, or StatusTransport naming the deadline) and ctx.Err(), so that
// errors.Is(err, context.Canceled) and errors.As(err, &rrErr) both hold.
type ctxError struct {
	rr  *Error
	ctx error
}

func (e *ctxError) Error() string   { return e.rr.Error() + ": " + e.ctx.Error() }
func (e *ctxError) Unwrap() []error { return []error{e.rr, e.ctx} }

// endedBefore is the error of a call whose context had ended (err) before it started.
func endedBefore(err error) error {
	return &ctxError{rr: &Error{Status: StatusCancelled, Message: "the context ended before the call"}, ctx: err}
}

// withContext runs f on a client derived from cl for this call (rr_client_derive), which
// ctx cancels (rr_client_cancel from context.AfterFunc's goroutine) and whose deadline is
// ctx's. A context that can never end (context.Background) costs nothing: f runs on cl.
func (cl *Client) withContext(ctx context.Context, f func(c *C.rr_client) C.rr_status, more ...*clientState) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return endedBefore(err)
	}
	if ctx.Done() == nil || cl.ptr() == nil {
		c := cl.ptr()
		return cl.do(func() C.rr_status { return f(c) }, more...)
	}
	var child *C.rr_client
	if err := cl.do(func() C.rr_status { return C.rr_client_derive(cl.ptr(), &child) }); err != nil {
		return err
	}
	defer C.rr_client_free(child)
	if deadline, ok := ctx.Deadline(); ok {
		ms := time.Until(deadline).Milliseconds()
		if ms < 1 {
			ms = 1
		}
		// A deadline beyond what the library takes (a week) is left to ctx alone.
		_ = cl.do(func() C.rr_status { return C.rr_client_set_deadline(child, C.uint64_t(ms)) })
	}
	cancelled := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		C.rr_client_cancel(child)
		close(cancelled)
	})
	err := cl.do(func() C.rr_status { return f(child) }, more...)
	if !stop() {
		// The cancel has started: let it finish before the child is freed.
		<-cancelled
	}
	runtime.KeepAlive(cl)
	if err != nil && ctx.Err() != nil {
		var rrErr *Error
		if errors.As(err, &rrErr) {
			return &ctxError{rr: rrErr, ctx: ctx.Err()}
		}
	}
	return err
}
