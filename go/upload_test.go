package rr_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	rr "github.com/rr-project/rr/go"
)

// uploadLog collects the client's HTTP log lines.
type uploadLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *uploadLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

// count is the number of logged requests with this method on blob upload URLs and an
// answer with this status.
func (l *uploadLog) count(method string, status int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.HasPrefix(line, method+" ") && strings.Contains(line, "/blobs/uploads/") &&
			strings.Contains(line, fmt.Sprintf("-> %d ", status)) {
			n++
		}
	}
	return n
}

func TestUploadStrategies(t *testing.T) {
	reg := openReg["RR_TEST_REGISTRY"]
	for _, tc := range []struct {
		name     string
		strategy rr.UploadStrategy
		chunk    int64
		// PATCHes of the layer (the config is small: monolithic under UploadMonolithic,
		// one PATCH otherwise) and PUTs (one commit per blob).
		patches int
	}{
		{"monolithic", rr.UploadMonolithic, 0, 0},
		{"streamed", rr.UploadStreamed, 0, 1 + 1},
		// 256 KiB of noise plus a little, in chunks of 64 KiB: at least 4.
		{"chunked", rr.UploadChunked, 64 << 10, 4 + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log uploadLog
			cl := newClient(t, rr.WithUploadStrategy(reg, tc.strategy, tc.chunk), rr.WithLogger(log.add))
			img, _ := buildImage(t, "linux/amd64", "upload "+tc.name)
			ref := reg + "/gotest/upload-" + tc.name + ":v1"
			noErr(t, cl.Write(ctx, ref, img))
			d := must[*rr.Descriptor](t)(cl.Head(ctx, ref))
			defer d.Close()
			if d.Digest() != img.Digest() {
				t.Fatalf("pushed %s, registry has %s", img.Digest(), d.Digest())
			}
			// Read back verified (the layer's digest is checked as it streams).
			back := must[*rr.Image](t)(cl.Image(ctx, ref))
			defer back.Close()
			var sink strings.Builder
			must[int64](t)(back.WriteLayerTo(ctx, 0, &sink))
			patches := log.count("PATCH", 202)
			if tc.strategy == rr.UploadChunked {
				if patches < tc.patches {
					t.Fatalf("%d PATCHes, want at least %d: %q", patches, tc.patches, log.lines)
				}
			} else if patches != tc.patches {
				t.Fatalf("%d PATCHes, want %d: %q", patches, tc.patches, log.lines)
			}
			if puts := log.count("PUT", 201); puts != 2 {
				t.Fatalf("%d commits, want 2: %q", puts, log.lines)
			}
		})
	}
}

func TestUploadOptionsOutOfRange(t *testing.T) {
	for _, tc := range []struct {
		opt  rr.Option
		want string
	}{
		{rr.WithUploadStrategy("", rr.UploadChunked, 1000), "1000"},
		{rr.WithUploadStrategy("ghcr.io", rr.UploadChunked, (1<<30)+1), "1073741825"},
		{rr.WithUploadStrategy("", rr.UploadStrategy(7), 0), "7"},
		{rr.WithUploadStrategy("", rr.UploadChunked, -1), "-1"},
		{rr.WithMonolithicThreshold("", (1<<30)+1), "1073741825"},
		{rr.WithMonolithicThreshold("ghcr.io", -5), "-5"},
	} {
		_, err := rr.NewClient(tc.opt)
		e := wantStatus(t, err, rr.StatusInvalidArgument)
		if !strings.Contains(e.Message, tc.want) {
			t.Fatalf("message %q does not name %s", e.Message, tc.want)
		}
	}
	_, err := rr.NewClient(rr.WithUploadStrategy("https://ghcr.io", rr.UploadAuto, 0))
	wantStatus(t, err, rr.StatusInvalidReference)
	cl := newClient(t,
		rr.WithUploadStrategy("ghcr.io", rr.UploadChunked, 4<<20),
		rr.WithUploadStrategy("", rr.UploadAuto, 0),
		rr.WithMonolithicThreshold("", 0),
		rr.WithMonolithicThreshold("ghcr.io", rr.DefaultMonolithicThreshold()))
	if cl == nil || rr.DefaultMonolithicThreshold() <= 0 {
		t.Fatalf("default threshold %d", rr.DefaultMonolithicThreshold())
	}
}
