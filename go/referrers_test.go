package rr_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	rr "github.com/rr-project/rr/go"
)

const (
	sbomType = "application/spdx+json"
	sigType  = "application/vnd.example.signature"
)

// attachTo pushes, by digest into repo, an artifact of artifactType whose subject is ref,
// with one file name holding content; its digest.
func attachTo(t *testing.T, cl *rr.Client, repo, ref, artifactType, name, content string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), name)
	noErr(t, os.WriteFile(file, []byte(content), 0o644))
	b := must[*rr.ArtifactBuilder](t)(rr.NewArtifactBuilder(artifactType))
	defer b.Close()
	noErr(t, b.AddFile(file, "text/plain"))
	noErr(t, b.SetSubjectRef(ctx, cl, ref))
	img := must[*rr.Image](t)(b.Build())
	defer img.Close()
	noErr(t, cl.Write(ctx, repo+"@"+img.Digest(), img))
	return img.Digest()
}

// referrersOf lists the referrers of ref: digest -> artifact type.
func referrersOf(t *testing.T, cl *rr.Client, ref, artifactType string) map[string]string {
	t.Helper()
	idx := must[*rr.Index](t)(cl.Referrers(ctx, ref, artifactType))
	defer idx.Close()
	out := map[string]string{}
	for _, c := range idx.Children() {
		out[c.Digest] = c.ArtifactType
	}
	return out
}

// subjectIn copies the fixture's image into repo:v1; its reference by digest.
func subjectIn(t *testing.T, cl *rr.Client, repo string) string {
	t.Helper()
	noErr(t, cl.Copy(ctx, openReg["RR_TEST_IMAGE"], repo+":v1"))
	return repo + "@" + openReg["RR_TEST_IMAGE_DIGEST"]
}

func TestReferrersListFilterAndOpen(t *testing.T) {
	cl := newClient(t)
	repo := openReg["RR_TEST_REGISTRY"] + "/gotest/referrers-list"
	subject := subjectIn(t, cl, repo)
	sbom := attachTo(t, cl, repo, subject, sbomType, "sbom.json", `{"sbom":1}`)
	sig := attachTo(t, cl, repo, subject, sigType, "sig.txt", "signed")

	all := referrersOf(t, cl, repo+":v1", "")
	if len(all) != 2 || all[sbom] != sbomType || all[sig] != sigType {
		t.Fatalf("referrers %v", all)
	}
	if only := referrersOf(t, cl, subject, sigType); len(only) != 1 || only[sig] != sigType {
		t.Fatalf("filtered %v", only)
	}
	idx := must[*rr.Index](t)(cl.Referrers(ctx, subject, sbomType))
	defer idx.Close()
	img := must[*rr.Image](t)(idx.ChildImage(ctx, 0))
	defer img.Close()
	if img.Digest() != sbom || img.SubjectDigest() != openReg["RR_TEST_IMAGE_DIGEST"] {
		t.Fatalf("opened %s with subject %s", img.Digest(), img.SubjectDigest())
	}
	if idx.MediaType() != "application/vnd.oci.image.index.v1+json" {
		t.Fatalf("media type %s", idx.MediaType())
	}

	_, err := cl.Referrers(ctx, subject, "not a type")
	wantStatus(t, err, rr.StatusInvalidArgument)
	_, err = cl.Referrers(ctx, "UPPER/case:v1", "")
	wantStatus(t, err, rr.StatusInvalidReference)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = cl.Referrers(cancelled, subject, "")
	if !errors.Is(err, context.Canceled) || rr.StatusOf(err) != rr.StatusCancelled {
		t.Fatalf("want context.Canceled and StatusCancelled, got %v", err)
	}
}

func TestReferrersFourClientsAttachingAtOnce(t *testing.T) {
	setup := newClient(t)
	repo := openReg["RR_TEST_REGISTRY"] + "/gotest/referrers-concurrent"
	subject := subjectIn(t, setup, repo)
	var mu sync.Mutex
	var wg sync.WaitGroup
	pushed := map[string]bool{}
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			d := attachTo(t, newClient(t), repo, subject, sbomType, fmt.Sprintf("part%d.json", i), fmt.Sprintf(`{"part":%d}`, i))
			mu.Lock()
			pushed[d] = true
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	listed := referrersOf(t, setup, subject, "")
	if len(listed) != 4 || len(pushed) != 4 {
		t.Fatalf("pushed %v, listed %v", pushed, listed)
	}
	for d := range pushed {
		if _, ok := listed[d]; !ok {
			t.Fatalf("%s is not listed: %v", d, listed)
		}
	}
}

func TestCopyWithReferrers(t *testing.T) {
	cl := newClient(t)
	reg := openReg["RR_TEST_REGISTRY"]
	src := reg + "/gotest/referrers-copy-src"
	subject := subjectIn(t, cl, src)
	sbom := attachTo(t, cl, src, subject, sbomType, "sbom.json", `{"copied":true}`)
	sig := attachTo(t, cl, src, src+"@"+sbom, sigType, "sig.txt", "signature of the sbom")

	dst := reg + "/gotest/referrers-copy-dst"
	noErr(t, cl.CopyWithReferrers(ctx, src+":v1", dst+":v1"))
	for _, d := range []string{openReg["RR_TEST_IMAGE_DIGEST"], sbom, sig} {
		got := must[*rr.Descriptor](t)(cl.Head(ctx, dst+"@"+d))
		if got.Digest() != d {
			t.Fatalf("copied %s as %s", d, got.Digest())
		}
	}
	if l := referrersOf(t, cl, dst+":v1", ""); len(l) != 1 || l[sbom] != sbomType {
		t.Fatalf("the copy's referrers: %v", l)
	}
	if l := referrersOf(t, cl, dst+"@"+sbom, ""); len(l) != 1 || l[sig] != sigType {
		t.Fatalf("the copied SBOM's referrers: %v", l)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := cl.CopyWithReferrers(cancelled, src+":v1", dst+":v2"); !errors.Is(err, context.Canceled) || rr.StatusOf(err) != rr.StatusCancelled {
		t.Fatalf("want context.Canceled and StatusCancelled, got %v", err)
	}
	wantStatus(t, cl.CopyWithReferrers(ctx, "UPPER/x:v1", dst+":v3"), rr.StatusInvalidReference)
}

func TestSaveFilesUnderTheirTitles(t *testing.T) {
	cl := newClient(t)
	repo := openReg["RR_TEST_REGISTRY"] + "/gotest/referrers-files"
	subject := subjectIn(t, cl, repo)
	sbom := attachTo(t, cl, repo, subject, sbomType, "sbom.json", `{"saved":true}`)
	img := must[*rr.Image](t)(cl.Image(ctx, repo+"@"+sbom))
	defer img.Close()
	dir := filepath.Join(t.TempDir(), "new", "dir")
	n := must[int](t)(img.SaveFiles(ctx, dir))
	if n != 1 {
		t.Fatalf("%d files saved", n)
	}
	got := must[[]byte](t)(os.ReadFile(filepath.Join(dir, "sbom.json")))
	if string(got) != `{"saved":true}` {
		t.Fatalf("saved %q", got)
	}
	entries := must[[]os.DirEntry](t)(os.ReadDir(dir))
	if len(entries) != 1 {
		t.Fatalf("the directory holds %v", entries)
	}
}

func TestSaveFilesRefusesHostileTitles(t *testing.T) {
	cl := newClient(t)
	repo := openReg["RR_TEST_REGISTRY"] + "/gotest/referrers-hostile"
	blob, _ := must2(t)(cl.WriteBlob(ctx, repo, strings.NewReader("evil")))
	empty, _ := must2(t)(cl.WriteBlob(ctx, repo, strings.NewReader("{}")))
	for _, title := range []string{"../../x", "/etc/x", "..", "a/b", ""} {
		manifest := map[string]any{
			"schemaVersion": 2,
			"mediaType":     "application/vnd.oci.image.manifest.v1+json",
			"artifactType":  sigType,
			"config":        map[string]any{"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
			"layers": []any{map[string]any{
				"mediaType": "text/plain", "digest": blob, "size": 4,
				"annotations": map[string]string{"org.opencontainers.image.title": title},
			}},
		}
		bytes := must[[]byte](t)(json.Marshal(manifest))
		d := must[*rr.Descriptor](t)(cl.PutManifest(ctx, repo+":t", "", bytes))
		d.Close()
		img := must[*rr.Image](t)(cl.Image(ctx, repo+":t"))
		root := t.TempDir()
		_, err := img.SaveFiles(ctx, filepath.Join(root, "a", "b"))
		img.Close()
		e := wantStatus(t, err, rr.StatusInvalidResponse)
		if !strings.Contains(e.Message, "refused as a file name") {
			t.Fatalf("%q: %s", title, e.Message)
		}
		var written []string
		noErr(t, filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
			if p != root {
				written = append(written, p)
			}
			return err
		}))
		sort.Strings(written)
		if len(written) != 0 {
			t.Fatalf("%q: written %v", title, written)
		}
	}
	var nilImage *rr.Image
	_, err := nilImage.SaveFiles(ctx, t.TempDir())
	wantStatus(t, err, rr.StatusInvalidArgument)
}
