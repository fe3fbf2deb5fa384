package rr_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	rr "github.com/rr-project/rr/go"
)

type manifestJSON struct {
	MediaType string `json:"mediaType"`
	Config    struct {
		Digest string `json:"digest"`
		Size   uint64 `json:"size"`
	} `json:"config"`
	Layers []struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      uint64 `json:"size"`
	} `json:"layers"`
}

func parseManifest(t testing.TB, b []byte) manifestJSON {
	t.Helper()
	var m manifestJSON
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("manifest: %v\n%s", err, b)
	}
	return m
}

// verifyLayer streams layer i through WriteLayerTo and checks its digest and size.
func verifyLayer(t testing.TB, img *rr.Image, i int) {
	t.Helper()
	l := img.Layers()[i]
	h := sha256.New()
	n, err := img.WriteLayerTo(ctx, i, h)
	noErr(t, err)
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != l.Digest || uint64(n) != l.Size {
		t.Fatalf("layer %d: got %s (%d bytes), want %s (%d bytes)", i, got, n, l.Digest, l.Size)
	}
}

func TestVersionAndStatus(t *testing.T) {
	if rr.Version() == "" || rr.Version() != rr.HeaderVersion {
		t.Fatalf("Version %q, header %q", rr.Version(), rr.HeaderVersion)
	}
	if got := rr.StatusNotFound.String(); got != "RR_ERR_NOT_FOUND" {
		t.Fatalf("StatusNotFound.String() = %q", got)
	}
	if got := rr.Status(99).String(); got != "RR_UNKNOWN" {
		t.Fatalf("Status(99).String() = %q", got)
	}
	if rr.StatusPanic != 15 || rr.StatusOK != 0 {
		t.Fatal("status values moved")
	}
}

func TestGetAndHead(t *testing.T) {
	cl := newClient(t)
	ref, want := openReg["RR_TEST_IMAGE"], openReg["RR_TEST_IMAGE_DIGEST"]

	d := must[*rr.Descriptor](t)(cl.Get(ctx, ref))
	defer d.Close()
	m := must[[]byte](t)(d.Manifest())
	if d.Digest() != want || digestOf(m) != want || d.Size() != uint64(len(m)) {
		t.Fatalf("Get: digest %s size %d; manifest hashes to %s (%d bytes); want %s", d.Digest(), d.Size(), digestOf(m), len(m), want)
	}
	if mt := d.MediaType(); !strings.Contains(mt, "manifest") || parseManifest(t, m).Config.Digest == "" {
		t.Fatalf("media type %q", mt)
	}
	img := must[*rr.Image](t)(d.Image())
	defer img.Close()
	if img.Digest() != want {
		t.Fatalf("Descriptor.Image digest %s", img.Digest())
	}
	_, err := d.Index()
	wantStatus(t, err, rr.StatusUnsupported)

	h := must[*rr.Descriptor](t)(cl.Head(ctx, ref))
	defer h.Close()
	if h.Digest() != want || h.Size() != d.Size() || h.MediaType() != d.MediaType() {
		t.Fatalf("Head: %s %d %s", h.Digest(), h.Size(), h.MediaType())
	}
	_, err = h.Manifest()
	wantStatus(t, err, rr.StatusInvalidArgument)

	// By digest, too.
	byDigest := must[*rr.Descriptor](t)(cl.Get(ctx, openReg["RR_TEST_REGISTRY"]+"/demo/app@"+want))
	defer byDigest.Close()
	if byDigest.Digest() != want {
		t.Fatalf("by digest: %s", byDigest.Digest())
	}
}

func TestImagePull(t *testing.T) {
	cl := newClient(t)
	img := must[*rr.Image](t)(cl.Image(ctx, openReg["RR_TEST_IMAGE"]))
	defer img.Close()
	if img.Digest() != openReg["RR_TEST_IMAGE_DIGEST"] || img.MediaType() == "" {
		t.Fatalf("digest %s media type %q", img.Digest(), img.MediaType())
	}
	mb := must[[]byte](t)(img.Manifest())
	m := parseManifest(t, mb)

	cfg := must[[]byte](t)(img.Config(ctx))
	if digestOf(cfg) != m.Config.Digest || uint64(len(cfg)) != m.Config.Size {
		t.Fatalf("config hashes to %s, manifest says %s", digestOf(cfg), m.Config.Digest)
	}
	var c struct{ Architecture, OS string }
	noErr(t, json.Unmarshal(cfg, &c))
	if c.OS == "" {
		t.Fatalf("config without os: %s", cfg)
	}

	layers := img.Layers()
	if len(layers) == 0 || len(layers) != len(m.Layers) || img.LayerCount() != len(layers) {
		t.Fatalf("layers %v, manifest %v", layers, m.Layers)
	}
	for i, l := range layers {
		if l.Digest != m.Layers[i].Digest || l.Size != m.Layers[i].Size || l.MediaType != m.Layers[i].MediaType {
			t.Fatalf("layer %d: %+v, manifest %+v", i, l, m.Layers[i])
		}
		verifyLayer(t, img, i)
	}

	// LayerReader: the whole layer, ending in io.EOF after verification.
	r := must[io.ReadCloser](t)(img.LayerReader(ctx, 0))
	b, err := io.ReadAll(r)
	noErr(t, err)
	noErr(t, r.Close())
	if digestOf(b) != layers[0].Digest {
		t.Fatalf("LayerReader gave %s", digestOf(b))
	}
	// Closing a LayerReader early stops the transfer.
	r = must[io.ReadCloser](t)(img.LayerReader(ctx, 0))
	noErr(t, r.Close())

	// SaveLayer.
	path := filepath.Join(t.TempDir(), "layer.tgz")
	noErr(t, img.SaveLayer(ctx, 0, path))
	saved, err := os.ReadFile(path)
	noErr(t, err)
	if digestOf(saved) != layers[0].Digest {
		t.Fatalf("SaveLayer wrote %s", digestOf(saved))
	}

	// A failing writer's error comes back as it is.
	boom := errors.New("disk full")
	_, err = img.WriteLayerTo(ctx, 0, failingWriter{boom})
	if !errors.Is(err, boom) {
		t.Fatalf("failing writer: got %v", err)
	}
	_, err = img.WriteLayerTo(ctx, len(layers), io.Discard)
	wantStatus(t, err, rr.StatusInvalidArgument)
	_, err = img.LayerReader(ctx, len(layers))
	wantStatus(t, err, rr.StatusInvalidArgument)
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestIndexPull(t *testing.T) {
	cl := newClient(t)
	idx := must[*rr.Index](t)(cl.Index(ctx, openReg["RR_TEST_INDEX"]))
	defer idx.Close()
	if idx.Digest() != openReg["RR_TEST_INDEX_DIGEST"] {
		t.Fatalf("index digest %s", idx.Digest())
	}
	mb := must[[]byte](t)(idx.Manifest())
	if digestOf(mb) != idx.Digest() || !strings.Contains(idx.MediaType(), "index") && !strings.Contains(idx.MediaType(), "list") {
		t.Fatalf("index manifest %s, media type %s", digestOf(mb), idx.MediaType())
	}
	children := idx.Children()
	if len(children) < 2 || idx.ChildCount() != len(children) {
		t.Fatalf("children: %+v", children)
	}
	arm := slices.IndexFunc(children, func(c rr.Child) bool { return strings.HasPrefix(c.Platform, "linux/arm64") })
	if arm < 0 {
		t.Fatalf("no linux/arm64 child: %+v", children)
	}
	img := must[*rr.Image](t)(idx.ImageForPlatform(ctx, "linux/arm64"))
	defer img.Close()
	if img.Digest() != children[arm].Digest {
		t.Fatalf("linux/arm64 resolved to %s, want %s", img.Digest(), children[arm].Digest)
	}
	var c struct{ Architecture string }
	noErr(t, json.Unmarshal(must[[]byte](t)(img.Config(ctx)), &c))
	if c.Architecture != "arm64" {
		t.Fatalf("arm64 image has architecture %q", c.Architecture)
	}
	verifyLayer(t, img, 0)

	for i, ch := range children {
		ci := must[*rr.Image](t)(idx.ChildImage(ctx, i))
		if ci.Digest() != ch.Digest {
			t.Fatalf("child %d: %s, want %s", i, ci.Digest(), ch.Digest)
		}
		ci.Close()
	}
	_, err := idx.ChildIndex(ctx, 0)
	wantStatus(t, err, rr.StatusUnsupported)
	_, err = idx.ChildImage(ctx, len(children))
	wantStatus(t, err, rr.StatusInvalidArgument)
	_, err = idx.ImageForPlatform(ctx, "windows/s390x")
	wantStatus(t, err, rr.StatusNotFound)
	_, err = idx.ImageForPlatform(ctx, "linux")
	wantStatus(t, err, rr.StatusInvalidReference)

	// A client's platform decides what an index resolves to.
	armCl := newClient(t, rr.WithPlatform("linux/arm64"))
	ai := must[*rr.Image](t)(armCl.Image(ctx, openReg["RR_TEST_INDEX"]))
	defer ai.Close()
	if ai.Digest() != children[arm].Digest {
		t.Fatalf("client platform linux/arm64 resolved to %s", ai.Digest())
	}
	// Asking for an index where there is an image.
	_, err = cl.Index(ctx, openReg["RR_TEST_IMAGE"])
	wantStatus(t, err, rr.StatusUnsupported)
	_, err = rr.NewClient(rr.WithPlatform("linux"))
	wantStatus(t, err, rr.StatusInvalidReference)
}

func TestListAndCatalog(t *testing.T) {
	cl := newClient(t)
	tags := must[[]string](t)(cl.List(ctx, openReg["RR_TEST_MANY"]))
	want, _ := strconv.Atoi(openReg["RR_TEST_MANY_TAG_COUNT"])
	if want != 320 || len(tags) != want {
		t.Fatalf("List gave %d tags, want %d (RR_TEST_MANY_TAG_COUNT %d)", len(tags), 320, want)
	}
	uniq := slices.Compact(slices.Sorted(slices.Values(tags)))
	if len(uniq) != len(tags) {
		t.Fatalf("List gave duplicates")
	}
	// Pages of 7 entries: every page is followed, the tags and the catalog come out whole.
	paged := newClient(t, rr.WithPageSize(7))
	pagedTags := must[[]string](t)(paged.List(ctx, openReg["RR_TEST_MANY"]))
	if !slices.Equal(slices.Sorted(slices.Values(pagedTags)), uniq) {
		t.Fatalf("List with pages of 7 gave %d tags, want the same %d", len(pagedTags), len(uniq))
	}
	repos := must[[]string](t)(cl.Catalog(ctx, openReg["RR_TEST_REGISTRY"]))
	pagedRepos := must[[]string](t)(newClient(t, rr.WithPageSize(1)).Catalog(ctx, openReg["RR_TEST_REGISTRY"]))
	if !slices.Equal(slices.Sorted(slices.Values(pagedRepos)), slices.Sorted(slices.Values(repos))) {
		t.Fatalf("catalog in pages of 1 %v differs from %v", pagedRepos, repos)
	}
	for _, r := range []string{"demo/app", "demo/multi", "demo/many"} {
		if !slices.Contains(repos, r) {
			t.Fatalf("catalog %v lacks %s", repos, r)
		}
	}
	for _, n := range []int{-1, 1001} {
		_, err := rr.NewClient(rr.WithPageSize(n))
		wantStatus(t, err, rr.StatusInvalidArgument)
	}
	_, err := cl.List(ctx, openReg["RR_TEST_IMAGE"]) // has a tag
	wantStatus(t, err, rr.StatusInvalidReference)
	_, err = cl.List(ctx, openReg["RR_TEST_REGISTRY"]+"/demo/nothing-here")
	wantStatus(t, err, rr.StatusNotFound)
}

func TestBadReferences(t *testing.T) {
	cl := newClient(t)
	reg := openReg["RR_TEST_REGISTRY"]
	for _, ref := range []string{
		"https://" + reg + "/demo/app:v1",
		reg + "/Demo/App:v1",
		reg + "/demo/app@sha256:abc",
		reg + "//app:v1",
		"",
	} {
		_, err := cl.Get(ctx, ref)
		wantStatus(t, err, rr.StatusInvalidReference)
		if !errors.Is(err, rr.StatusInvalidReference) || rr.StatusOf(err) != rr.StatusInvalidReference {
			t.Fatalf("errors.Is / StatusOf disagree for %v", err)
		}
		if !strings.Contains(err.Error(), "RR_ERR_INVALID_REFERENCE") {
			t.Fatalf("Error() = %q", err.Error())
		}
	}
	_, err := cl.Get(ctx, reg+"/demo/app:v1\x00x")
	wantStatus(t, err, rr.StatusInvalidArgument)
	// A well-formed reference to nothing.
	_, err = cl.Get(ctx, reg+"/demo/app:no-such-tag")
	e := wantStatus(t, err, rr.StatusNotFound)
	if !rr.IsNotFound(err) || e.HTTPStatus != 404 || e.RegistryCode != "MANIFEST_UNKNOWN" {
		t.Fatalf("not found: %+v", e)
	}
	if !strings.Contains(e.Message, "no-such-tag") {
		t.Fatalf("message does not name the reference: %q", e.Message)
	}
}

func TestReferenceNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"ubuntu":                "index.docker.io/library/ubuntu:latest",
		"docker.io/x/y":         "index.docker.io/x/y:latest",
		"localhost/a":           "localhost/a:latest",
		"127.0.0.1:5000/a/b:v1": "127.0.0.1:5000/a/b:v1",
		"example.com/" + long(240) + ":" + strings.Repeat("t", 120): "example.com/" + long(240) + ":" + strings.Repeat("t", 120),
	} {
		got, err := rr.ReferenceNormalize(in)
		if err != nil || got != want {
			t.Fatalf("ReferenceNormalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := rr.ReferenceNormalize("https://example.com/a")
	wantStatus(t, err, rr.StatusInvalidReference)
	_, err = rr.ReferenceNormalize("a\x00b")
	wantStatus(t, err, rr.StatusInvalidArgument)
}

func long(n int) string {
	var b strings.Builder
	for b.Len() < n {
		b.WriteString("abcdefghij/")
	}
	return strings.Trim(b.String()[:n], "/")
}

// WithBlobConnections takes 1 to 16 and nothing else; a client with either bound still
// writes a layout (the split itself is tested behind the network emulator in
// tests/ranged.rs, where one connection is slow).
func TestBlobConnectionsOption(t *testing.T) {
	for _, n := range []int{0, -1, 17} {
		_, err := rr.NewClient(rr.WithKeychain(false), rr.WithBlobConnections(n))
		wantStatus(t, err, rr.StatusInvalidArgument)
	}
	for _, n := range []int{1, 16} {
		cl := newClient(t, rr.WithBlobConnections(n))
		img := must[*rr.Image](t)(cl.Image(ctx, openReg["RR_TEST_IMAGE"]))
		dir := t.TempDir()
		noErr(t, cl.WriteLayout(ctx, dir, img, "v1"))
		img.Close()
		for _, l := range img.Layers() {
			b, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(l.Digest, "sha256:")))
			noErr(t, err)
			if digestOf(b) != l.Digest {
				t.Fatalf("connections %d: layer %s holds %s", n, l.Digest, digestOf(b))
			}
		}
	}
}
