package rr_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rr "github.com/rr-project/rr/go"
)

// The registries of the tests are distribution 2.8, which has no referrers API: every
// listing here goes through the fallback tag sha256-<hex> that pushes keep up to date.

const (
	sbomType      = "application/vnd.example.sbom+json"
	signatureType = "application/vnd.example.signature"
	ociEmpty      = "application/vnd.oci.empty.v1+json" // ociManifest, ociIndex: layout_oci_test.go
)

var repoSerial atomic.Int64

// unique makes name unique in this test process (the registries outlive a run of
// -count=N): "name-N".
func unique(name string) string {
	return fmt.Sprintf("%s-%d", name, repoSerial.Add(1))
}

// copySubject copies the seeded image into repo as repo:v1, the subject of a test; its
// digest reference and digest.
func copySubject(t *testing.T, cl *rr.Client, repo string) (string, string) {
	t.Helper()
	noErr(t, cl.Copy(ctx, openReg["RR_TEST_IMAGE"], repo+":v1"))
	digest := openReg["RR_TEST_IMAGE_DIGEST"]
	return repo + "@" + digest, digest
}

// buildArtifact builds an artifact of artifactType with one file, name holding content,
// the annotation com.example.name=name, and the manifest at subject as its subject.
func buildArtifact(t *testing.T, cl *rr.Client, artifactType, subject, name, content string) *rr.Image {
	t.Helper()
	// The built image reads its file when it is pushed: the directory lasts the test.
	file := filepath.Join(t.TempDir(), name)
	noErr(t, os.WriteFile(file, []byte(content), 0o644))
	b := must[*rr.ArtifactBuilder](t)(rr.NewArtifactBuilder(artifactType))
	defer b.Close()
	noErr(t, b.AddFile(file, "application/octet-stream"))
	noErr(t, b.AddAnnotation("com.example.name", name))
	noErr(t, b.SetSubjectRef(ctx, cl, subject))
	img := must[*rr.Image](t)(b.Build())
	t.Cleanup(func() { img.Close() })
	return img
}

// attach builds an artifact as buildArtifact does and pushes it by digest into repo.
func attach(t *testing.T, cl *rr.Client, repo, artifactType, subject, name, content string) *rr.Image {
	t.Helper()
	img := buildArtifact(t, cl, artifactType, subject, name, content)
	noErr(t, cl.Write(ctx, repo+"@"+img.Digest(), img))
	return img
}

// referrerDigests lists the referrers of subject (of artifactType, "" for all), sorted.
func referrerDigests(t *testing.T, cl *rr.Client, subject, artifactType string) []string {
	t.Helper()
	idx := must[*rr.Index](t)(cl.Referrers(ctx, subject, artifactType))
	defer idx.Close()
	var out []string
	for _, c := range idx.Children() {
		out = append(out, c.Digest)
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// fallbackTag is the fallback referrers tag of digest in repo.
func fallbackTag(repo, digest string) string {
	return repo + ":" + strings.Replace(digest, ":", "-", 1)
}

func TestReferrersListedAndFilteredThroughTheFallbackTag(t *testing.T) {
	cl := newClient(t)
	repo := openReg["RR_TEST_REGISTRY"] + "/gotest/" + unique("referrers-listed")
	subject, subjectDigest := copySubject(t, cl, repo)

	none := must[*rr.Index](t)(cl.Referrers(ctx, subject, ""))
	if none.ChildCount() != 0 || none.MediaType() != ociIndex {
		t.Fatalf("nothing attached yet, got %d children, %s", none.ChildCount(), none.MediaType())
	}
	none.Close()

	sbom := attach(t, cl, repo, sbomType, subject, "sbom.json", `{"sbom":1}`)
	sig := attach(t, cl, repo, signatureType, subject, "sig", "signed")

	idx := must[*rr.Index](t)(cl.Referrers(ctx, subject, ""))
	defer idx.Close()
	if idx.MediaType() != ociIndex {
		t.Fatalf("media type %s", idx.MediaType())
	}
	children := idx.Children()
	if len(children) != 2 {
		t.Fatalf("children %+v", children)
	}
	want := map[string]struct {
		img          *rr.Image
		artifactType string
		name         string
	}{
		sbom.Digest(): {sbom, sbomType, "sbom.json"},
		sig.Digest():  {sig, signatureType, "sig"},
	}
	for _, c := range children {
		w, ok := want[c.Digest]
		if !ok {
			t.Fatalf("listed %s, which was not attached (%+v)", c.Digest, children)
		}
		delete(want, c.Digest)
		manifest := must[[]byte](t)(w.img.Manifest())
		if c.ArtifactType != w.artifactType || c.MediaType != ociManifest || c.Size != uint64(len(manifest)) ||
			c.Annotations["com.example.name"] != w.name || c.PlatformSpec != nil {
			t.Fatalf("entry %+v, want artifact type %s, size %d, name %s", c, w.artifactType, len(manifest), w.name)
		}
	}
	// The index's bytes are the fallback tag's, which the pushes wrote.
	tagged := must[*rr.Descriptor](t)(cl.Get(ctx, fallbackTag(repo, subjectDigest)))
	defer tagged.Close()
	tagBytes := must[[]byte](t)(tagged.Manifest())
	idxBytes := must[[]byte](t)(idx.Manifest())
	if string(tagBytes) != string(idxBytes) || idx.Digest() != tagged.Digest() || idx.Digest() != digestOf(idxBytes) {
		t.Fatalf("the listing %s is not the fallback tag's index %s:\n%s\n%s", idx.Digest(), tagged.Digest(), idxBytes, tagBytes)
	}

	// A tag is resolved to its digest first.
	if got := referrerDigests(t, cl, repo+":v1", ""); !slices.Equal(got, sorted(sbom.Digest(), sig.Digest())) {
		t.Fatalf("by tag: %v", got)
	}
	// Filters.
	if got := referrerDigests(t, cl, subject, sbomType); !slices.Equal(got, []string{sbom.Digest()}) {
		t.Fatalf("sboms: %v", got)
	}
	sigs := must[*rr.Index](t)(cl.Referrers(ctx, subject, signatureType))
	defer sigs.Close()
	if c := sigs.Children(); len(c) != 1 || c[0].Digest != sig.Digest() || c[0].ArtifactType != signatureType {
		t.Fatalf("signatures: %+v", c)
	}
	// A filtered listing is an index rr made of the entries kept, named by its digest.
	if b := must[[]byte](t)(sigs.Manifest()); sigs.Digest() != digestOf(b) || sigs.Digest() == idx.Digest() {
		t.Fatalf("filtered index %s of %s", sigs.Digest(), b)
	}
	if got := referrerDigests(t, cl, subject, "application/vnd.example.none"); len(got) != 0 {
		t.Fatalf("none of that type: %v", got)
	}

	// A child opens as the referrer itself, its subject the subject (here through a
	// client derived for a context that can end: rr_index_with_client).
	cctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opened := must[*rr.Image](t)(sigs.ChildImage(cctx, 0))
	defer opened.Close()
	if opened.Digest() != sig.Digest() || opened.ArtifactType() != signatureType ||
		opened.SubjectDigest() != subjectDigest || opened.SubjectMediaType() == "" || opened.SubjectSize() == 0 {
		t.Fatalf("opened %s %q, subject %s %q %d", opened.Digest(), opened.ArtifactType(),
			opened.SubjectDigest(), opened.SubjectMediaType(), opened.SubjectSize())
	}
	// Its file saves under its title.
	dir := filepath.Join(t.TempDir(), "sig")
	if n, err := opened.SaveFiles(cctx, dir); err != nil || n != 1 {
		t.Fatalf("saved %d: %v", n, err)
	}
	wantFiles(t, dir, map[string]string{"sig": "signed"})
	// The subject itself has no subject.
	subj := must[*rr.Image](t)(cl.Image(ctx, subject))
	defer subj.Close()
	if subj.SubjectDigest() != "" {
		t.Fatalf("the subject has the subject %s", subj.SubjectDigest())
	}

	// A deleted referrer is no longer listed.
	noErr(t, cl.Delete(ctx, repo+"@"+sig.Digest()))
	if got := referrerDigests(t, cl, subject, ""); !slices.Equal(got, []string{sbom.Digest()}) {
		t.Fatalf("after the delete: %v", got)
	}
}

func TestReferrersOfFourClientsAttachingAtOnceAreAllListed(t *testing.T) {
	t.Run("apart", func(t *testing.T) { fourWritersAtOnce(t, "apart", false) })
	t.Run("one-client", func(t *testing.T) { fourWritersAtOnce(t, "one-client", true) })
}

// fourWritersAtOnce attaches four artifacts to one subject from four goroutines at once,
// each with a client of its own (half of them through net/http) or all with one.
func fourWritersAtOnce(t *testing.T, name string, oneClient bool) {
	setup := newClient(t)
	repo := openReg["RR_TEST_REGISTRY"] + "/gotest/" + unique("referrers-concurrent-"+name)
	subject, subjectDigest := copySubject(t, setup, repo)

	const writers = 4
	clients := make([]*rr.Client, writers)
	artifacts := make([]*rr.Image, writers)
	for i := range writers {
		switch {
		case oneClient:
			clients[i] = setup
		case i%2 == 1:
			clients[i] = newClient(t, rr.WithTransport(nil))
		default:
			clients[i] = newClient(t)
		}
		artifacts[i] = buildArtifact(t, setup, sbomType, subject, fmt.Sprintf("part%d.json", i), fmt.Sprintf(`{"part":%d}`, i))
	}
	start := make(chan struct{})
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = clients[i].Write(ctx, repo+"@"+artifacts[i].Digest(), artifacts[i])
		}()
	}
	close(start)
	wg.Wait()
	var want []string
	for i, err := range errs {
		noErr(t, err)
		want = append(want, artifacts[i].Digest())
	}
	slices.Sort(want)
	if got := referrerDigests(t, setup, subject, ""); !slices.Equal(got, want) {
		t.Fatalf("listed %v, attached %v", got, want)
	}
	// And the fallback tag lists them all itself.
	d := must[*rr.Descriptor](t)(setup.Get(ctx, fallbackTag(repo, subjectDigest)))
	defer d.Close()
	var index struct {
		Manifests []struct{ Digest string }
	}
	noErr(t, json.Unmarshal(must[[]byte](t)(d.Manifest()), &index))
	var tagged []string
	for _, m := range index.Manifests {
		tagged = append(tagged, m.Digest)
	}
	slices.Sort(tagged)
	if !slices.Equal(tagged, want) {
		t.Fatalf("the fallback tag lists %v, attached %v", tagged, want)
	}
}

// wantSameManifest fails unless ref's manifest has digest digest.
func wantSameManifest(t *testing.T, cl *rr.Client, ref, digest string) {
	t.Helper()
	d := must[*rr.Descriptor](t)(cl.Get(ctx, ref))
	defer d.Close()
	if got := digestOf(must[[]byte](t)(d.Manifest())); got != digest || d.Digest() != digest {
		t.Fatalf("%s: manifest of digest %s (said %s), want %s", ref, got, d.Digest(), digest)
	}
}

func TestCopyWithReferrersBringsSignaturesOfArtifactsAlong(t *testing.T) {
	tokenHost := tokenReg["RR_TEST_REGISTRY"]
	// One client for both registries: the open one needs nothing, the token one the pusher.
	cl := newClient(t, rr.WithBasicAuth(tokenHost, "pusher", "pusher-pw"))
	repo := openReg["RR_TEST_REGISTRY"] + "/gotest/" + unique("referrers-copy-src")
	subject, subjectDigest := copySubject(t, cl, repo)
	sbom := attach(t, cl, repo, sbomType, subject, "sbom.json", `{"sbom":"copied"}`)
	sig := attach(t, cl, repo, signatureType, subject, "sig", "subject signature")
	// A signature of the SBOM: a referrer of a referrer.
	sbomSig := attach(t, cl, repo, signatureType, repo+"@"+sbom.Digest(), "sig", "sbom signature")

	for _, dstRepo := range []string{
		openReg["RR_TEST_REGISTRY"] + "/gotest/" + unique("referrers-copy-dst"), // another repository (mounts)
		tokenHost + "/gotest/" + unique("referrers-copy-dst"),                   // another registry
	} {
		t.Run(strings.SplitN(dstRepo, "/", 2)[0], func(t *testing.T) {
			noErr(t, cl.CopyWithReferrers(ctx, repo+":v1", dstRepo+":v1"))
			wantSameManifest(t, cl, dstRepo+":v1", subjectDigest)
			for _, d := range []string{subjectDigest, sbom.Digest(), sig.Digest(), sbomSig.Digest()} {
				wantSameManifest(t, cl, dstRepo+"@"+d, d)
			}
			dstSubject := dstRepo + "@" + subjectDigest
			check := func() {
				t.Helper()
				if got := referrerDigests(t, cl, dstSubject, ""); !slices.Equal(got, sorted(sbom.Digest(), sig.Digest())) {
					t.Fatalf("referrers of the copied subject: %v", got)
				}
				if got := referrerDigests(t, cl, dstRepo+"@"+sbom.Digest(), ""); !slices.Equal(got, []string{sbomSig.Digest()}) {
					t.Fatalf("referrers of the copied SBOM: %v", got)
				}
			}
			check()
			// Listed under the fallback tag of the destination.
			tag := must[*rr.Descriptor](t)(cl.Head(ctx, fallbackTag(dstRepo, subjectDigest)))
			if tag.MediaType() != ociIndex {
				t.Fatalf("the fallback tag at the destination holds %s", tag.MediaType())
			}
			tag.Close()
			// The copied signature of the SBOM reads as one.
			img := must[*rr.Image](t)(cl.Image(ctx, dstRepo+"@"+sbomSig.Digest()))
			defer img.Close()
			if img.SubjectDigest() != sbom.Digest() || img.ArtifactType() != signatureType {
				t.Fatalf("copied signature: subject %s, type %s", img.SubjectDigest(), img.ArtifactType())
			}
			// Copied again, nothing changes.
			noErr(t, cl.CopyWithReferrers(ctx, repo+":v1", dstRepo+":v1"))
			check()
		})
	}
}

func TestSaveFilesWritesEachFileUnderItsTitle(t *testing.T) {
	cl := newClient(t)
	src := t.TempDir()
	sbomFile, notesFile := filepath.Join(src, "sbom.json"), filepath.Join(src, "NOTES.txt")
	noErr(t, os.WriteFile(sbomFile, []byte(`{"sbom":true}`), 0o644))
	noErr(t, os.WriteFile(notesFile, []byte("notes\n"), 0o644))
	b := must[*rr.ArtifactBuilder](t)(rr.NewArtifactBuilder(sbomType))
	defer b.Close()
	noErr(t, b.AddFile(sbomFile, "application/json"))
	noErr(t, b.AddFile(notesFile, "text/plain"))
	built := must[*rr.Image](t)(b.Build())
	defer built.Close()
	ref := openReg["RR_TEST_REGISTRY"] + "/gotest/" + unique("referrers-files") + ":v1"
	noErr(t, cl.Write(ctx, ref, built))

	img := must[*rr.Image](t)(cl.Image(ctx, ref))
	defer img.Close()
	out := t.TempDir()
	dir := filepath.Join(out, "new", "nested", "dir")
	n, err := img.SaveFiles(ctx, dir)
	noErr(t, err)
	if n != 2 {
		t.Fatalf("saved %d files", n)
	}
	wantFiles(t, dir, map[string]string{"sbom.json": `{"sbom":true}`, "NOTES.txt": "notes\n"})

	// Again, over a changed file: replaced, and nothing else left.
	noErr(t, os.WriteFile(filepath.Join(dir, "sbom.json"), []byte("changed"), 0o644))
	cctx, cancel := context.WithCancel(context.Background()) // through a derived client
	defer cancel()
	n, err = img.SaveFiles(cctx, dir)
	noErr(t, err)
	if n != 2 {
		t.Fatalf("saved %d files the second time", n)
	}
	wantFiles(t, dir, map[string]string{"sbom.json": `{"sbom":true}`, "NOTES.txt": "notes\n"})

	// A built artifact saves from its files; an image without titles saves nothing.
	fromBuilt := filepath.Join(out, "built")
	if n, err := built.SaveFiles(ctx, fromBuilt); err != nil || n != 2 {
		t.Fatalf("built: %d %v", n, err)
	}
	wantFiles(t, fromBuilt, map[string]string{"sbom.json": `{"sbom":true}`, "NOTES.txt": "notes\n"})
	plain := must[*rr.Image](t)(cl.Image(ctx, openReg["RR_TEST_IMAGE"]))
	defer plain.Close()
	untitled := filepath.Join(out, "untitled")
	if n, err := plain.SaveFiles(ctx, untitled); err != nil || n != 0 {
		t.Fatalf("an image without titles: %d %v", n, err)
	}
	wantFiles(t, untitled, map[string]string{})
}

// wantFiles fails unless dir holds exactly the files of want (name: content).
func wantFiles(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	noErr(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	var wantNames []string
	for name, content := range want {
		wantNames = append(wantNames, name)
		b, err := os.ReadFile(filepath.Join(dir, name))
		noErr(t, err)
		if string(b) != content {
			t.Fatalf("%s holds %q, want %q", name, b, content)
		}
	}
	slices.Sort(wantNames)
	if !slices.Equal(names, wantNames) {
		t.Fatalf("%s holds %v, want %v", dir, names, wantNames)
	}
}

func TestSaveFilesRefusesHostileTitlesAndWritesNothing(t *testing.T) {
	cl := newClient(t)
	repo := openReg["RR_TEST_REGISTRY"] + "/gotest/" + unique("referrers-hostile")
	blob := func(content string) string {
		d, _ := must2(t)(cl.WriteBlob(ctx, repo, strings.NewReader(content)))
		if d != digestOf([]byte(content)) {
			t.Fatalf("blob %q: %s", content, d)
		}
		return d
	}
	good, evil, empty := blob("good"), blob("evil"), blob("{}")
	layer := func(digest, title string) map[string]any {
		return map[string]any{"mediaType": "text/plain", "digest": digest, "size": 4,
			"annotations": map[string]string{"org.opencontainers.image.title": title}}
	}
	for _, title := range []string{"../../x", "/etc/x", "..", ".", "a/b", `..\x`, "x\x00y", "", "good.txt"} {
		t.Run(title, func(t *testing.T) {
			// "good.txt": two layers with one title.
			manifest, err := json.Marshal(map[string]any{
				"schemaVersion": 2,
				"mediaType":     ociManifest,
				"artifactType":  sbomType,
				"config":        map[string]any{"mediaType": ociEmpty, "digest": empty, "size": 2},
				"layers":        []any{layer(good, "good.txt"), layer(evil, title)},
			})
			noErr(t, err)
			ref := repo + ":t"
			d := must[*rr.Descriptor](t)(cl.PutManifest(ctx, ref, "", manifest))
			d.Close()
			img := must[*rr.Image](t)(cl.Image(ctx, ref))
			defer img.Close()
			if img.Digest() != digestOf(manifest) {
				t.Fatalf("opened %s, put %s", img.Digest(), digestOf(manifest))
			}
			out := t.TempDir()
			dir := filepath.Join(out, "a", "b", "c")
			n, err := img.SaveFiles(ctx, dir)
			if !errors.Is(err, rr.StatusInvalidResponse) || n != 0 {
				t.Fatalf("%q: %d, %v", title, n, err)
			}
			e := wantStatus(t, err, rr.StatusInvalidResponse)
			if !strings.Contains(e.Message, "refused as a file name") && !strings.Contains(e.Message, "two layers have the title") {
				t.Fatalf("message: %s", e.Message)
			}
			// Nothing at all was made: not the directory, not x beside or above it.
			var made []string
			noErr(t, filepath.WalkDir(out, func(p string, _ fs.DirEntry, err error) error {
				if p != out {
					made = append(made, p)
				}
				return err
			}))
			if len(made) != 0 {
				t.Fatalf("%q: written %v", title, made)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(out), "x")); err == nil {
				t.Fatalf("%q: x written beside the test's directory", title)
			}
		})
	}
}

// stallingPath serves the open registry through a proxy that answers nothing to the
// requests whose path contains part, until the client goes away; the proxy's host and
// how many requests stalled.
func stallingPath(t *testing.T, part string) (string, *atomic.Int32) {
	t.Helper()
	target, err := url.Parse("http://" + openReg["RR_TEST_REGISTRY"])
	noErr(t, err)
	rp := httputil.NewSingleHostReverseProxy(target)
	var stalled atomic.Int32
	quit := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, part) {
			stalled.Add(1)
			select {
			case <-r.Context().Done():
			case <-quit:
			}
			panic(http.ErrAbortHandler) // the connection closes without an answer
		}
		rp.ServeHTTP(w, r)
	}))
	// librr's worker abandoned by a cancelled call is still reading its stalled socket;
	// when the connection closes, ureq sends that bodyless GET once more on a new
	// connection (a retry of a recycled connection), after the call has returned: quit
	// ends those at once too.
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(quit) })
	return strings.TrimPrefix(srv.URL, "http://"), &stalled
}

func TestReferrersEndWithTheirContext(t *testing.T) {
	cl := newClient(t)
	subject := openReg["RR_TEST_REGISTRY"] + "/gotest/referrers-cancel@" + openReg["RR_TEST_IMAGE_DIGEST"]

	// Already cancelled: no request.
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := cl.Referrers(cancelled, subject, "")
	if !errors.Is(err, context.Canceled) || !errors.Is(err, rr.StatusCancelled) {
		t.Fatalf("a cancelled context: %v", err)
	}

	// Cancelled while the registry says nothing: the referrers API's answer stalls.
	host, stalled := stallingPath(t, "/referrers/")
	ref := strings.Replace(subject, openReg["RR_TEST_REGISTRY"], host, 1)
	cctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		idx, err := cl.Referrers(cctx, ref, "")
		if idx != nil {
			idx.Close()
		}
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for stalled.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if stalled.Load() == 0 {
		t.Fatal("the referrers API was never asked")
	}
	time.Sleep(100 * time.Millisecond)
	at := time.Now()
	cancel()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Referrers did not end after the cancel")
	}
	latency := time.Since(at)
	t.Logf("Referrers returned %v after the cancel: %v", latency, err)
	if !errors.Is(err, context.Canceled) || rr.StatusOf(err) != rr.StatusCancelled {
		t.Fatalf("want context.Canceled and StatusCancelled, got %v", err)
	}
	var rrErr *rr.Error
	if !errors.As(err, &rrErr) || rrErr.Status != rr.StatusCancelled {
		t.Fatalf("no *rr.Error in %v", err)
	}
	if latency > 500*time.Millisecond {
		t.Fatalf("took %v", latency)
	}

	// A deadline ends a copy with referrers the same way.
	dctx, dcancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer dcancel()
	src := strings.Replace(openReg["RR_TEST_IMAGE"], openReg["RR_TEST_REGISTRY"], host, 1)
	err = cl.CopyWithReferrers(dctx, src, host+"/gotest/"+unique("referrers-cancel-dst")+":v1")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want context.DeadlineExceeded, got %v", err)
	}
}

func TestReferrersBadInput(t *testing.T) {
	cl := newClient(t)
	subject := openReg["RR_TEST_IMAGE"]
	_, err := cl.Referrers(ctx, subject, "not a type")
	wantStatus(t, err, rr.StatusInvalidArgument)
	_, err = cl.Referrers(ctx, subject, "application/x\x00y")
	wantStatus(t, err, rr.StatusInvalidArgument)
	_, err = cl.Referrers(ctx, "not a reference!", "")
	wantStatus(t, err, rr.StatusInvalidReference)
	_, err = cl.Referrers(ctx, openReg["RR_TEST_REGISTRY"]+"/gotest/referrers-absent:nope", "")
	wantStatus(t, err, rr.StatusNotFound)
	var nilClient *rr.Client
	_, err = nilClient.Referrers(ctx, subject, "")
	wantStatus(t, err, rr.StatusInvalidArgument)

	err = cl.CopyWithReferrers(ctx, subject, "not a reference!")
	wantStatus(t, err, rr.StatusInvalidReference)
	err = cl.CopyWithReferrers(ctx, openReg["RR_TEST_REGISTRY"]+"/gotest/referrers-absent:nope", openReg["RR_TEST_REGISTRY"]+"/gotest/referrers-absent-dst:v1")
	wantStatus(t, err, rr.StatusNotFound)
	err = nilClient.CopyWithReferrers(ctx, subject, subject)
	wantStatus(t, err, rr.StatusInvalidArgument)

	var nilImage *rr.Image
	_, err = nilImage.SaveFiles(ctx, t.TempDir())
	wantStatus(t, err, rr.StatusInvalidArgument)
	img := must[*rr.Image](t)(cl.Image(ctx, subject))
	_, err = img.SaveFiles(ctx, "a\x00b")
	wantStatus(t, err, rr.StatusInvalidArgument)
	noErr(t, img.Close())
	_, err = img.SaveFiles(ctx, t.TempDir())
	wantStatus(t, err, rr.StatusInvalidArgument)
}

func TestSaveFilesEndsWithItsContextAndLeavesNoFile(t *testing.T) {
	cl := newClient(t)
	ref := openReg["RR_TEST_REGISTRY"] + "/gotest/" + unique("referrers-files-cancel") + ":v1"
	src := t.TempDir()
	file := filepath.Join(src, "big.bin")
	noErr(t, os.WriteFile(file, make([]byte, 1<<20), 0o644))
	b := must[*rr.ArtifactBuilder](t)(rr.NewArtifactBuilder(sbomType))
	defer b.Close()
	noErr(t, b.AddFile(file, "application/octet-stream"))
	built := must[*rr.Image](t)(b.Build())
	defer built.Close()
	noErr(t, cl.Write(ctx, ref, built))

	// Opened through a proxy whose blobs never come.
	host, stalled := stallingPath(t, "/blobs/")
	img := must[*rr.Image](t)(cl.Image(ctx, strings.Replace(ref, openReg["RR_TEST_REGISTRY"], host, 1)))
	defer img.Close()
	dir := filepath.Join(t.TempDir(), "out")
	cctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := img.SaveFiles(cctx, dir); done <- err }()
	deadline := time.Now().Add(10 * time.Second)
	for stalled.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if stalled.Load() == 0 {
		t.Fatal("the blob was never asked for")
	}
	at := time.Now()
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("SaveFiles did not end after the cancel")
	}
	t.Logf("SaveFiles returned %v after the cancel: %v", time.Since(at), err)
	if !errors.Is(err, context.Canceled) || rr.StatusOf(err) != rr.StatusCancelled {
		t.Fatalf("want context.Canceled and StatusCancelled, got %v", err)
	}
	if time.Since(at) > 500*time.Millisecond {
		t.Fatalf("took %v", time.Since(at))
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
	// A deadline the same way.
	dctx, dcancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer dcancel()
	if n, err := img.SaveFiles(dctx, dir); !errors.Is(err, context.DeadlineExceeded) || n != 0 {
		t.Fatalf("want context.DeadlineExceeded, got %d, %v", n, err)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
}
