package rr_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	rr "github.com/rr-project/rr/go"
)

// countingTransport is a net/http RoundTripper that counts exchanges and the closing of
// response bodies, and remembers the methods and request headers it saw.
type countingTransport struct {
	next     http.RoundTripper
	requests atomic.Int64
	opened   atomic.Int64
	closed   atomic.Int64
	twice    atomic.Int64 // bodies closed more than once
	mu       sync.Mutex
	methods  map[string]int
	uploaded int64 // request body bytes read by net/http
}

func newCountingTransport() *countingTransport {
	return &countingTransport{next: http.DefaultTransport, methods: map[string]int{}}
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.requests.Add(1)
	c.mu.Lock()
	c.methods[req.Method]++
	c.mu.Unlock()
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = &countingReader{ReadCloser: req.Body, c: c}
	}
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	c.opened.Add(1)
	resp.Body = &countingBody{ReadCloser: resp.Body, c: c}
	return resp, nil
}

type countingReader struct {
	io.ReadCloser
	c *countingTransport
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.c.mu.Lock()
	r.c.uploaded += int64(n)
	r.c.mu.Unlock()
	return n, err
}

type countingBody struct {
	io.ReadCloser
	c      *countingTransport
	closed atomic.Bool
}

func (b *countingBody) Close() error {
	if b.closed.Swap(true) {
		b.c.twice.Add(1)
	} else {
		b.c.closed.Add(1)
	}
	return b.ReadCloser.Close()
}

func (c *countingTransport) check(t testing.TB) {
	t.Helper()
	if n := c.requests.Load(); n == 0 {
		t.Fatal("no request went through the Go transport")
	}
	if o, cl, tw := c.opened.Load(), c.closed.Load(), c.twice.Load(); o != cl || tw != 0 {
		t.Fatalf("response bodies: %d opened, %d closed, %d closed twice", o, cl, tw)
	}
}

func TestTransportThroughNetHTTP(t *testing.T) {
	ct := newCountingTransport()
	cl := newClient(t, rr.WithTransport(ct))
	reg := openReg["RR_TEST_REGISTRY"]

	// Pull.
	d := must[*rr.Descriptor](t)(cl.Get(ctx, openReg["RR_TEST_IMAGE"]))
	d.Close()
	img := must[*rr.Image](t)(cl.Image(ctx, openReg["RR_TEST_IMAGE"]))
	defer img.Close()
	cfg := must[[]byte](t)(img.Config(ctx))
	if digestOf(cfg) != parseManifest(t, must[[]byte](t)(img.Manifest())).Config.Digest {
		t.Fatal("config through the Go transport does not verify")
	}
	for i := range img.LayerCount() {
		verifyLayer(t, img, i)
	}
	h := must[*rr.Descriptor](t)(cl.Head(ctx, openReg["RR_TEST_IMAGE"]))
	h.Close()
	tags := must[[]string](t)(cl.List(ctx, openReg["RR_TEST_MANY"]))
	if len(tags) != 320 {
		t.Fatalf("%d tags", len(tags))
	}
	ct.check(t)
	pulls := ct.requests.Load()

	// Push a built image: blob uploads stream their bodies through net/http.
	built, _ := buildImage(t, "linux/amd64", "transport "+t.Name())
	noErr(t, cl.Write(ctx, reg+"/gotest/transport:v1", built))
	if ct.requests.Load() <= pulls {
		t.Fatal("the push made no request through the Go transport")
	}
	ct.mu.Lock()
	methods, uploaded := fmt.Sprint(ct.methods), ct.uploaded
	put := ct.methods["PUT"]
	ct.mu.Unlock()
	if put == 0 || uploaded < int64(built.Layers()[0].Size) {
		t.Fatalf("methods %s, %d body bytes uploaded (layer %d)", methods, uploaded, built.Layers()[0].Size)
	}
	ct.check(t)

	// What went through net/http reads back with the built-in transport.
	plain := newClient(t)
	back := must[*rr.Image](t)(plain.Image(ctx, reg+"/gotest/transport:v1"))
	defer back.Close()
	if back.Digest() != built.Digest() {
		t.Fatalf("pushed %s, read back %s", built.Digest(), back.Digest())
	}
	verifyLayer(t, back, 0)

	// Copy, tag and delete through it too.
	noErr(t, cl.Copy(ctx, reg+"/gotest/transport:v1", reg+"/gotest/transport-copy:v1"))
	noErr(t, cl.Tag(ctx, reg+"/gotest/transport-copy:v1", "v2"))
	noErr(t, cl.Delete(ctx, reg+"/gotest/transport-copy@"+built.Digest()))
	_, err := cl.Head(ctx, reg+"/gotest/transport-copy:v2")
	wantStatus(t, err, rr.StatusNotFound)
	ct.check(t)
}

func TestTransportWithTokenAuth(t *testing.T) {
	ct := newCountingTransport()
	auth := &recordingAuth{cred: rr.Basic{Username: "pusher", Password: "pusher-pw"}}
	cl := newClient(t, rr.WithTransport(ct), rr.WithAuthFunc(auth.fn))
	reg := tokenReg["RR_TEST_REGISTRY"]
	img := must[*rr.Image](t)(cl.Image(ctx, tokenReg["RR_TEST_IMAGE"]))
	defer img.Close()
	verifyLayer(t, img, 0)
	noErr(t, cl.CheckPushPermission(ctx, reg+"/gotest/transport-token:x"))
	built, _ := buildImage(t, "linux/amd64", "token transport "+t.Name())
	noErr(t, cl.Write(ctx, reg+"/gotest/transport-token:v1", built))
	d := must[*rr.Descriptor](t)(cl.Head(ctx, reg+"/gotest/transport-token:v1"))
	defer d.Close()
	if d.Digest() != built.Digest() {
		t.Fatalf("pushed %s, head %s", built.Digest(), d.Digest())
	}
	if len(auth.calls()) == 0 {
		t.Fatal("auth func not asked")
	}
	ct.check(t)
}

func TestTransportDefaultAndFailing(t *testing.T) {
	// nil means http.DefaultTransport.
	cl := newClient(t, rr.WithTransport(nil))
	d := must[*rr.Descriptor](t)(cl.Get(ctx, openReg["RR_TEST_IMAGE"]))
	d.Close()

	// A RoundTripper that fails: a callback failure, never a crash.
	var calls atomic.Int64
	down := errors.New("network is down")
	fc := newClient(t, rr.WithRetry(1, 0), rr.WithTransport(roundTripFunc(func(*http.Request) (*http.Response, error) {
		calls.Add(1)
		return nil, down
	})))
	_, err := fc.Get(ctx, openReg["RR_TEST_IMAGE"])
	e := wantStatus(t, err, rr.StatusCallback)
	if calls.Load() == 0 || !strings.Contains(e.Message, openReg["RR_TEST_REGISTRY"]) {
		t.Fatalf("%d calls, message %q", calls.Load(), e.Message)
	}
}

// TestImageOutlivesClient: an image keeps the client's callbacks (here its Go
// transport) alive after the client is closed.
func TestImageOutlivesClient(t *testing.T) {
	ct := newCountingTransport()
	cl, err := rr.NewClient(rr.WithKeychain(false), rr.WithTransport(ct))
	noErr(t, err)
	img := must[*rr.Image](t)(cl.Image(ctx, openReg["RR_TEST_IMAGE"]))
	d := must[*rr.Descriptor](t)(cl.Get(ctx, openReg["RR_TEST_INDEX"]))
	noErr(t, cl.Close())
	noErr(t, cl.Close()) // idempotent
	_, err = cl.Get(ctx, openReg["RR_TEST_IMAGE"])
	wantStatus(t, err, rr.StatusInvalidArgument)

	before := ct.requests.Load()
	must[[]byte](t)(img.Config(ctx))
	verifyLayer(t, img, 0)
	idx := must[*rr.Index](t)(d.Index())
	child := must[*rr.Image](t)(idx.ImageForPlatform(ctx, "linux/arm64"))
	verifyLayer(t, child, 0)
	if ct.requests.Load() == before {
		t.Fatal("no request went through the closed client's transport")
	}
	for _, c := range []interface{ Close() error }{img, d, idx, child, img, d, idx, child} {
		noErr(t, c.Close())
	}
	if img.Digest() != "" || img.LayerCount() != 0 {
		t.Fatal("a closed image still answers")
	}
	_, err = img.Config(ctx)
	wantStatus(t, err, rr.StatusInvalidArgument)
	ct.check(t)
}
