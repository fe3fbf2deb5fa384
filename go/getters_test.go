package rr_test

import (
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	rr "github.com/rr-project/rr/go"
)

// The fields of a manifest the getters report, decoded here as the test's own oracle.
type annotatedJSON struct {
	ArtifactType string            `json:"artifactType"`
	Annotations  map[string]string `json:"annotations"`
	Config       struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      uint64 `json:"size"`
	} `json:"config"`
	Layers []struct {
		Size         uint64            `json:"size"`
		ArtifactType string            `json:"artifactType"`
		Annotations  map[string]string `json:"annotations"`
	} `json:"layers"`
	Manifests []struct {
		Digest       string            `json:"digest"`
		Size         uint64            `json:"size"`
		ArtifactType string            `json:"artifactType"`
		Annotations  map[string]string `json:"annotations"`
		Platform     *struct {
			OS           string   `json:"os"`
			Architecture string   `json:"architecture"`
			Variant      string   `json:"variant"`
			OSVersion    string   `json:"os.version"`
			OSFeatures   []string `json:"os.features"`
		} `json:"platform"`
	} `json:"manifests"`
}

func decode(t testing.TB, b []byte) annotatedJSON {
	t.Helper()
	var m annotatedJSON
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("manifest: %v\n%s", err, b)
	}
	return m
}

// sameMap compares annotations: the binding gives nil for none, encoding/json nil for an
// absent field.
func sameMap(a, b map[string]string) bool {
	return len(a) == len(b) && maps.Equal(a, b)
}

func TestImageGetters(t *testing.T) {
	cl := newClient(t)
	img := must[*rr.Image](t)(cl.Image(ctx, openReg["RR_TEST_ANNOTATED_IMAGE"]))
	defer img.Close()
	m := decode(t, must[[]byte](t)(img.Manifest()))
	if len(m.Annotations) != 3 || len(m.Layers) != 2 {
		t.Fatalf("the fixture changed: %+v", m)
	}
	if got := img.Annotations(); !sameMap(got, m.Annotations) {
		t.Fatalf("Annotations %v, the manifest has %v", got, m.Annotations)
	}
	if img.ArtifactType() != m.ArtifactType || m.ArtifactType == "" {
		t.Fatalf("ArtifactType %q, the manifest has %q", img.ArtifactType(), m.ArtifactType)
	}
	if img.ConfigDigest() != m.Config.Digest || img.ConfigMediaType() != m.Config.MediaType ||
		img.ConfigSize() != m.Config.Size {
		t.Fatalf("config %s %s %d, the manifest has %+v", img.ConfigDigest(), img.ConfigMediaType(),
			img.ConfigSize(), m.Config)
	}
	config := must[[]byte](t)(img.Config(ctx))
	if digestOf(config) != img.ConfigDigest() || uint64(len(config)) != img.ConfigSize() {
		t.Fatalf("the fetched config is not what ConfigDigest and ConfigSize say")
	}
	total := m.Config.Size
	for i, l := range img.Layers() {
		total += l.Size
		if l.ArtifactType != m.Layers[i].ArtifactType || !sameMap(l.Annotations, m.Layers[i].Annotations) {
			t.Fatalf("layer %d: %+v, the manifest has %+v", i, l, m.Layers[i])
		}
	}
	if img.TotalSize() != total {
		t.Fatalf("TotalSize %d, want %d", img.TotalSize(), total)
	}
	if img.Layers()[0].Annotations["org.opencontainers.image.title"] != "layer-0.tar.gz" ||
		img.Layers()[1].ArtifactType == "" || img.Layers()[1].Annotations != nil {
		t.Fatalf("layers: %+v", img.Layers())
	}

	// The standard image has none of them.
	plain := must[*rr.Image](t)(cl.Image(ctx, openReg["RR_TEST_IMAGE"]))
	defer plain.Close()
	if plain.Annotations() != nil || plain.ArtifactType() != "" || plain.Layers()[0].Annotations != nil {
		t.Fatalf("the standard image reports annotations or an artifact type")
	}
	// A closed image reports nothing.
	plain.Close()
	if plain.ConfigDigest() != "" || plain.TotalSize() != 0 || plain.Annotations() != nil {
		t.Fatalf("a closed image still reports fields")
	}
}

func TestIndexGetters(t *testing.T) {
	cl := newClient(t)
	idx := must[*rr.Index](t)(cl.Index(ctx, openReg["RR_TEST_ANNOTATED_INDEX"]))
	defer idx.Close()
	m := decode(t, must[[]byte](t)(idx.Manifest()))
	if !sameMap(idx.Annotations(), m.Annotations) || len(m.Annotations) == 0 {
		t.Fatalf("Annotations %v, the index has %v", idx.Annotations(), m.Annotations)
	}
	if idx.ArtifactType() != "" {
		t.Fatalf("ArtifactType %q", idx.ArtifactType())
	}
	children := idx.Children()
	if len(children) != 2 || len(m.Manifests) != 2 {
		t.Fatalf("children %+v", children)
	}
	for i, c := range children {
		want := m.Manifests[i]
		if c.Digest != want.Digest || c.Size != want.Size || c.ArtifactType != want.ArtifactType ||
			!sameMap(c.Annotations, want.Annotations) {
			t.Fatalf("child %d: %+v, the index has %+v", i, c, want)
		}
		p := c.PlatformSpec
		if p == nil || p.OS != want.Platform.OS || p.Architecture != want.Platform.Architecture ||
			p.Variant != want.Platform.Variant || p.OSVersion != want.Platform.OSVersion ||
			!slices.Equal(p.OSFeatures, want.Platform.OSFeatures) {
			t.Fatalf("child %d platform %+v, the index has %+v", i, p, want.Platform)
		}
		if rr.MediaTypeKind(c.MediaType) != rr.ManifestImage {
			t.Fatalf("child %d: %s is not an image's media type", i, c.MediaType)
		}
	}
	win := children[0].PlatformSpec
	if win.String() != "windows/amd64:10.0.17763.1234" || !slices.Equal(win.OSFeatures, []string{"win32k"}) {
		t.Fatalf("the Windows child: %+v (%s)", win, win)
	}
	if got := children[1].PlatformSpec.String(); got != "linux/arm64/v8" {
		t.Fatalf("the arm64 child: %s", got)
	}
	if rr.MediaTypeKind(idx.MediaType()) != rr.ManifestIndex || rr.MediaTypeKind("text/plain") != rr.ManifestUnknown ||
		rr.MediaTypeKind("a\x00b") != rr.ManifestUnknown {
		t.Fatalf("MediaTypeKind")
	}
}

func TestPlatformSpec(t *testing.T) {
	ref := openReg["RR_TEST_ANNOTATED_INDEX"]
	windows := rr.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.1234", OSFeatures: []string{"win32k"}}
	idx := must[*rr.Index](t)(newClient(t).Index(ctx, ref))
	defer idx.Close()
	want := idx.Children()[0].Digest

	img := must[*rr.Image](t)(idx.ImageForPlatformSpec(ctx, windows))
	if img.Digest() != want {
		t.Fatalf("ImageForPlatformSpec gave %s, want %s", img.Digest(), want)
	}
	img.Close()
	lacking := windows
	lacking.OSFeatures = []string{"win32k", "other"}
	_, err := idx.ImageForPlatformSpec(ctx, lacking)
	if e := wantStatus(t, err, rr.StatusNotFound); !strings.Contains(e.Message, "os.features win32k,other") {
		t.Fatalf("message %q", e.Message)
	}
	_, err = idx.ImageForPlatformSpec(ctx, rr.Platform{OS: "windows"})
	wantStatus(t, err, rr.StatusInvalidReference)
	_, err = idx.ImageForPlatformSpec(ctx, rr.Platform{OS: "windows", Architecture: "amd64", OSFeatures: []string{"a\x00"}})
	wantStatus(t, err, rr.StatusInvalidArgument)

	// On the client: an index opened as an image resolves by it.
	img = must[*rr.Image](t)(newClient(t, rr.WithPlatformSpec(windows)).Image(ctx, ref))
	if img.Digest() != want {
		t.Fatalf("WithPlatformSpec resolved to %s, want %s", img.Digest(), want)
	}
	img.Close()
	_, err = newClient(t, rr.WithPlatformSpec(lacking)).Image(ctx, ref)
	wantStatus(t, err, rr.StatusNotFound)
	_, err = rr.NewClient(rr.WithPlatformSpec(rr.Platform{OS: "linux", Architecture: "amd 64"}))
	wantStatus(t, err, rr.StatusInvalidReference)
}

func TestListPages(t *testing.T) {
	cl := newClient(t, rr.WithPageSize(50))
	var tags []string
	pages := 0
	for page, err := range cl.ListPages(ctx, openReg["RR_TEST_MANY"]) {
		noErr(t, err)
		if len(page) == 0 {
			t.Fatalf("an empty page")
		}
		pages++
		tags = append(tags, page...)
	}
	// distribution 2.8 ignores n on tags: one page of all 320.
	if len(tags) != 320 || pages != 1 {
		t.Fatalf("%d tags in %d pages", len(tags), pages)
	}
	if !slices.Equal(slices.Sorted(slices.Values(tags)), slices.Sorted(slices.Values(must[[]string](t)(cl.List(ctx, openReg["RR_TEST_MANY"]))))) {
		t.Fatalf("ListPages and List differ")
	}

	// The catalog in pages of 1 (Link headers), each page as it comes.
	one := newClient(t, rr.WithPageSize(1))
	var repos []string
	for page, err := range one.CatalogPages(ctx, openReg["RR_TEST_REGISTRY"]) {
		noErr(t, err)
		if len(page) != 1 {
			t.Fatalf("a page of %d with page size 1", len(page))
		}
		repos = append(repos, page...)
	}
	for _, r := range []string{"demo/annotated", "demo/app", "demo/many", "demo/multi"} {
		if !slices.Contains(repos, r) {
			t.Fatalf("CatalogPages %v lacks %s", repos, r)
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(repos)))) != len(repos) {
		t.Fatalf("CatalogPages repeated an entry: %v", repos)
	}

	// Leaving the loop stops the listing before its next request; the client goes on.
	catalogRequests := func() int {
		log, err := os.ReadFile(openReg["RR_TEST_LOG"])
		noErr(t, err)
		return strings.Count(string(log), "GET /v2/_catalog")
	}
	before := catalogRequests()
	seen := 0
	for page, err := range one.CatalogPages(ctx, openReg["RR_TEST_REGISTRY"]) {
		noErr(t, err)
		seen += len(page)
		break
	}
	if seen != 1 {
		t.Fatalf("saw %d entries before the break", seen)
	}
	if n := catalogRequests() - before; n != 1 {
		t.Fatalf("%d catalog requests for one page taken", n)
	}
	// A panic in the loop body goes up as it is, after the listing stopped.
	v := catchPanic(func() {
		for range one.CatalogPages(ctx, openReg["RR_TEST_REGISTRY"]) {
			panic("loop body")
		}
	})
	if v != "loop body" {
		t.Fatalf("recovered %v", v)
	}
	if got := must[[]string](t)(one.Catalog(ctx, openReg["RR_TEST_REGISTRY"])); len(got) < 4 {
		t.Fatalf("Catalog after the stops: %v", got)
	}

	// A failure is the last value, with no page before it.
	var errs []error
	for page, err := range cl.ListPages(ctx, openReg["RR_TEST_REGISTRY"]+"/demo/nothing-here") {
		if page != nil {
			t.Fatalf("a page %v from a missing repository", page)
		}
		errs = append(errs, err)
	}
	if len(errs) != 1 {
		t.Fatalf("%d values from a missing repository", len(errs))
	}
	wantStatus(t, errs[0], rr.StatusNotFound)
	for _, err := range cl.ListPages(ctx, openReg["RR_TEST_IMAGE"]) { // has a tag
		wantStatus(t, err, rr.StatusInvalidReference)
	}
	for _, err := range cl.ListPages(ctx, "a\x00b") {
		wantStatus(t, err, rr.StatusInvalidArgument)
	}
}

func TestPutManifest(t *testing.T) {
	cl := newClient(t)
	reg := openReg["RR_TEST_REGISTRY"]
	// A repository of its own that holds demo/app's blobs (mounted).
	noErr(t, cl.Copy(ctx, openReg["RR_TEST_IMAGE"], reg+"/getters-go/put:base"))
	src := must[*rr.Image](t)(cl.Image(ctx, openReg["RR_TEST_IMAGE"]))
	defer src.Close()
	original := must[[]byte](t)(src.Manifest())
	// New bytes for the same blobs: an annotation in front, and other spacing.
	edited := append([]byte(`{ "annotations": {"org.example.put": "go"},`), original[1:]...)
	digest := digestOf(edited)

	d := must[*rr.Descriptor](t)(cl.PutManifest(ctx, reg+"/getters-go/put:edited", "", edited))
	defer d.Close()
	if d.Digest() != digest || d.Size() != uint64(len(edited)) || d.MediaType() != "application/vnd.oci.image.manifest.v1+json" {
		t.Fatalf("PutManifest gave %s %d %s", d.Digest(), d.Size(), d.MediaType())
	}
	got := must[*rr.Descriptor](t)(cl.Get(ctx, reg+"/getters-go/put:edited"))
	defer got.Close()
	if b := must[[]byte](t)(got.Manifest()); string(b) != string(edited) {
		t.Fatalf("the registry holds other bytes than those put")
	}
	img := must[*rr.Image](t)(d.Image())
	if img.Annotations()["org.example.put"] != "go" {
		t.Fatalf("annotations of the put image: %v", img.Annotations())
	}
	img.Close()
	// By digest, with the media type given.
	d2 := must[*rr.Descriptor](t)(cl.PutManifest(ctx, reg+"/getters-go/put@"+digest, "application/vnd.oci.image.manifest.v1+json", edited))
	d2.Close()

	// Refused before anything is sent.
	_, err := cl.PutManifest(ctx, reg+"/getters-go/put@"+digestOf(original), "", edited)
	wantStatus(t, err, rr.StatusInvalidArgument)
	_, err = cl.PutManifest(ctx, reg+"/getters-go/put:x", "application/vnd.oci.image.index.v1+json", edited)
	wantStatus(t, err, rr.StatusInvalidArgument)
	_, err = cl.PutManifest(ctx, reg+"/getters-go/put:x", "", []byte("not json"))
	wantStatus(t, err, rr.StatusInvalidArgument)
	_, err = cl.PutManifest(ctx, reg+"/getters-go/put:x", "", nil)
	wantStatus(t, err, rr.StatusInvalidArgument)
	_, err = cl.PutManifest(ctx, reg+"/getters-go/put", "", edited) // no tag
	wantStatus(t, err, rr.StatusInvalidReference)
	// None of them reached the registry.
	_, err = cl.Head(ctx, reg+"/getters-go/put:x")
	wantStatus(t, err, rr.StatusNotFound)
}
