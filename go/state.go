package rr

import (
	"net/http"
	"runtime/cgo"
	"sync"
	"sync/atomic"
)

// clientState is what the C callbacks of one client reach through a cgo.Handle: the Go
// functions set by the options, and the slot for a panic one of them recovered.
//
// The library may call the callbacks as long as the client or anything made through it
// (images, indexes, descriptors) is alive, so every such Go object holds a reference;
// the handle is deleted when the last one is closed.
type clientState struct {
	handle cgo.Handle
	refs   atomic.Int64

	auth      AuthFunc
	progress  ProgressFunc
	blobs     BlobProgressFunc
	logf      func(line string)
	transport http.RoundTripper

	mu       sync.Mutex
	panicked bool
	panicVal any
}

func newClientState() *clientState {
	s := &clientState{}
	s.refs.Store(1)
	s.handle = cgo.NewHandle(s)
	return s
}

// acquire adds a reference for a new object made through the client; nil-safe.
func (s *clientState) acquire() *clientState {
	if s != nil {
		s.refs.Add(1)
	}
	return s
}

// release drops a reference; the last one deletes the handle. nil-safe.
func (s *clientState) release() {
	if s != nil && s.refs.Add(-1) == 0 {
		s.handle.Delete()
	}
}

// storePanic keeps the first panic a callback recovered until a call raises it again.
// nil-safe (a panic before the state was found is only reported as a failure).
func (s *clientState) storePanic(v any) {
	if s == nil {
		return
	}
	s.mu.Lock()
	if !s.panicked {
		s.panicked, s.panicVal = true, v
	}
	s.mu.Unlock()
}

// repanic raises a stored panic in the calling goroutine; nil-safe.
func (s *clientState) repanic() {
	if s == nil {
		return
	}
	s.mu.Lock()
	p, v := s.panicked, s.panicVal
	s.panicked, s.panicVal = false, nil
	s.mu.Unlock()
	if p {
		panic(v)
	}
}

// stateOf returns the client state behind a callback's userdata.
func stateOf(h uintptr) *clientState {
	return cgo.Handle(h).Value().(*clientState)
}

// states are the client states an object holds: none (a layout or built image), one
// (made through a client), or several (an index built from images of several clients).
// The slice is shared between an object and those made from it, never modified.
type states []*clientState

// acquire adds a reference to each state and returns the same set.
func (ss states) acquire() states {
	for _, s := range ss {
		s.acquire()
	}
	return ss
}

// release drops the references acquire added.
func (ss states) release() {
	for _, s := range ss {
		s.release()
	}
}

// union returns the distinct states of both sets.
func (ss states) union(more states) states {
	out := append(states(nil), ss...)
	for _, m := range more {
		dup := false
		for _, s := range out {
			dup = dup || s == m
		}
		if !dup {
			out = append(out, m)
		}
	}
	return out
}
