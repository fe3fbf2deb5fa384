package rr_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	rr "github.com/rr-project/rr/go"
)

// Blobs on their own against the open registry (distribution 2.8): StatBlob, ReadBlob,
// SaveBlob, WriteBlob (a reader of unknown size) and WriteBlobFile.

// randomBytes returns n bytes no other call returns.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), buildSeq.Add(1)))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// pieces is a reader of unknown size (no Len, no Seek) that hands out at most piece bytes
// per Read, counts its Reads, and fails with failWith once failAt bytes are out.
type pieces struct {
	data     []byte
	piece    int
	failAt   int
	failWith error
	pause    time.Duration
	reads    atomic.Int64
}

func (p *pieces) Read(b []byte) (int, error) {
	p.reads.Add(1)
	time.Sleep(p.pause)
	if p.failWith != nil && len(p.data) <= p.failAt {
		return 0, p.failWith
	}
	if len(p.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(b), p.piece, len(p.data))
	copy(b, p.data[:n])
	p.data = p.data[n:]
	return n, nil
}

func newPieces(data []byte) *pieces {
	return &pieces{data: data, piece: 100_000, failAt: -1}
}

func TestBlobStatReadAndSave(t *testing.T) {
	reg := openReg["RR_TEST_REGISTRY"]
	cl := newClient(t)
	img := must[*rr.Image](t)(cl.Image(ctx, openReg["RR_TEST_IMAGE"]))
	defer img.Close()
	layer := img.Layers()[0]
	ref := reg + "/demo/app@" + layer.Digest

	size := must[int64](t)(cl.StatBlob(ctx, ref))
	if uint64(size) != layer.Size {
		t.Fatalf("StatBlob: %d bytes, the manifest says %d", size, layer.Size)
	}
	var buf bytes.Buffer
	n := must[int64](t)(cl.ReadBlob(ctx, ref, &buf))
	if uint64(n) != layer.Size || digestOf(buf.Bytes()) != layer.Digest {
		t.Fatalf("ReadBlob: %d bytes hashing to %s", n, digestOf(buf.Bytes()))
	}
	path := filepath.Join(t.TempDir(), "blob")
	noErr(t, cl.SaveBlob(ctx, ref, path))
	saved := must[[]byte](t)(os.ReadFile(path))
	if !bytes.Equal(saved, buf.Bytes()) {
		t.Fatal("SaveBlob wrote other bytes than ReadBlob gave")
	}

	missing := reg + "/demo/app@" + digestOf([]byte("no such blob"))
	if _, err := cl.StatBlob(ctx, missing); !rr.IsNotFound(err) {
		t.Fatalf("StatBlob of a missing blob: %v", err)
	}
	gone := filepath.Join(t.TempDir(), "missing")
	if err := cl.SaveBlob(ctx, missing, gone); !rr.IsNotFound(err) {
		t.Fatalf("SaveBlob of a missing blob: %v", err)
	}
	if _, err := os.Stat(gone); !os.IsNotExist(err) {
		t.Fatalf("SaveBlob of a missing blob left %s: %v", gone, err)
	}
	if _, err := cl.ReadBlob(ctx, openReg["RR_TEST_IMAGE"], io.Discard); rr.StatusOf(err) != rr.StatusInvalidReference {
		t.Fatalf("ReadBlob of a tag: %v", err)
	}
	// The writer's own error stops the read and comes back as it is.
	errFull := errors.New("disk full")
	if _, err := cl.ReadBlob(ctx, ref, failingWriter{errFull}); !errors.Is(err, errFull) {
		t.Fatalf("ReadBlob into a failing writer: %v", err)
	}
}

func TestBlobWriteFromAReaderOfUnknownSizeAndAFile(t *testing.T) {
	reg := openReg["RR_TEST_REGISTRY"]
	data := randomBytes(2<<20 + 777)
	want := digestOf(data)
	for _, tc := range []struct {
		name    string
		opts    []rr.Option
		patches int
	}{
		{"streamed", nil, 1},
		{"chunked", []rr.Option{rr.WithUploadStrategy(reg, rr.UploadChunked, 256<<10)}, 9},
		// A body of unknown length through a host transport: net/http sends it chunked.
		{"net-http", []rr.Option{rr.WithTransport(nil)}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log uploadLog
			cl := newClient(t, append(tc.opts, rr.WithLogger(log.add))...)
			repo := reg + "/gotest/blob-" + tc.name
			digest, size := must2(t)(cl.WriteBlob(ctx, repo, newPieces(data)))
			if digest != want || size != int64(len(data)) {
				t.Fatalf("WriteBlob: %s, %d bytes; want %s, %d", digest, size, want, len(data))
			}
			if got := log.count("PATCH", 202); got != tc.patches {
				t.Fatalf("%d PATCHes, want %d: %v", got, tc.patches, log.lines)
			}
			var back bytes.Buffer
			must[int64](t)(cl.ReadBlob(ctx, repo+"@"+digest, &back))
			if !bytes.Equal(back.Bytes(), data) {
				t.Fatal("the blob read back differs")
			}
		})
	}

	var log uploadLog
	cl := newClient(t, rr.WithLogger(log.add))
	// Given the digest of a blob the repository has, the reader is not read at all.
	there := newPieces(data)
	digest, size := must2(t)(cl.WriteBlob(ctx, reg+"/gotest/blob-streamed", there, rr.ExpectDigest(want)))
	if digest != want || size != int64(len(data)) || there.reads.Load() != 0 {
		t.Fatalf("WriteBlob of a blob there: %s, %d bytes, %d reads", digest, size, there.reads.Load())
	}
	// A file of the same content into another repository: mounted, nothing uploaded.
	path := filepath.Join(t.TempDir(), "blob")
	noErr(t, os.WriteFile(path, data, 0o644))
	digest, size = must2(t)(cl.WriteBlobFile(ctx, reg+"/gotest/blob-mounted", path, rr.MountFrom(reg+"/gotest/blob-streamed")))
	if digest != want || size != int64(len(data)) {
		t.Fatalf("WriteBlobFile: %s, %d bytes", digest, size)
	}
	if log.count("POST", 201) != 1 || log.count("PATCH", 202) != 0 || log.count("PUT", 201) != 0 {
		t.Fatalf("not one mount and no upload: %v", log.lines)
	}
	// Content that is not the digest given: refused, nothing committed.
	other := randomBytes(300_000)
	_, _, err := cl.WriteBlob(ctx, reg+"/gotest/blob-mismatch", newPieces(other), rr.ExpectDigest(want))
	if rr.StatusOf(err) != rr.StatusDigestMismatch || !strings.Contains(err.Error(), digestOf(other)) {
		t.Fatalf("WriteBlob with the wrong digest: %v", err)
	}
	if _, err := cl.StatBlob(ctx, reg+"/gotest/blob-mismatch@"+digestOf(other)); !rr.IsNotFound(err) {
		t.Fatalf("the mismatched blob was committed: %v", err)
	}
}

// must2 is must for the (digest, size, error) of the blob writes.
func must2(t testing.TB) func(string, int64, error) (string, int64) {
	return func(d string, n int64, err error) (string, int64) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return d, n
	}
}

func TestBlobReaderFailingMidBlobCancelsTheSession(t *testing.T) {
	reg := openReg["RR_TEST_REGISTRY"]
	errBoom := errors.New("the reader under test gives up")
	for _, tc := range []struct {
		name string
		opts []rr.Option
	}{
		{"streamed", nil},
		{"chunked", []rr.Option{rr.WithUploadStrategy(reg, rr.UploadChunked, 256<<10)}},
		{"net-http", []rr.Option{rr.WithTransport(nil)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log uploadLog
			cl := newClient(t, append(tc.opts, rr.WithLogger(log.add))...)
			r := newPieces(randomBytes(3 << 20))
			r.failAt, r.failWith = 2<<20, errBoom
			_, _, err := cl.WriteBlob(ctx, reg+"/gotest/blob-fails-"+tc.name, r)
			if !errors.Is(err, errBoom) {
				t.Fatalf("WriteBlob: %v, want the reader's error", err)
			}
			if log.count("POST", 202) != 1 || log.count("DELETE", 204) != 1 || log.count("PUT", 201) != 0 {
				t.Fatalf("the session was not cancelled (or was committed): %v", log.lines)
			}
		})
	}
}

func TestBlobReadCancelledByItsContext(t *testing.T) {
	reg := openReg["RR_TEST_REGISTRY"]
	cl := newClient(t)
	img := must[*rr.Image](t)(cl.Image(ctx, openReg["RR_TEST_IMAGE"]))
	defer img.Close()
	layer := img.Layers()[0] // about 1 MiB: several chunks
	c, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := writerFunc(func(b []byte) (int, error) {
		cancel()
		time.Sleep(50 * time.Millisecond)
		return len(b), nil
	})
	n, err := cl.ReadBlob(c, reg+"/demo/app@"+layer.Digest, w)
	if !errors.Is(err, context.Canceled) || !rr.IsCancelled(err) {
		t.Fatalf("ReadBlob with its context cancelled: %v", err)
	}
	if uint64(n) >= layer.Size {
		t.Fatalf("the whole blob was read (%d bytes) although cancelled", n)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func TestBlobWriteCancelledByItsContextStopsReading(t *testing.T) {
	reg := openReg["RR_TEST_REGISTRY"]
	var log uploadLog
	cl := newClient(t, rr.WithLogger(log.add))
	r := newPieces(randomBytes(8 << 20))
	r.piece, r.pause = 64<<10, 20*time.Millisecond
	c, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := time.AfterFunc(500*time.Millisecond, cancel)
	defer stop.Stop()
	started := time.Now()
	_, _, err := cl.WriteBlob(c, reg+"/gotest/blob-cancelled", r)
	if !errors.Is(err, context.Canceled) || !rr.IsCancelled(err) {
		t.Fatalf("WriteBlob with its context cancelled: %v", err)
	}
	if took := time.Since(started); took > 2*time.Second {
		t.Fatalf("WriteBlob took %v to stop", took)
	}
	reads := r.reads.Load()
	time.Sleep(200 * time.Millisecond)
	if r.reads.Load() != reads {
		t.Fatal("the reader was read after WriteBlob returned")
	}
	if log.count("DELETE", 204) != 1 || log.count("PUT", 201) != 0 {
		t.Fatalf("the session was not cancelled (or was committed): %v", log.lines)
	}
}

func TestBlobBadArguments(t *testing.T) {
	reg := openReg["RR_TEST_REGISTRY"]
	cl := newClient(t)
	for i, tc := range []struct {
		err  error
		want rr.Status
	}{
		{second(cl.WriteBlobFile(ctx, reg+"/gotest/x", "/nonexistent/file")), rr.StatusIO},
		{second(cl.WriteBlobFile(ctx, reg+"/gotest/x:v1", "/nonexistent/file")), rr.StatusInvalidReference},
		{second(cl.WriteBlobFile(ctx, reg+"/gotest/x", "f", rr.ExpectDigest(digestOf(nil)))), rr.StatusInvalidArgument},
		{second(cl.WriteBlob(ctx, reg+"/gotest/x\x00", newPieces(nil))), rr.StatusInvalidArgument},
		{second(cl.WriteBlob(ctx, reg+"/gotest/x", newPieces(nil), rr.MountFrom(reg+"/gotest/y"))), rr.StatusInvalidArgument},
		{second(cl.WriteBlob(ctx, reg+"/gotest/x", newPieces(nil), rr.ExpectDigest("sha256:12"))), rr.StatusInvalidReference},
		{cl.SaveBlob(ctx, reg+"/gotest/x:v1", filepath.Join(t.TempDir(), "f")), rr.StatusInvalidReference},
	} {
		if rr.StatusOf(tc.err) != tc.want {
			t.Errorf("case %d: %v, want %v", i, tc.err, tc.want)
		}
	}
}

// second is the error of a (digest, size, error) result.
func second(_ string, _ int64, err error) error {
	if err == nil {
		return fmt.Errorf("no error")
	}
	return err
}
