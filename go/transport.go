package rr

/*
#include "bridge.h"
*/
import "C"

import (
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"runtime/cgo"
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

// The host transport: every request of a client made WithTransport goes through a Go
// http.RoundTripper. The library builds each request (auth headers included) and follows
// redirects itself, so the RoundTripper is used directly, one exchange per call; an
// http.Client (which follows redirects and keeps cookies) must not be put in between.

// requestBody streams the library's request body to the RoundTripper. The C request is
// valid only while the transport callback runs, but net/http may still read the body
// from its own goroutine after RoundTrip returned (when the server answered early), so
// reads are serialised with finish, after which they fail.
type requestBody struct {
	mu       sync.Mutex
	req      *C.rr_http_request
	finished bool
	eof      bool
}

var errRequestFinished = errors.New("rr: the request body is no longer readable (the exchange has ended)")
var errRequestBody = errors.New("rr: reading the request body failed")

func (b *requestBody) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.eof {
		return 0, io.EOF
	}
	if b.finished {
		return 0, errRequestFinished
	}
	n := C.rr_http_request_read_body(b.req, (*C.uint8_t)(unsafe.Pointer(&p[0])), C.size_t(len(p)))
	switch {
	case n > 0:
		return int(n), nil
	case n == 0:
		b.eof = true
		return 0, io.EOF
	default:
		b.finished = true
		return 0, errRequestBody
	}
}

// Close is a no-op: the library owns the body's source.
func (b *requestBody) Close() error { return nil }

func (b *requestBody) finish() {
	b.mu.Lock()
	b.finished = true
	b.req = nil
	b.mu.Unlock()
}

// responseBody is the userdata of a response body handed to the library.
type responseBody struct {
	rc  io.ReadCloser
	st  *clientState
	eof bool
}

// hopByHop are the headers that describe one connection, never passed on.
var hopByHop = map[string]bool{
	"Connection":        true,
	"Keep-Alive":        true,
	"Transfer-Encoding": true,
	"Upgrade":           true,
	"Te":                true,
	"Trailer":           true,
}

func isHopByHop(name string, connTokens map[string]bool) bool {
	return hopByHop[name] || strings.HasPrefix(name, "Proxy-") || connTokens[name]
}

// buildRequest turns the library's request into an *http.Request.
func buildRequest(req *C.rr_http_request) (*http.Request, *requestBody, error) {
	method := C.GoString(C.rr_http_request_method(req))
	url := C.GoString(C.rr_http_request_url(req))
	length := int64(C.rr_http_request_body_length(req))

	var body *requestBody
	var rd io.Reader
	if length != 0 {
		body = &requestBody{req: req}
		rd = body
	}
	hr, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, nil, err
	}
	hr.ContentLength = length // -1: unknown, sent chunked
	if length == 0 {
		hr.Body = http.NoBody
	} else {
		hr.Body = body
	}
	n := int(C.rr_http_request_header_count(req))
	for i := 0; i < n; i++ {
		name := textproto.CanonicalMIMEHeaderKey(goString(C.rr_http_request_header_name(req, C.size_t(i))))
		value := goString(C.rr_http_request_header_value(req, C.size_t(i)))
		switch name {
		case "Host":
			hr.Host = value
		case "Content-Length":
			// net/http writes Content-Length from hr.ContentLength.
			if length < 0 {
				if l, err := strconv.ParseInt(value, 10, 64); err == nil && l >= 0 {
					hr.ContentLength = l
				}
			}
		case "Transfer-Encoding":
			// net/http chooses the framing from ContentLength.
		default:
			hr.Header.Add(name, value)
		}
	}
	// Keep the body exactly as on the wire: net/http asks for gzip and decompresses it
	// behind our back when the request names no Accept-Encoding.
	if hr.Header.Get("Accept-Encoding") == "" {
		hr.Header.Set("Accept-Encoding", "identity")
	}
	if _, ok := hr.Header["User-Agent"]; !ok {
		hr.Header["User-Agent"] = nil // no Go-http-client default
	}
	return hr, body, nil
}

//export rrgoTransport
func rrgoTransport(h C.uintptr_t, req *C.rr_http_request, resp *C.rr_http_response) (rc C.int32_t) {
	var s *clientState
	var body *requestBody
	defer func() {
		if body != nil {
			body.finish()
		}
		if v := recover(); v != nil {
			s.storePanic(v)
			rc = -1
		}
	}()
	s = stateOf(uintptr(h))
	hr, b, err := buildRequest(req)
	if err != nil {
		return -1
	}
	body = b
	rt := s.transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	res, err := rt.RoundTrip(hr)
	if err != nil {
		return -1
	}
	handedOver := false
	defer func() {
		if !handedOver && res.Body != nil {
			res.Body.Close()
		}
	}()
	if C.rr_http_response_set_status(resp, C.uint16_t(res.StatusCode)) != C.RR_OK {
		return -1
	}
	conn := map[string]bool{}
	for _, v := range res.Header.Values("Connection") {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				conn[textproto.CanonicalMIMEHeaderKey(t)] = true
			}
		}
	}
	var a cstrs
	defer a.free()
	for name, values := range res.Header {
		if isHopByHop(textproto.CanonicalMIMEHeaderKey(name), conn) {
			continue
		}
		for _, v := range values {
			cn, cv := a.str(name, "a response header name"), a.str(v, "a response header value")
			if a.err != nil {
				return -1
			}
			if C.rr_http_response_add_header(resp, cn, cv) != C.RR_OK {
				return -1
			}
		}
	}
	if hr.Method == http.MethodHead || res.Body == nil || res.Body == http.NoBody {
		return 0
	}
	rb := cgo.NewHandle(&responseBody{rc: res.Body, st: s.acquire()})
	if C.rrgo_response_set_body(resp, C.uintptr_t(rb)) != C.RR_OK {
		// The library did not take the body: nothing will call close.
		rb.Value().(*responseBody).st.release()
		rb.Delete()
		return -1
	}
	handedOver = true
	return 0
}

//export rrgoBodyRead
func rrgoBodyRead(h C.uintptr_t, buf *C.uint8_t, n C.size_t) (rc C.int64_t) {
	var b *responseBody
	defer func() {
		if v := recover(); v != nil {
			if b != nil {
				b.st.storePanic(v)
			}
			rc = -1
		}
	}()
	b = cgo.Handle(h).Value().(*responseBody)
	if n == 0 || b.eof {
		return 0
	}
	p := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n))
	for {
		m, err := b.rc.Read(p)
		if m > 0 {
			if err == io.EOF {
				b.eof = true
			}
			return C.int64_t(m)
		}
		if err == io.EOF {
			b.eof = true
			return 0
		}
		if err != nil {
			return -1
		}
	}
}

//export rrgoBodyClose
func rrgoBodyClose(h C.uintptr_t) {
	var b *responseBody
	defer func() {
		if v := recover(); v != nil && b != nil {
			b.st.storePanic(v)
		}
		if b != nil {
			b.st.release()
		}
	}()
	hd := cgo.Handle(h)
	b = hd.Value().(*responseBody)
	hd.Delete()
	b.rc.Close()
}
