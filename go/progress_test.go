package rr_test

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	rr "github.com/rr-project/rr/go"
)

type progressLog struct {
	mu    sync.Mutex
	calls [][2]uint64
}

func (p *progressLog) fn(complete, total uint64) bool {
	p.mu.Lock()
	p.calls = append(p.calls, [2]uint64{complete, total})
	p.mu.Unlock()
	return true
}

func TestProgress(t *testing.T) {
	var p progressLog
	cl := newClient(t, rr.WithProgress(p.fn))
	img := must[*rr.Image](t)(cl.Image(ctx, openReg["RR_TEST_IMAGE"]))
	defer img.Close()
	verifyLayer(t, img, 0)
	size := img.Layers()[0].Size
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.calls) == 0 || p.calls[len(p.calls)-1] != [2]uint64{size, size} {
		t.Fatalf("progress %v, want to end at %d/%d", p.calls, size, size)
	}
	for i := 1; i < len(p.calls); i++ {
		if p.calls[i][0] < p.calls[i-1][0] || p.calls[i][1] != size {
			t.Fatalf("progress %v", p.calls)
		}
	}
}

func TestProgressCancels(t *testing.T) {
	var calls atomic.Int64
	cl := newClient(t, rr.WithProgress(func(uint64, uint64) bool {
		calls.Add(1)
		return false
	}))
	img := must[*rr.Image](t)(cl.Image(ctx, openReg["RR_TEST_IMAGE"]))
	defer img.Close()
	_, err := img.WriteLayerTo(ctx, 0, io.Discard)
	wantStatus(t, err, rr.StatusCancelled)
	if !rr.IsCancelled(err) || calls.Load() == 0 {
		t.Fatalf("cancel: %v after %d calls", err, calls.Load())
	}
	wantStatus(t, img.SaveLayer(ctx, 0, t.TempDir()+"/layer"), rr.StatusCancelled)

	// A cancelled push leaves no manifest behind.
	ref := openReg["RR_TEST_REGISTRY"] + "/gotest/cancelled:v1"
	built, _ := buildImage(t, "linux/amd64", "cancelled "+t.Name())
	wantStatus(t, cl.Write(ctx, ref, built), rr.StatusCancelled)
	_, err = newClient(t).Head(ctx, ref)
	wantStatus(t, err, rr.StatusNotFound)
}

func TestLogger(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	cl := newClient(t, rr.WithLogger(func(line string) {
		mu.Lock()
		lines = append(lines, line)
		mu.Unlock()
	}))
	d := must[*rr.Descriptor](t)(cl.Get(ctx, openReg["RR_TEST_IMAGE"]))
	d.Close()
	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(lines, "\n")
	if !strings.Contains(all, "GET ") || !strings.Contains(all, "/v2/demo/app/manifests/v1") {
		t.Fatalf("log lines:\n%s", all)
	}
}

// TestConcurrentUse shares one client (with a Go transport, auth func and progress func,
// so callbacks run on library threads) between goroutines.
func TestConcurrentUse(t *testing.T) {
	ct := newCountingTransport()
	auth := &recordingAuth{cred: rr.Basic{Username: "pusher", Password: "pusher-pw"}}
	var p progressLog
	clients := map[string]*rr.Client{
		"open":  newClient(t, rr.WithJobs(4), rr.WithTransport(ct), rr.WithProgress(p.fn)),
		"token": newClient(t, rr.WithJobs(4), rr.WithAuthFunc(auth.fn), rr.WithProgress(p.fn)),
	}
	envs := map[string]map[string]string{"open": openReg, "token": tokenReg}
	var wg sync.WaitGroup
	for name, cl := range clients {
		env := envs[name]
		for g := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := workload(cl, env, fmt.Sprintf("gotest/concurrent-%s-%d", name, g)); err != nil {
					t.Errorf("%s goroutine %d: %v", name, g, err)
				}
			}()
		}
	}
	wg.Wait()
	ct.check(t)
}

func workload(cl *rr.Client, env map[string]string, repo string) error {
	for range 3 {
		d, err := cl.Get(ctx, env["RR_TEST_IMAGE"])
		if err != nil {
			return err
		}
		if d.Digest() != env["RR_TEST_IMAGE_DIGEST"] {
			return fmt.Errorf("digest %s", d.Digest())
		}
		img, err := d.Image()
		d.Close()
		if err != nil {
			return err
		}
		if _, err := img.Config(ctx); err != nil {
			return err
		}
		r, err := img.LayerReader(ctx, 0)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			return err
		}
		if digestOf(b) != img.Layers()[0].Digest {
			return fmt.Errorf("layer digest %s", digestOf(b))
		}
		idx, err := cl.Index(ctx, env["RR_TEST_INDEX"])
		if err != nil {
			return err
		}
		arm, err := idx.ImageForPlatform(ctx, "linux/arm64")
		idx.Close()
		if err != nil {
			return err
		}
		arm.Close()
		tags, err := cl.List(ctx, env["RR_TEST_MANY"])
		if err != nil {
			return err
		}
		if len(tags) != 320 {
			return fmt.Errorf("%d tags", len(tags))
		}
		dst := env["RR_TEST_REGISTRY"] + "/" + repo + ":v1"
		if err := cl.Write(ctx, dst, img); err != nil {
			return err
		}
		img.Close()
		h, err := cl.Head(ctx, dst)
		if err != nil {
			return err
		}
		if h.Digest() != env["RR_TEST_IMAGE_DIGEST"] {
			return fmt.Errorf("written %s", h.Digest())
		}
		h.Close()
		if _, err := cl.Get(ctx, env["RR_TEST_REGISTRY"]+"/"+repo+":missing"); !rr.IsNotFound(err) {
			return fmt.Errorf("missing tag: %v", err)
		}
	}
	return nil
}

type blobLog struct {
	mu     sync.Mutex
	events []rr.BlobProgress
}

func (b *blobLog) fn(e rr.BlobProgress) bool {
	b.mu.Lock()
	b.events = append(b.events, e)
	b.mu.Unlock()
	return true
}

func (b *blobLog) take() []rr.BlobProgress {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.events
	b.events = nil
	return out
}

// phasesByBlob checks one operation's events and returns each blob's phases in order,
// repeats removed ("waiting checking uploading done").
func phasesByBlob(t *testing.T, events []rr.BlobProgress) map[string]string {
	t.Helper()
	if len(events) == 0 || events[0].Phase != rr.BlobStarted || events[0].Digest != "" {
		t.Fatalf("events do not begin with started: %v", events)
	}
	phases := map[string][]string{}
	done := map[string]uint64{}
	for _, e := range events {
		if e.Operation != events[0].Operation {
			t.Fatalf("two operations in one call's events: %v", events)
		}
		if e.Digest == "" {
			continue
		}
		if e.BlobDone < done[e.Digest] || e.BlobDone > e.BlobSize || (e.Phase.Final() && e.BlobDone != e.BlobSize) {
			t.Fatalf("blob bytes out of order: %+v", e)
		}
		done[e.Digest] = e.BlobDone
		p := phases[e.Digest]
		if len(p) == 0 || p[len(p)-1] != e.Phase.String() {
			phases[e.Digest] = append(p, e.Phase.String())
		}
	}
	last := events[len(events)-1]
	if last.Complete != last.Total {
		t.Fatalf("the last event is not complete: %+v", last)
	}
	out := map[string]string{}
	for d, p := range phases {
		out[d] = strings.Join(p, " ")
	}
	return out
}

func TestBlobProgress(t *testing.T) {
	var log blobLog
	cl := newClient(t, rr.WithBlobProgress(log.fn))
	reg := openReg["RR_TEST_REGISTRY"]
	img, _ := buildImage(t, "linux/amd64", "blob progress")
	want := map[string]bool{img.ConfigDigest(): true}
	for _, l := range img.Layers() {
		want[l.Digest] = true
	}
	check := func(what, phases string) {
		t.Helper()
		got := phasesByBlob(t, log.take())
		if len(got) != len(want) {
			t.Fatalf("%s: %d blobs reported, want %d: %v", what, len(got), len(want), got)
		}
		for d, p := range got {
			if !want[d] || p != phases {
				t.Fatalf("%s: blob %s went %q, want %q", what, d, p, phases)
			}
		}
	}
	ref := reg + "/gotest/blob-progress:v1"
	noErr(t, cl.Write(ctx, ref, img))
	check("push", "waiting checking uploading done")
	noErr(t, cl.Write(ctx, reg+"/gotest/blob-progress:v2", img))
	check("push again", "waiting checking exists")
	noErr(t, cl.Copy(ctx, ref, reg+"/gotest/blob-progress-copy:v1"))
	check("copy", "waiting mounting mounted")
	dir := t.TempDir()
	noErr(t, cl.WriteLayout(ctx, dir, img, "v1"))
	check("layout", "waiting downloading verifying done")

	if rr.BlobPhase(99).String() != "BlobPhase(99)" || rr.BlobDone.String() != "done" {
		t.Fatalf("phase names: %q %q", rr.BlobPhase(99), rr.BlobDone)
	}
}

func TestBlobProgressTwoOperationsApart(t *testing.T) {
	var log blobLog
	cl := newClient(t, rr.WithBlobProgress(log.fn))
	reg := openReg["RR_TEST_REGISTRY"]
	var wg sync.WaitGroup
	owner := map[string]int{} // blob digest -> image
	for i := range 2 {
		img, _ := buildImage(t, "linux/amd64", fmt.Sprintf("apart %d", i))
		owner[img.ConfigDigest()] = i
		for _, l := range img.Layers() {
			owner[l.Digest] = i
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			noErr(t, cl.Write(ctx, fmt.Sprintf("%s/gotest/apart%d:v1", reg, i), img))
		}()
	}
	wg.Wait()
	byOperation := map[uint64][]rr.BlobProgress{}
	for _, e := range log.take() {
		byOperation[e.Operation] = append(byOperation[e.Operation], e)
	}
	if len(byOperation) != 2 {
		t.Fatalf("%d operations reported, want 2", len(byOperation))
	}
	seen := map[int]bool{}
	for _, events := range byOperation {
		image := -1
		for d, p := range phasesByBlob(t, events) {
			if image == -1 {
				image = owner[d]
			}
			if owner[d] != image || p != "waiting checking uploading done" {
				t.Fatalf("operation mixes images or phases: %s %q", d, p)
			}
		}
		seen[image] = true
	}
	if len(seen) != 2 {
		t.Fatalf("both operations pushed the same image: %v", seen)
	}
}
