package rr_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	rr "github.com/rr-project/rr/go"
)

const (
	dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	dockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	ociManifest    = "application/vnd.oci.image.manifest.v1+json"
	ociIndex       = "application/vnd.oci.image.index.v1+json"
	ociConfig      = "application/vnd.oci.image.config.v1+json"
	ociLayerGzip   = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// skopeo runs `skopeo --insecure-policy ARGS...` (without the host's REGISTRY_AUTH_FILE)
// and returns its stdout, failing the test with its stderr when it fails.
func skopeo(t testing.TB, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("skopeo", append([]string{"--insecure-policy", "--command-timeout", "120s"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REGISTRY_AUTH_FILE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// copyAsDocker copies src to dst (both in the open registry) as Docker schema 2.
func copyAsDocker(t testing.TB, src, dst string, all bool) {
	t.Helper()
	args := []string{"copy", "--retry-times=0", "--format", "v2s2", "--src-tls-verify=false", "--dest-tls-verify=false", "--src-no-creds", "--dest-no-creds"}
	if all {
		args = append(args, "--all")
	}
	skopeo(t, append(args, "docker://"+src, "docker://"+dst)...)
}

// layoutEntry is the only entry of the layout's index.json.
func layoutEntry(t testing.TB, dir string) (mediaType, digest string) {
	t.Helper()
	var index struct {
		Manifests []struct {
			MediaType string `json:"mediaType"`
			Digest    string `json:"digest"`
		} `json:"manifests"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	noErr(t, err)
	if err := json.Unmarshal(b, &index); err != nil || len(index.Manifests) != 1 {
		t.Fatalf("index.json of %s: %v\n%s", dir, err, b)
	}
	return index.Manifests[0].MediaType, index.Manifests[0].Digest
}

func TestDockerImageToOCILayout(t *testing.T) {
	cl := newClient(t)
	reg := openReg["RR_TEST_REGISTRY"]
	dockerRef := reg + "/gotest/docker:v1"
	copyAsDocker(t, openReg["RR_TEST_IMAGE"], dockerRef, false)

	docker := must[*rr.Image](t)(cl.Image(ctx, dockerRef))
	defer docker.Close()
	if docker.MediaType() != dockerManifest {
		t.Fatalf("skopeo pushed %s", docker.MediaType())
	}
	oci := must[*rr.Image](t)(docker.ToOCI())
	defer oci.Close()
	manifest := must[[]byte](t)(oci.Manifest())
	if oci.MediaType() != ociManifest || oci.Digest() != digestOf(manifest) || oci.Digest() == docker.Digest() {
		t.Fatalf("converted: %s %s (from %s)", oci.MediaType(), oci.Digest(), docker.Digest())
	}
	m, orig := parseManifest(t, manifest), parseManifest(t, must[[]byte](t)(docker.Manifest()))
	if m.MediaType != ociManifest || m.Config.Digest != orig.Config.Digest {
		t.Fatalf("converted manifest %+v, original %+v", m, orig)
	}
	var config struct {
		Config struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
	}
	noErr(t, json.Unmarshal(manifest, &config))
	if config.Config.MediaType != ociConfig {
		t.Fatalf("config media type %s", config.Config.MediaType)
	}
	layers, origLayers := oci.Layers(), docker.Layers()
	if len(layers) != len(origLayers) || len(layers) == 0 {
		t.Fatalf("layers %+v, original %+v", layers, origLayers)
	}
	for i, l := range layers {
		if l.MediaType != ociLayerGzip || l.Digest != origLayers[i].Digest || l.Size != origLayers[i].Size {
			t.Fatalf("layer %d: %+v, original %+v", i, l, origLayers[i])
		}
	}
	if string(must[[]byte](t)(oci.Config(ctx))) != string(must[[]byte](t)(docker.Config(ctx))) {
		t.Fatal("the config blob changed")
	}
	verifyLayer(t, oci, 0)
	// An OCI image comes back unchanged.
	again := must[*rr.Image](t)(oci.ToOCI())
	defer again.Close()
	if again.Digest() != oci.Digest() {
		t.Fatalf("converting again gave %s", again.Digest())
	}

	// Into a layout: an OCI entry skopeo reads by name.
	dir := t.TempDir()
	noErr(t, cl.WriteLayout(ctx, dir, oci, "v1"))
	if mt, d := layoutEntry(t, dir); mt != ociManifest || d != oci.Digest() {
		t.Fatalf("index.json entry %s %s", mt, d)
	}
	if raw := skopeo(t, "inspect", "--raw", "oci:"+dir+":v1"); string(raw) != string(manifest) {
		t.Fatalf("skopeo read oci:%s:v1 as\n%s", dir, raw)
	}

	// Back to the registry from the layout, with the converted digest.
	back := must[*rr.Image](t)(rr.ReadLayoutImage(dir, "v1"))
	defer back.Close()
	noErr(t, cl.Write(ctx, reg+"/gotest/docker-oci:v1", back))
	head := must[*rr.Descriptor](t)(cl.Head(ctx, reg+"/gotest/docker-oci:v1"))
	defer head.Close()
	if head.Digest() != oci.Digest() {
		t.Fatalf("pushed %s, want %s", head.Digest(), oci.Digest())
	}

	_, err := (*rr.Image)(nil).ToOCI()
	wantStatus(t, err, rr.StatusInvalidArgument)
}

func TestDockerListToOCILayout(t *testing.T) {
	cl := newClient(t)
	reg := openReg["RR_TEST_REGISTRY"]
	listRef := reg + "/gotest/docker-list:v1"
	copyAsDocker(t, openReg["RR_TEST_INDEX"], listRef, true)

	list := must[*rr.Index](t)(cl.Index(ctx, listRef))
	defer list.Close()
	if list.MediaType() != dockerList {
		t.Fatalf("skopeo pushed %s", list.MediaType())
	}
	oci := must[*rr.Index](t)(list.ToOCI(ctx))
	defer oci.Close()
	if oci.MediaType() != ociIndex || oci.Digest() == list.Digest() ||
		oci.Digest() != digestOf(must[[]byte](t)(oci.Manifest())) {
		t.Fatalf("converted: %s %s", oci.MediaType(), oci.Digest())
	}
	children, orig := oci.Children(), list.Children()
	if len(children) != len(orig) || len(children) == 0 {
		t.Fatalf("children %+v, original %+v", children, orig)
	}
	for i, c := range children {
		if c.MediaType != ociManifest || c.Platform != orig[i].Platform {
			t.Fatalf("child %d: %+v, original %+v", i, c, orig[i])
		}
		img := must[*rr.Image](t)(oci.ChildImage(ctx, i))
		origImg := must[*rr.Image](t)(list.ChildImage(ctx, i))
		if img.Digest() != c.Digest || img.MediaType() != ociManifest || img.Layers()[0].Digest != origImg.Layers()[0].Digest {
			t.Fatalf("child %d: %s %s, layers %+v, original layers %+v", i, img.Digest(), img.MediaType(), img.Layers(), origImg.Layers())
		}
		img.Close()
		origImg.Close()
	}

	dir := t.TempDir()
	noErr(t, cl.WriteLayoutIndex(ctx, dir, oci, "all"))
	if mt, d := layoutEntry(t, dir); mt != ociIndex || d != oci.Digest() {
		t.Fatalf("index.json entry %s %s", mt, d)
	}
	var raw struct {
		MediaType string `json:"mediaType"`
		Manifests []struct {
			MediaType string `json:"mediaType"`
		} `json:"manifests"`
	}
	noErr(t, json.Unmarshal(skopeo(t, "inspect", "--raw", "oci:"+dir+":all"), &raw))
	if raw.MediaType != ociIndex || len(raw.Manifests) != len(children) || raw.Manifests[0].MediaType != ociManifest {
		t.Fatalf("skopeo read oci:%s:all as %+v", dir, raw)
	}

	noErr(t, cl.WriteIndex(ctx, reg+"/gotest/docker-list-oci:v1", oci))
	head := must[*rr.Descriptor](t)(cl.Head(ctx, reg+"/gotest/docker-list-oci:v1"))
	defer head.Close()
	if head.Digest() != oci.Digest() || head.MediaType() != ociIndex {
		t.Fatalf("pushed %s (%s), want %s", head.Digest(), head.MediaType(), oci.Digest())
	}

	_, err := (*rr.Index)(nil).ToOCI(ctx)
	wantStatus(t, err, rr.StatusInvalidArgument)
}
