package rr_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	rr "github.com/rr-project/rr/go"
)

// recordingAuth answers every registry with cred and records who asked.
type recordingAuth struct {
	mu    sync.Mutex
	asked []string
	cred  rr.Credential
	err   error
}

func (a *recordingAuth) fn(registry string) (rr.Credential, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.asked = append(a.asked, registry)
	return a.cred, a.err
}

func (a *recordingAuth) calls() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.asked)
}

func TestTokenAuthFunc(t *testing.T) {
	reg := tokenReg["RR_TEST_REGISTRY"]
	image, want := tokenReg["RR_TEST_IMAGE"], tokenReg["RR_TEST_IMAGE_DIGEST"]

	pusher := &recordingAuth{cred: rr.Basic{Username: "pusher", Password: "pusher-pw"}}
	cl := newClient(t, rr.WithAuthFunc(pusher.fn))
	img := must[*rr.Image](t)(cl.Image(ctx, image))
	defer img.Close()
	if img.Digest() != want {
		t.Fatalf("digest %s", img.Digest())
	}
	verifyLayer(t, img, 0)
	asked := pusher.calls()
	if len(asked) == 0 {
		t.Fatal("the auth func was never asked")
	}
	for _, r := range asked {
		if r != reg {
			t.Fatalf("auth func asked for %q, want %q (all: %v)", r, reg, asked)
		}
	}
	noErr(t, cl.CheckPushPermission(ctx, reg+"/gotest/auth-push:x"))
	noErr(t, cl.Copy(ctx, image, reg+"/gotest/auth-copy:v1"))
	d := must[*rr.Descriptor](t)(cl.Head(ctx, reg+"/gotest/auth-copy:v1"))
	defer d.Close()
	if d.Digest() != want {
		t.Fatalf("copied %s", d.Digest())
	}

	// puller: pull yes, push no.
	puller := &recordingAuth{cred: rr.Basic{Username: "puller", Password: "puller-pw"}}
	pc := newClient(t, rr.WithAuthFunc(puller.fn))
	pd := must[*rr.Descriptor](t)(pc.Get(ctx, image))
	pd.Close()
	err := pc.CheckPushPermission(ctx, reg+"/gotest/auth-push:x")
	if err.(*rr.Error).Status != rr.StatusDenied || !rr.IsDenied(err) {
		t.Fatalf("puller push: %v", err)
	}

	// Anonymous: public/ only.
	anon := newClient(t)
	ad := must[*rr.Descriptor](t)(anon.Get(ctx, tokenReg["RR_TEST_PUBLIC_IMAGE"]))
	ad.Close()
	_, err = anon.Get(ctx, image)
	if s := rr.StatusOf(err); s != rr.StatusUnauthorized && s != rr.StatusDenied {
		t.Fatalf("anonymous pull of a private image: %v", err)
	}
	// A nil credential means "none from me": anonymous again.
	none := &recordingAuth{}
	nc := newClient(t, rr.WithAuthFunc(none.fn))
	nd := must[*rr.Descriptor](t)(nc.Get(ctx, tokenReg["RR_TEST_PUBLIC_IMAGE"]))
	nd.Close()

	// An error from the func fails the operation with StatusCallback.
	failing := &recordingAuth{err: errors.New("vault is sealed")}
	fc := newClient(t, rr.WithAuthFunc(failing.fn))
	_, err = fc.Get(ctx, image)
	wantStatus(t, err, rr.StatusCallback)

	// A rejected password is asked for exactly once more, then StatusUnauthorized.
	wrong := &recordingAuth{cred: rr.Basic{Username: "pusher", Password: "wrong"}}
	wc := newClient(t, rr.WithAuthFunc(wrong.fn))
	_, err = wc.Get(ctx, image)
	wantStatus(t, err, rr.StatusUnauthorized)
	if n := len(wrong.calls()); n != 2 {
		t.Fatalf("wrong password asked %d times, want 2", n)
	}

	// Basic auth set on the client comes first.
	bc := newClient(t, rr.WithBasicAuth(reg, "puller", "puller-pw"), rr.WithAuthFunc(failing.fn))
	bd := must[*rr.Descriptor](t)(bc.Get(ctx, image))
	bd.Close()

	// A registry token is sent as a bearer token as it is.
	tok := fetchToken(t, "puller", "puller-pw", "repository:demo/app:pull")
	rc := newClient(t, rr.WithAuthFunc(func(string) (rr.Credential, error) { return rr.RegistryToken(tok), nil }))
	rd := must[*rr.Descriptor](t)(rc.Get(ctx, image))
	rd.Close()

	// An identity (refresh) token is exchanged at the token server (OAuth2 POST).
	ic := newClient(t, rr.WithAuthFunc(func(string) (rr.Credential, error) { return rr.IdentityToken("refresh-puller"), nil }))
	id := must[*rr.Descriptor](t)(ic.Get(ctx, image))
	id.Close()
	wantStatus(t, ic.CheckPushPermission(ctx, reg+"/gotest/auth-push:x"), rr.StatusDenied)
}

// fetchToken asks the harness's token server for a token.
func fetchToken(t testing.TB, user, password, scope string) string {
	t.Helper()
	q := url.Values{"service": {"rr-test-registry"}, "scope": {scope}}
	req, err := http.NewRequest("GET", tokenReg["RR_TEST_TOKEN_REALM"]+"?"+q.Encode(), nil)
	noErr(t, err)
	req.SetBasicAuth(user, password)
	resp, err := http.DefaultClient.Do(req)
	noErr(t, err)
	defer resp.Body.Close()
	var body struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	noErr(t, json.NewDecoder(resp.Body).Decode(&body))
	if resp.StatusCode != 200 || body.Token == "" && body.AccessToken == "" {
		t.Fatalf("token server: %d %+v", resp.StatusCode, body)
	}
	if body.Token != "" {
		return body.Token
	}
	return body.AccessToken
}

type panicValue struct{ where string }

// catchPanic runs f and returns what it panicked with (nil if it did not).
func catchPanic(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

func TestCallbackPanicsAreRaisedAgain(t *testing.T) {
	image := tokenReg["RR_TEST_IMAGE"]

	t.Run("auth", func(t *testing.T) {
		var armed atomic.Bool
		armed.Store(true)
		cl := newClient(t, rr.WithAuthFunc(func(string) (rr.Credential, error) {
			if armed.CompareAndSwap(true, false) {
				panic(panicValue{"auth"})
			}
			return rr.Basic{Username: "puller", Password: "puller-pw"}, nil
		}))
		v := catchPanic(func() { _, _ = cl.Get(ctx, image) })
		if v != (panicValue{"auth"}) {
			t.Fatalf("recovered %v, want the auth func's panic", v)
		}
		// The client is still fine, and nothing is left to raise.
		d := must[*rr.Descriptor](t)(cl.Get(ctx, image))
		d.Close()
	})

	t.Run("progress", func(t *testing.T) {
		cl := newClient(t, rr.WithProgress(func(uint64, uint64) bool { panic(panicValue{"progress"}) }))
		img := must[*rr.Image](t)(cl.Image(ctx, openReg["RR_TEST_IMAGE"]))
		defer img.Close()
		if v := catchPanic(func() { _, _ = img.WriteLayerTo(ctx, 0, &strings.Builder{}) }); v != (panicValue{"progress"}) {
			t.Fatalf("recovered %v", v)
		}
		// Through LayerReader, the panic comes out of Read.
		r := must[io.ReadCloser](t)(img.LayerReader(ctx, 0))
		defer r.Close()
		if v := catchPanic(func() { _, _ = io.ReadAll(r) }); v != (panicValue{"progress"}) {
			t.Fatalf("LayerReader: recovered %v", v)
		}
	})

	t.Run("writer", func(t *testing.T) {
		cl := newClient(t)
		img := must[*rr.Image](t)(cl.Image(ctx, openReg["RR_TEST_IMAGE"]))
		defer img.Close()
		if v := catchPanic(func() { _, _ = img.WriteLayerTo(ctx, 0, panickyWriter{}) }); v != (panicValue{"writer"}) {
			t.Fatalf("recovered %v", v)
		}
	})

	t.Run("transport", func(t *testing.T) {
		var armed atomic.Bool
		armed.Store(true)
		cl := newClient(t, rr.WithTransport(roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if armed.CompareAndSwap(true, false) {
				panic(panicValue{"transport"})
			}
			return http.DefaultTransport.RoundTrip(req)
		})))
		if v := catchPanic(func() { _, _ = cl.Get(ctx, openReg["RR_TEST_IMAGE"]) }); v != (panicValue{"transport"}) {
			t.Fatalf("recovered %v", v)
		}
		d := must[*rr.Descriptor](t)(cl.Get(ctx, openReg["RR_TEST_IMAGE"]))
		d.Close()
	})

	t.Run("response body", func(t *testing.T) {
		cl := newClient(t, rr.WithRetry(1, 0), rr.WithTransport(roundTripFunc(func(req *http.Request) (*http.Response, error) {
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err == nil && strings.Contains(req.URL.Path, "/blobs/") {
				resp.Body = panickyBody{resp.Body}
			}
			return resp, err
		})))
		img := must[*rr.Image](t)(cl.Image(ctx, openReg["RR_TEST_IMAGE"]))
		defer img.Close()
		if v := catchPanic(func() { _, _ = img.Config(ctx) }); v != (panicValue{"body"}) {
			t.Fatalf("recovered %v", v)
		}
	})

	t.Run("logger", func(t *testing.T) {
		cl := newClient(t, rr.WithLogger(func(string) { panic(panicValue{"log"}) }))
		if v := catchPanic(func() { _, _ = cl.Head(ctx, openReg["RR_TEST_IMAGE"]) }); v != (panicValue{"log"}) {
			t.Fatalf("recovered %v", v)
		}
	})
}

type panickyWriter struct{}

func (panickyWriter) Write([]byte) (int, error) { panic(panicValue{"writer"}) }

type panickyBody struct{ rc interface{ Close() error } }

func (panickyBody) Read([]byte) (int, error) { panic(panicValue{"body"}) }
func (b panickyBody) Close() error           { return b.rc.Close() }

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
