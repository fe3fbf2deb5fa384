package rr_test

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	rr "github.com/rr-project/rr/go"
)

// Per-registry TLS and proxies against the tls registry of TestMain, which requires a
// client certificate signed by its test CA (rr-testkit serve --mode tls --mtls).

func mtlsClient(t *testing.T, opts ...rr.Option) *rr.Client {
	t.Helper()
	base := []rr.Option{
		rr.WithDefaultCertsDirs(false),
		rr.WithRetry(1, 0),
		rr.WithBasicAuth(mtlsReg["RR_TEST_REGISTRY"], mtlsReg["RR_TEST_USER"], mtlsReg["RR_TEST_PASSWORD"]),
	}
	return newClient(t, append(base, opts...)...)
}

func withPair() rr.Option {
	return rr.WithClientCert(mtlsReg["RR_TEST_REGISTRY"], mtlsReg["RR_TEST_CLIENT_CERT"], mtlsReg["RR_TEST_CLIENT_KEY"])
}

func checkImage(t *testing.T, cl *rr.Client) {
	t.Helper()
	img, err := cl.Image(ctx, mtlsReg["RR_TEST_IMAGE"])
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if got := img.Digest(); got != mtlsReg["RR_TEST_IMAGE_DIGEST"] {
		t.Fatalf("digest %s, want %s", got, mtlsReg["RR_TEST_IMAGE_DIGEST"])
	}
}

func TestMTLSRegistryRefusesAClientWithoutItsCertificate(t *testing.T) {
	cl := mtlsClient(t, rr.WithCAFile(mtlsReg["RR_TEST_CA"]))
	_, err := cl.Image(ctx, mtlsReg["RR_TEST_IMAGE"])
	e := wantStatus(t, err, rr.StatusTransport)
	if !strings.Contains(e.Message, "TLS client certificate required") {
		t.Errorf("message %q does not say a client certificate is required", e.Message)
	}
}

func TestMTLSWithTheClientCertAndARegistryCA(t *testing.T) {
	cl := mtlsClient(t, rr.WithRegistryCAFile(mtlsReg["RR_TEST_REGISTRY"], mtlsReg["RR_TEST_CA"]), withPair())
	checkImage(t, cl)
}

func TestMTLSWithACertsDir(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, mtlsReg["RR_TEST_REGISTRY"])
	noErr(t, os.Mkdir(dir, 0o755))
	for from, to := range map[string]string{
		"RR_TEST_CA":          "ca.crt",
		"RR_TEST_CLIENT_CERT": "client.cert",
		"RR_TEST_CLIENT_KEY":  "client.key",
	} {
		b := must[[]byte](t)(os.ReadFile(mtlsReg[from]))
		noErr(t, os.WriteFile(filepath.Join(dir, to), b, 0o600))
	}
	checkImage(t, mtlsClient(t, rr.WithCertsDir(root)))

	// A certificate without its key is found when connecting, and named.
	noErr(t, os.Rename(filepath.Join(dir, "client.key"), filepath.Join(dir, "other.key")))
	_, err := mtlsClient(t, rr.WithCertsDir(root)).Image(ctx, mtlsReg["RR_TEST_IMAGE"])
	e := wantStatus(t, err, rr.StatusTransport)
	if !strings.Contains(e.Message, "client.cert") {
		t.Errorf("message %q does not name the certificate without its key", e.Message)
	}
}

func TestWithClientCertChecksItsFiles(t *testing.T) {
	reg := mtlsReg["RR_TEST_REGISTRY"]
	_, err := rr.NewClient(rr.WithClientCert(reg, "/nonexistent/client.pem", mtlsReg["RR_TEST_CLIENT_KEY"]))
	wantStatus(t, err, rr.StatusIO)
	// The certificate where the key should be.
	_, err = rr.NewClient(rr.WithClientCert(reg, mtlsReg["RR_TEST_CLIENT_CERT"], mtlsReg["RR_TEST_CLIENT_CERT"]))
	wantStatus(t, err, rr.StatusInvalidArgument)
	_, err = rr.NewClient(rr.WithRegistryCAFile(reg, "/nonexistent/ca.pem"))
	wantStatus(t, err, rr.StatusIO)
	_, err = rr.NewClient(rr.WithProxy(reg, "socks5://proxy:1080"))
	wantStatus(t, err, rr.StatusInvalidArgument)
	_, err = rr.NewClient(rr.WithCertsDir("a\x00b"))
	wantStatus(t, err, rr.StatusInvalidArgument)
}

// connectProxy is a CONNECT-only proxy on loopback that records the targets it tunnels to.
type connectProxy struct {
	srv     *http.Server
	addr    string
	mu      sync.Mutex
	targets []string
}

func startConnectProxy(t *testing.T) *connectProxy {
	t.Helper()
	ln := must[net.Listener](t)(net.Listen("tcp", "127.0.0.1:0"))
	p := &connectProxy{addr: ln.Addr().String()}
	p.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		p.mu.Lock()
		p.targets = append(p.targets, r.Host)
		p.mu.Unlock()
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			up.Close()
			return
		}
		go func() {
			defer up.Close()
			_, _ = io.Copy(up, buf)
		}()
		go func() {
			defer conn.Close()
			_, _ = io.Copy(conn, up)
		}()
	})}
	go func() { _ = p.srv.Serve(ln) }()
	t.Cleanup(func() { _ = p.srv.Close() })
	return p
}

func (p *connectProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...)
}

func TestWithProxyTunnelsTheRegistryThroughIt(t *testing.T) {
	proxy := startConnectProxy(t)
	reg := mtlsReg["RR_TEST_REGISTRY"]
	cl := mtlsClient(t, rr.WithCAFile(mtlsReg["RR_TEST_CA"]), withPair(), rr.WithProxy(reg, "http://"+proxy.addr))
	checkImage(t, cl)
	seen := proxy.seen()
	if len(seen) == 0 {
		t.Fatal("the proxy tunnelled nothing")
	}
	for _, target := range seen {
		if target != reg {
			t.Errorf("tunnelled to %s, want %s only", target, reg)
		}
	}
}

func TestWithPlainHTTPSkipsTheHTTPSAttempt(t *testing.T) {
	cl := newClient(t, rr.WithPlainHTTP(openReg["RR_TEST_REGISTRY"]))
	d := must[*rr.Descriptor](t)(cl.Head(ctx, openReg["RR_TEST_IMAGE"]))
	if d.Digest() != openReg["RR_TEST_IMAGE_DIGEST"] {
		t.Fatalf("digest %s, want %s", d.Digest(), openReg["RR_TEST_IMAGE_DIGEST"])
	}
	// A TLS registry refuses plain http: no https attempt saves it.
	tls := mtlsClient(t, rr.WithCAFile(mtlsReg["RR_TEST_CA"]), withPair(), rr.WithPlainHTTP(mtlsReg["RR_TEST_REGISTRY"]))
	_, err := tls.Head(ctx, mtlsReg["RR_TEST_IMAGE"])
	if e := wantStatus(t, err, rr.StatusRegistry); e.HTTPStatus != 400 {
		t.Errorf("HTTP status %d, want 400: %v", e.HTTPStatus, e)
	}
	if _, err := rr.NewClient(rr.WithPlainHTTP("bad host")); err == nil {
		t.Error("WithPlainHTTP(\"bad host\") was accepted")
	}
}

func TestWithPingCacheDirRemembersTheRealm(t *testing.T) {
	reg, image := tokenReg["RR_TEST_REGISTRY"], tokenReg["RR_TEST_IMAGE"]
	dir := filepath.Join(t.TempDir(), "pings")
	head := func() []string {
		var log logLines
		cl := newClient(t, rr.WithPlainHTTP(reg), rr.WithPingCacheDir(dir), rr.WithLogger(log.add),
			rr.WithBasicAuth(reg, "puller", "puller-pw"))
		d := must[*rr.Descriptor](t)(cl.Head(ctx, image))
		if d.Digest() != tokenReg["RR_TEST_IMAGE_DIGEST"] {
			t.Fatalf("digest %s", d.Digest())
		}
		return log.all()
	}
	head()
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("entries %v, %v", entries, err)
	}
	// The next client asks the realm it finds there: one that nothing listens on is
	// tried once, then the realm the registry names is used.
	file := filepath.Join(dir, entries[0].Name())
	entry := must[[]byte](t)(os.ReadFile(file))
	moved := strings.Replace(string(entry), tokenReg["RR_TEST_TOKEN_REALM"], "http://127.0.0.1:9/token", 1)
	if moved == string(entry) {
		t.Fatalf("no realm in %s", entry)
	}
	noErr(t, os.WriteFile(file, []byte(moved), 0o600))
	tried := 0
	for _, l := range head() {
		if strings.HasPrefix(l, "GET http://127.0.0.1:9/token") {
			tried++
		}
	}
	if tried != 1 {
		t.Fatalf("the remembered realm was tried %d times, want 1", tried)
	}
	if got := string(must[[]byte](t)(os.ReadFile(file))); !strings.Contains(got, tokenReg["RR_TEST_TOKEN_REALM"]) {
		t.Fatalf("the entry was not replaced: %s", got)
	}
	if _, err := rr.NewClient(rr.WithPingCacheDir("/dev/null")); err == nil {
		t.Error("WithPingCacheDir(\"/dev/null\") was accepted")
	}
	noErr(t, func() error { _, err := rr.NewClient(rr.WithPingCacheDir("")); return err }())
}
