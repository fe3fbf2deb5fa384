package rr_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	rr "github.com/rr-project/rr/go"
)

// The tests run against real registries: `rr-testkit serve --seed` (CNCF distribution
// 2.8 on loopback, seeded with skopeo) in open mode, in token mode and in tls mode
// requiring a client certificate (--mtls), started once here.
// The binary is $RR_TESTKIT, else ../target/debug/rr-testkit (`cargo build -p rr-testkit`).

// ctx is the context of the calls that are not about cancellation.
var ctx = context.Background()

var (
	openReg  map[string]string // the env file of the open registry
	tokenReg map[string]string // the env file of the token registry
	mtlsReg  map[string]string // the env file of the tls registry requiring a client certificate
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// The registries are tied to this thread with PDEATHSIG: keep it alive.
	runtime.LockOSThread()
	bin := os.Getenv("RR_TESTKIT")
	if bin == "" {
		bin = filepath.Join("..", "target", "debug", "rr-testkit")
	}
	if _, err := os.Stat(bin); err != nil {
		fmt.Fprintf(os.Stderr, "rr go tests: no rr-testkit at %s (run `cargo build -p rr-testkit` or set RR_TESTKIT): %v\n", bin, err)
		return 2
	}
	dir, err := os.MkdirTemp("", "rr-go-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(dir)

	type started struct {
		r   *registry
		err error
	}
	open, token, mtls := make(chan started, 1), make(chan started, 1), make(chan started, 1)
	go func() { r, err := startRegistry(bin, "open", dir); open <- started{r, err} }()
	go func() { r, err := startRegistry(bin, "token", dir); token <- started{r, err} }()
	go func() { r, err := startRegistry(bin, "tls", dir, "--mtls"); mtls <- started{r, err} }()
	o, t, x := <-open, <-token, <-mtls
	for _, s := range []started{o, t, x} {
		if s.r != nil {
			defer s.r.stop()
		}
	}
	if o.err != nil || t.err != nil || x.err != nil {
		fmt.Fprintf(os.Stderr, "rr go tests: cannot start the registries: %v %v %v\n", o.err, t.err, x.err)
		return 2
	}
	openReg, tokenReg, mtlsReg = o.r.env, t.r.env, x.r.env
	return m.Run()
}

type registry struct {
	cmd  *exec.Cmd
	done chan struct{}
	env  map[string]string
}

// startRegistry runs `rr-testkit serve` (not detached: it dies with us) and waits for
// its env file. extra goes to serve (--mtls).
func startRegistry(bin, mode, dir string, extra ...string) (*registry, error) {
	name := strings.Join(append([]string{mode}, extra...), "")
	envFile := filepath.Join(dir, name+".env")
	logFile, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	args := append([]string{"serve", "--mode", mode}, extra...)
	args = append(args, "--seed", "--env-file", envFile, "--max-seconds", "900")
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &registry{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(r.done) }()
	deadline := time.After(180 * time.Second)
	for {
		if b, err := os.ReadFile(envFile); err == nil {
			r.env = parseEnv(b)
			return r, nil
		}
		select {
		case <-r.done:
			log, _ := os.ReadFile(logFile.Name())
			return nil, fmt.Errorf("rr-testkit serve --mode %s exited early:\n%s", mode, log)
		case <-deadline:
			r.stop()
			return nil, fmt.Errorf("rr-testkit serve --mode %s: no env file after 180 s", mode)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (r *registry) stop() {
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
}

func parseEnv(b []byte) map[string]string {
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return env
}

// newClient makes a client without the host's keychain, closed at the end of the test.
func newClient(t testing.TB, opts ...rr.Option) *rr.Client {
	t.Helper()
	cl, err := rr.NewClient(append([]rr.Option{rr.WithKeychain(false)}, opts...)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// wantStatus fails unless err is an *rr.Error with the given status.
func wantStatus(t testing.TB, err error, want rr.Status) *rr.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", want)
	}
	e, ok := err.(*rr.Error)
	if !ok {
		t.Fatalf("got %T %v, want *rr.Error with %v", err, err, want)
	}
	if e.Status != want {
		t.Fatalf("got status %v (%v), want %v", e.Status, e, want)
	}
	if e.Message == "" {
		t.Errorf("%v: empty message", want)
	}
	return e
}

func must[T any](t testing.TB) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func noErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
