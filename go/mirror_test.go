package rr_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	rr "github.com/rr-project/rr/go"
)

// Pull mirrors and rate limits against the open registry of TestMain. Its env file names
// a fault proxy in front of it (RR_TEST_RATELIMITED_REGISTRY) that adds Docker Hub's
// rate-limit headers to every manifest response: as a mirror of the registry itself it
// serves the same content, so reads through it show both the mirror at work and the
// rate limit it announces.

// logLines collects the client's log lines.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

func (l *logLines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

func refusedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestADownMirrorIsPassedOverAndTheProxyMirrorServes(t *testing.T) {
	origin, limited := openReg["RR_TEST_REGISTRY"], openReg["RR_TEST_RATELIMITED_REGISTRY"]
	down := refusedPort(t)
	var log logLines
	cl := newClient(t,
		rr.WithRetry(2, 0),
		rr.WithLogger(log.add),
		rr.WithMirror(origin, down, rr.MirrorPullAll),
		rr.WithMirror(origin, limited, rr.MirrorPullAll),
	)
	img := must[*rr.Image](t)(cl.Image(ctx, openReg["RR_TEST_IMAGE"]))
	defer img.Close()
	if got := img.Digest(); got != openReg["RR_TEST_IMAGE_DIGEST"] {
		t.Fatalf("digest %s, want %s", got, openReg["RR_TEST_IMAGE_DIGEST"])
	}
	cfg := must[[]byte](t)(img.Config(ctx))
	if len(cfg) == 0 {
		t.Fatal("empty config")
	}
	var passedOver, fromMirror, fromOrigin bool
	for _, l := range log.all() {
		passedOver = passedOver || (strings.HasPrefix(l, "mirror "+down) && strings.Contains(l, "trying the next mirror, "+limited))
		fromMirror = fromMirror || strings.HasPrefix(l, "GET http://"+limited+"/v2/demo/app/manifests/v1 -> 200")
		fromOrigin = fromOrigin || strings.Contains(l, "://"+origin+"/v2/demo/")
	}
	if !passedOver || !fromMirror || fromOrigin {
		t.Fatalf("passed over %v, from the mirror %v, from the origin %v:\n%s",
			passedOver, fromMirror, fromOrigin, strings.Join(log.all(), "\n"))
	}

	// The rate limit is the mirror's, which answered; the origin announced none.
	rl := must[rr.RateLimit](t)(cl.RateLimit(limited))
	if rl != (rr.RateLimit{Limit: 100, Remaining: 76, WindowSeconds: 21600}) {
		t.Fatalf("rate limit %+v", rl)
	}
	_, err := cl.RateLimit(origin)
	wantStatus(t, err, rr.StatusNotFound)
	regs := must[[]string](t)(cl.RateLimitRegistries())
	if len(regs) != 1 || regs[0] != limited {
		t.Fatalf("registries %v, want [%s]", regs, limited)
	}
}

func TestARegistriesConfFileAndWritesThatSendNothingToTheMirror(t *testing.T) {
	origin, limited := openReg["RR_TEST_REGISTRY"], openReg["RR_TEST_RATELIMITED_REGISTRY"]
	dir := t.TempDir()
	conf := filepath.Join(dir, "registries.conf")
	text := "[[registry]]\nlocation = \"" + origin + "\"\n\n[[registry.mirror]]\nlocation = \"" + limited + "\"\n"
	noErr(t, os.WriteFile(conf, []byte(text), 0o644))
	var log logLines
	cl := newClient(t, rr.WithLogger(log.add), rr.WithRegistriesConf(conf))

	dst := origin + "/go-mirror/copied:v1"
	noErr(t, cl.Copy(ctx, openReg["RR_TEST_IMAGE"], dst))
	d := must[*rr.Descriptor](t)(cl.Head(ctx, dst))
	defer d.Close()
	if d.Digest() != openReg["RR_TEST_IMAGE_DIGEST"] {
		t.Fatalf("copied digest %s", d.Digest())
	}
	read := false
	for _, l := range log.all() {
		if !strings.Contains(l, "://"+limited+"/") {
			continue
		}
		read = true
		// The source manifest, the HEAD of the copy (a read) and the pings: no write.
		if !strings.HasPrefix(l, "GET ") && !strings.HasPrefix(l, "HEAD ") {
			t.Errorf("a request that is not a read went to the mirror: %s", l)
		}
		if strings.Contains(l, "/blobs/") {
			t.Errorf("a same-registry copy mounts: no blob goes through the mirror: %s", l)
		}
	}
	if !read {
		t.Fatalf("the source was not read through the mirror:\n%s", strings.Join(log.all(), "\n"))
	}

	// What cannot be read is refused, and changes nothing.
	v1 := filepath.Join(dir, "v1.conf")
	noErr(t, os.WriteFile(v1, []byte("[registries.search]\nregistries = ['r.example']\n"), 0o644))
	_, err := rr.NewClient(rr.WithKeychain(false), rr.WithRegistriesConf(v1))
	if e := wantStatus(t, err, rr.StatusInvalidArgument); !strings.Contains(e.Message, "v1 format") {
		t.Errorf("message %q", e.Message)
	}
	_, err = rr.NewClient(rr.WithKeychain(false), rr.WithRegistriesConf(filepath.Join(dir, "missing.conf")))
	wantStatus(t, err, rr.StatusIO)
	_, err = rr.NewClient(rr.WithMirror(origin, "https://"+limited, rr.MirrorPullAll))
	wantStatus(t, err, rr.StatusInvalidArgument)
	_, err = rr.NewClient(rr.WithMirror(origin, limited, rr.MirrorPull(7)))
	wantStatus(t, err, rr.StatusInvalidArgument)
}

func TestRateLimitsOfADirectRead(t *testing.T) {
	cl := newClient(t)
	d := must[*rr.Descriptor](t)(cl.Head(ctx, openReg["RR_TEST_RATELIMITED_IMAGE"]))
	defer d.Close()
	rl := must[rr.RateLimit](t)(cl.RateLimit(openReg["RR_TEST_RATELIMITED_REGISTRY"]))
	if rl.Remaining != 76 || rl.Limit != 100 || rl.WindowSeconds != 21600 {
		t.Fatalf("rate limit %+v", rl)
	}
	_, err := cl.RateLimit("bad registry")
	wantStatus(t, err, rr.StatusInvalidReference)
}
