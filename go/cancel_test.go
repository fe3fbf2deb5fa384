package rr_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	rr "github.com/rr-project/rr/go"
)

// stallingBlobs serves the open registry through a proxy whose blob answers send their
// headers and then nothing, until the client goes away.
func stallingBlobs(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	upstream := openReg["RR_TEST_REGISTRY"]
	target, err := url.Parse("http://" + upstream)
	noErr(t, err)
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			// No length: the body is chunked and simply never comes.
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(30 * time.Second):
			}
			return
		}
		rp.ServeHTTP(w, r)
	}))
	host := strings.TrimPrefix(srv.URL, "http://")
	return srv, strings.Replace(openReg["RR_TEST_IMAGE"], upstream, host, 1)
}

// settledGoroutines waits for the goroutine count to come down to at most want.
func settledGoroutines(want int) int {
	n := runtime.NumGoroutine()
	for i := 0; i < 100 && n > want; i++ {
		time.Sleep(20 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

func TestCancelledPullReturnsContextCanceled(t *testing.T) {
	before := runtime.NumGoroutine()
	srv, ref := stallingBlobs(t)
	cl := newClient(t)
	dir := t.TempDir()

	ctx, cancel := context.WithCancel(context.Background())
	img, err := cl.Image(ctx, ref)
	noErr(t, err)
	done := make(chan error, 1)
	go func() { done <- cl.WriteLayout(ctx, dir, img, "v1") }()
	time.Sleep(400 * time.Millisecond)
	cancelledAt := time.Now()
	cancel()
	var werr error
	select {
	case werr = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the pull did not end after the cancel")
	}
	latency := time.Since(cancelledAt)
	t.Logf("WriteLayout returned %v after cancel: %v", latency, werr)
	if !errors.Is(werr, context.Canceled) {
		t.Fatalf("want an error wrapping context.Canceled, got %v", werr)
	}
	if rr.StatusOf(werr) != rr.StatusCancelled {
		t.Fatalf("want StatusCancelled, got %v", rr.StatusOf(werr))
	}
	if latency > 500*time.Millisecond {
		t.Fatalf("took %v", latency)
	}
	// Nothing half-written: no blob file, no temporary, no index.json entry.
	entries, _ := os.ReadDir(dir + "/blobs/sha256")
	for _, e := range entries {
		info, _ := e.Info()
		if info != nil && info.Size() == 0 {
			t.Fatalf("an empty blob file was left: %s", e.Name())
		}
	}
	if b, err := os.ReadFile(dir + "/index.json"); err == nil && strings.Contains(string(b), "v1") {
		t.Fatalf("index.json names the cancelled image: %s", b)
	}
	noErr(t, img.Close())
	noErr(t, cl.Close())
	// The library's abandoned socket reader would only go at its idle timeout: the
	// server closes the connections itself.
	srv.CloseClientConnections()
	srv.Close()
	if n := settledGoroutines(before); n > before {
		t.Fatalf("%d goroutines left behind (%d before)", n, before)
	}
}

func TestContextDeadlineEndsACall(t *testing.T) {
	srv, ref := stallingBlobs(t)
	defer srv.Close()
	defer srv.CloseClientConnections()
	cl := newClient(t)
	defer cl.Close()
	img, err := cl.Image(ctx, ref)
	noErr(t, err)
	defer img.Close()
	dctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	started := time.Now()
	err = cl.WriteLayout(dctx, t.TempDir(), img, "v1")
	t.Logf("deadline: %v after %v", err, time.Since(started))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want an error wrapping context.DeadlineExceeded, got %v", err)
	}
	var rrErr *rr.Error
	if !errors.As(err, &rrErr) {
		t.Fatalf("want an *rr.Error in the chain, got %T", err)
	}
	if time.Since(started) > 2*time.Second {
		t.Fatalf("took %v", time.Since(started))
	}
}

func TestAnEndedContextFailsAtOnceAndBackgroundCostsNothing(t *testing.T) {
	cl := newClient(t)
	defer cl.Close()
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := cl.Get(ended, openReg["RR_TEST_IMAGE"])
	if !errors.Is(err, context.Canceled) || rr.StatusOf(err) != rr.StatusCancelled {
		t.Fatalf("got %v", err)
	}
	// The client is not cancelled by it: a later call with another context works.
	_, err = cl.Get(context.Background(), openReg["RR_TEST_IMAGE"])
	noErr(t, err)
}

// The image's own reads take a context too: a layer stream, a layer save and a config
// fetch through an image opened earlier end when their ctx does, and the image (and its
// client) go on working afterwards.
func TestImageReadsEndWithTheirContext(t *testing.T) {
	srv, ref := stallingBlobs(t)
	defer srv.Close()
	defer srv.CloseClientConnections()
	cl := newClient(t)
	defer cl.Close()
	img, err := cl.Image(ctx, ref)
	noErr(t, err)
	defer img.Close()

	for _, read := range []struct {
		name string
		run  func(ctx context.Context) error
	}{
		{"WriteLayerTo", func(ctx context.Context) error {
			_, err := img.WriteLayerTo(ctx, 0, io.Discard)
			return err
		}},
		{"SaveLayer", func(ctx context.Context) error { return img.SaveLayer(ctx, 0, t.TempDir()+"/layer") }},
		{"LayerReader", func(ctx context.Context) error {
			r, err := img.LayerReader(ctx, 0)
			if err != nil {
				return err
			}
			defer r.Close()
			_, err = io.Copy(io.Discard, r)
			return err
		}},
		{"Config", func(ctx context.Context) error { _, err := img.Config(ctx); return err }},
	} {
		cctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- read.run(cctx) }()
		time.Sleep(300 * time.Millisecond)
		cancelledAt := time.Now()
		cancel()
		var rerr error
		select {
		case rerr = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not end after the cancel", read.name)
		}
		latency := time.Since(cancelledAt)
		t.Logf("%s returned %v after the cancel: %v", read.name, latency, rerr)
		if !errors.Is(rerr, context.Canceled) || rr.StatusOf(rerr) != rr.StatusCancelled {
			t.Fatalf("%s: want context.Canceled and StatusCancelled, got %v", read.name, rerr)
		}
		if latency > 500*time.Millisecond {
			t.Fatalf("%s took %v", read.name, latency)
		}
	}
	// Not cancelled for good: the manifest getters and an ended-context check still work.
	if img.LayerCount() == 0 {
		t.Fatal("no layers")
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := img.WriteLayerTo(ended, 0, io.Discard); !errors.Is(err, context.Canceled) {
		t.Fatalf("an ended context: %v", err)
	}
}
