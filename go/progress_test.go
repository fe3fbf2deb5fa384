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
	_, err := img.WriteLayerTo(0, io.Discard)
	wantStatus(t, err, rr.StatusCancelled)
	if !rr.IsCancelled(err) || calls.Load() == 0 {
		t.Fatalf("cancel: %v after %d calls", err, calls.Load())
	}
	wantStatus(t, img.SaveLayer(0, t.TempDir()+"/layer"), rr.StatusCancelled)

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
		if _, err := img.Config(); err != nil {
			return err
		}
		r, err := img.LayerReader(0)
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
		arm, err := idx.ImageForPlatform("linux/arm64")
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
