package rr_test

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rr "github.com/rr-project/rr/go"
)

func TestCopyWriteTagDelete(t *testing.T) {
	cl := newClient(t)
	reg := openReg["RR_TEST_REGISTRY"]
	src, want := openReg["RR_TEST_IMAGE"], openReg["RR_TEST_IMAGE_DIGEST"]

	headDigest := func(ref string) string {
		t.Helper()
		d := must[*rr.Descriptor](t)(cl.Head(ctx, ref))
		defer d.Close()
		return d.Digest()
	}

	// Copy an image, and a whole index.
	noErr(t, cl.Copy(ctx, src, reg+"/gotest/copy:c1"))
	if got := headDigest(reg + "/gotest/copy:c1"); got != want {
		t.Fatalf("copy: %s, want %s", got, want)
	}
	noErr(t, cl.Copy(ctx, openReg["RR_TEST_INDEX"], reg+"/gotest/copyindex:all"))
	if got := headDigest(reg + "/gotest/copyindex:all"); got != openReg["RR_TEST_INDEX_DIGEST"] {
		t.Fatalf("index copy: %s", got)
	}

	// Write an opened image to a new tag.
	img := must[*rr.Image](t)(cl.Image(ctx, src))
	defer img.Close()
	noErr(t, cl.Write(ctx, reg+"/gotest/write:w1", img))
	if got := headDigest(reg + "/gotest/write:w1"); got != want {
		t.Fatalf("write: %s", got)
	}

	// Tag it.
	noErr(t, cl.Tag(ctx, reg+"/gotest/write:w1", "w2"))
	if got := headDigest(reg + "/gotest/write:w2"); got != want {
		t.Fatalf("tag: %s", got)
	}
	tags := must[[]string](t)(cl.List(ctx, reg+"/gotest/write"))
	if !slices.Contains(tags, "w1") || !slices.Contains(tags, "w2") {
		t.Fatalf("tags %v", tags)
	}

	// Delete by digest: both tags are gone.
	noErr(t, cl.Delete(ctx, reg+"/gotest/write@"+want))
	for _, tag := range []string{"w1", "w2"} {
		_, err := cl.Head(ctx, reg+"/gotest/write:"+tag)
		e := wantStatus(t, err, rr.StatusNotFound)
		if !rr.IsNotFound(err) || e.HTTPStatus != 404 {
			t.Fatalf("after delete: %+v", e)
		}
	}
	// The source is untouched.
	if got := headDigest(src); got != want {
		t.Fatalf("source after delete: %s", got)
	}
	err := cl.Delete(ctx, reg+"/gotest/write@"+want)
	wantStatus(t, err, rr.StatusNotFound)
	noErr(t, cl.CheckPushPermission(ctx, reg+"/gotest/anything"))
}

// makeLayer writes a tar+gzip layer holding files and returns its path.
func makeLayer(t testing.TB, files map[string]string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "layer.tar.gz")
	f, err := os.Create(path)
	noErr(t, err)
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		noErr(t, tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(files[n]))
		noErr(t, err)
	}
	noErr(t, tw.Close())
	noErr(t, zw.Close())
	noErr(t, f.Close())
	return path
}

var buildSeq atomic.Uint64

// buildImage builds a one-layer image for platform with some distinct content (and
// 256 KiB that do not compress, so that uploads take several reads).
func buildImage(t testing.TB, platform, content string) (*rr.Image, string) {
	t.Helper()
	content = fmt.Sprintf("%s #%d", content, buildSeq.Add(1)) // unique on every call
	noise := make([]byte, 256<<10)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), buildSeq.Load()))
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	layer := makeLayer(t, map[string]string{"hello.txt": content, "noise.bin": string(noise) + content})
	b := must[*rr.ImageBuilder](t)(rr.NewImageBuilder())
	defer b.Close()
	noErr(t, b.SetPlatform(platform))
	noErr(t, b.SetConfig([]byte(`{"config":{"Env":["GREETING=`+content+`"]}}`)))
	noErr(t, b.AddLayerFile(layer, ""))
	img := must[*rr.Image](t)(b.Build())
	t.Cleanup(func() { img.Close() })
	data, err := os.ReadFile(layer)
	noErr(t, err)
	return img, digestOf(data)
}

func TestBuildPushAndLayout(t *testing.T) {
	var mu sync.Mutex
	var calls [][2]uint64
	cl := newClient(t, rr.WithProgress(func(complete, total uint64) bool {
		mu.Lock()
		calls = append(calls, [2]uint64{complete, total})
		mu.Unlock()
		return true
	}))
	reg := openReg["RR_TEST_REGISTRY"]

	arm, layerDigest := buildImage(t, "linux/arm64", "arm "+t.Name())
	if l := arm.Layers(); len(l) != 1 || l[0].Digest != layerDigest || l[0].MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
		t.Fatalf("built layers %+v, file %s", l, layerDigest)
	}
	m := parseManifest(t, must[[]byte](t)(arm.Manifest()))
	if digestOf(must[[]byte](t)(arm.Manifest())) != arm.Digest() {
		t.Fatal("built manifest digest")
	}

	// Push it: progress ends at the config plus the layer.
	noErr(t, cl.Write(ctx, reg+"/gotest/built:arm", arm))
	total := m.Config.Size + m.Layers[0].Size
	mu.Lock()
	last := calls[len(calls)-1]
	for i := 1; i < len(calls); i++ {
		if calls[i][0] < calls[i-1][0] {
			t.Errorf("progress went back: %v", calls)
		}
	}
	mu.Unlock()
	if last != [2]uint64{total, total} {
		t.Fatalf("last progress %v, want %d/%d", last, total, total)
	}

	// Read it back through another client.
	other := newClient(t)
	got := must[*rr.Image](t)(other.Image(ctx, reg+"/gotest/built:arm"))
	defer got.Close()
	if got.Digest() != arm.Digest() {
		t.Fatalf("pushed %s, read back %s", arm.Digest(), got.Digest())
	}
	verifyLayer(t, got, 0)

	// OCI layout round trip.
	dir := t.TempDir()
	noErr(t, cl.WriteLayout(ctx, dir, arm, "arm"))
	fromLayout := must[*rr.Image](t)(rr.ReadLayoutImage(dir, "arm"))
	defer fromLayout.Close()
	if fromLayout.Digest() != arm.Digest() {
		t.Fatalf("layout gave %s", fromLayout.Digest())
	}
	verifyLayer(t, fromLayout, 0)
	_, err := rr.ReadLayoutImage(dir, "nope")
	wantStatus(t, err, rr.StatusNotFound)
	layoutIdx := must[*rr.Index](t)(rr.ReadLayoutIndex(dir))
	defer layoutIdx.Close()
	if layoutIdx.ChildCount() != 1 {
		t.Fatalf("layout index has %d children", layoutIdx.ChildCount())
	}

	// An index of two built images.
	amd, _ := buildImage(t, "linux/amd64", "amd "+t.Name())
	ib := must[*rr.IndexBuilder](t)(rr.NewIndexBuilder())
	noErr(t, ib.AddImage(arm, ""))
	noErr(t, ib.AddImage(amd, ""))
	idx := must[*rr.Index](t)(ib.Build())
	noErr(t, ib.Close())
	defer idx.Close()
	noErr(t, cl.WriteIndex(ctx, reg+"/gotest/builtindex:v1", idx))
	pulled := must[*rr.Index](t)(other.Index(ctx, reg+"/gotest/builtindex:v1"))
	defer pulled.Close()
	if pulled.Digest() != idx.Digest() || pulled.ChildCount() != 2 {
		t.Fatalf("index %s with %d children, want %s", pulled.Digest(), pulled.ChildCount(), idx.Digest())
	}
	a := must[*rr.Image](t)(pulled.ImageForPlatform(ctx, "linux/arm64"))
	defer a.Close()
	if a.Digest() != arm.Digest() {
		t.Fatalf("arm64 child %s", a.Digest())
	}
	noErr(t, cl.WriteLayoutIndex(ctx, t.TempDir(), idx, "multi"))

	// Builder input errors.
	b := must[*rr.ImageBuilder](t)(rr.NewImageBuilder())
	defer b.Close()
	wantStatus(t, b.AddLayerFile(filepath.Join(dir, "missing.tar"), ""), rr.StatusIO)
	wantStatus(t, b.SetConfig([]byte(`[1,2]`)), rr.StatusInvalidArgument)
	wantStatus(t, b.SetPlatform("linux"), rr.StatusInvalidReference)
}

// TestWriteConcurrentTags pushes the same built image under several tags at once.
func TestWriteConcurrentTags(t *testing.T) {
	cl := newClient(t)
	reg := openReg["RR_TEST_REGISTRY"]
	img, _ := buildImage(t, "linux/amd64", "concurrent "+t.Name())
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ref := fmt.Sprintf("%s/gotest/concurrent-write:t%d", reg, i)
			if err := cl.Write(ctx, ref, img); err != nil {
				t.Errorf("Write %s: %v", ref, err)
				return
			}
			d, err := cl.Head(ctx, ref)
			if err != nil {
				t.Errorf("Head %s: %v", ref, err)
				return
			}
			defer d.Close()
			if d.Digest() != img.Digest() {
				t.Errorf("%s: %s", ref, d.Digest())
			}
		}()
	}
	wg.Wait()
}
