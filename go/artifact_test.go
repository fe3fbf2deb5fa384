package rr_test

import (
	"os"
	"path/filepath"
	"testing"

	rr "github.com/rr-project/rr/go"
)

func TestArtifactBuildPushAndReadBack(t *testing.T) {
	cl := newClient(t)
	reg, subject := openReg["RR_TEST_REGISTRY"], openReg["RR_TEST_IMAGE"]
	dir := t.TempDir()
	file := filepath.Join(dir, "sbom.spdx.json")
	noErr(t, os.WriteFile(file, []byte(`{"spdxVersion":"SPDX-2.3"}`), 0o644))

	b := must[*rr.ArtifactBuilder](t)(rr.NewArtifactBuilder("application/vnd.example.sbom+json"))
	defer b.Close()
	noErr(t, b.AddFile(file, "application/spdx+json"))
	noErr(t, b.AddAnnotation("com.example.tool", "rr"))
	noErr(t, b.SetSubjectRef(ctx, cl, subject))
	built := must[*rr.Image](t)(b.Build())
	defer built.Close()
	noErr(t, b.Close())

	dst := reg + "/gotest/artifact:sbom"
	noErr(t, cl.Write(ctx, dst, built))
	img := must[*rr.Image](t)(cl.Image(ctx, dst))
	defer img.Close()
	if img.Digest() != built.Digest() || img.ArtifactType() != "application/vnd.example.sbom+json" {
		t.Fatalf("read back %s %q, built %s", img.Digest(), img.ArtifactType(), built.Digest())
	}
	if img.SubjectDigest() != openReg["RR_TEST_IMAGE_DIGEST"] || img.SubjectSize() == 0 || img.SubjectMediaType() == "" {
		t.Fatalf("subject %s %q %d", img.SubjectDigest(), img.SubjectMediaType(), img.SubjectSize())
	}
	if img.ConfigMediaType() != "application/vnd.oci.empty.v1+json" || img.ConfigSize() != 2 {
		t.Fatalf("config %s %d", img.ConfigMediaType(), img.ConfigSize())
	}
	layers := img.Layers()
	if len(layers) != 1 || layers[0].MediaType != "application/spdx+json" ||
		layers[0].Annotations["org.opencontainers.image.title"] != "sbom.spdx.json" {
		t.Fatalf("layers %+v", layers)
	}
	if img.Annotations()["com.example.tool"] != "rr" {
		t.Fatalf("annotations %v", img.Annotations())
	}
}

func TestArtifactBadInput(t *testing.T) {
	_, err := rr.NewArtifactBuilder("not a type")
	wantStatus(t, err, rr.StatusInvalidArgument)

	b := must[*rr.ArtifactBuilder](t)(rr.NewArtifactBuilder("application/vnd.example.marker"))
	defer b.Close()
	wantStatus(t, b.AddFile("x", "text"), rr.StatusInvalidArgument)
	wantStatus(t, b.AddAnnotation("", "v"), rr.StatusInvalidArgument)
	wantStatus(t, b.SetSubject("application/vnd.oci.image.manifest.v1+json", "sha256:nope", 1), rr.StatusInvalidArgument)
	wantStatus(t, b.SetSubjectRef(ctx, nil, "x"), rr.StatusInvalidArgument)

	cl := newClient(t)
	err = b.SetSubjectRef(ctx, cl, openReg["RR_TEST_REGISTRY"]+"/gotest/artifact-absent:nope")
	wantStatus(t, err, rr.StatusNotFound)

	img := must[*rr.Image](t)(b.Build())
	defer img.Close()
	if img.SubjectDigest() != "" || img.LayerCount() != 1 || img.Layers()[0].MediaType != "application/vnd.oci.empty.v1+json" {
		t.Fatalf("bare artifact: %q %+v", img.SubjectDigest(), img.Layers())
	}

	var nilBuilder *rr.ArtifactBuilder
	wantStatus(t, nilBuilder.AddAnnotation("k", "v"), rr.StatusInvalidArgument)
	if _, err := nilBuilder.Build(); err == nil {
		t.Fatal("a nil builder built")
	}
}
