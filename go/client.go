package rr

/*
#include "bridge.h"
*/
import "C"

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"runtime"
	"runtime/cgo"
	"time"
	"unsafe"
)

// Client talks to registries. It is safe for concurrent use; its options are fixed at
// NewClient. Images, indexes and descriptors made through it stay usable after Close.
type Client struct {
	c  *C.rr_client
	st *clientState
}

// Option configures a Client in NewClient.
type Option func(*Client) error

// NewClient makes a client. Defaults (from librr): platform linux/amd64, 4 parallel
// blob transfers, the default keychain on, 5 attempts from 200 ms, connect timeout 30 s,
// idle timeout 60 s, the library's own HTTPS stack.
func NewClient(opts ...Option) (*Client, error) {
	var p *C.rr_client
	if err := call(func() C.rr_status { return C.rr_client_new(&p) }); err != nil {
		return nil, err
	}
	cl := &Client{c: p, st: newClientState()}
	runtime.SetFinalizer(cl, (*Client).Close)
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(cl); err != nil {
			cl.Close()
			return nil, err
		}
	}
	return cl, nil
}

// Close frees the client. Objects made through it stay usable; the callbacks it was
// given stay registered until the last of them is closed. Idempotent.
func (cl *Client) Close() error {
	if cl == nil || cl.c == nil {
		return nil
	}
	C.rr_client_free(cl.c)
	cl.c = nil
	cl.st.release()
	runtime.SetFinalizer(cl, nil)
	return nil
}

// do runs a C call on the client: see call.
func (cl *Client) do(f func() C.rr_status, more ...*clientState) error {
	// more may be an object's shared states slice: never append into its array.
	err := call(f, append(more[:len(more):len(more)], cl.state())...)
	runtime.KeepAlive(cl)
	return err
}

func (cl *Client) ptr() *C.rr_client {
	if cl == nil {
		return nil
	}
	return cl.c
}

func (cl *Client) state() *clientState {
	if cl == nil {
		return nil
	}
	return cl.st
}

// derived is the state set of objects made through the client.
func (cl *Client) derived() states {
	if cl == nil || cl.st == nil {
		return nil
	}
	return states{cl.st}
}

// ---- options ----

// set runs one setter with a C string argument.
func setString(what string, v string, f func(cl *Client, s *C.char) C.rr_status) Option {
	return func(cl *Client) error {
		var a cstrs
		defer a.free()
		s := a.str(v, what)
		if a.err != nil {
			return a.err
		}
		return cl.do(func() C.rr_status { return f(cl, s) })
	}
}

// WithPlatform sets the platform an index resolves to ("os/arch[/variant][:os.version]").
func WithPlatform(platform string) Option {
	return setString("the platform", platform, func(cl *Client, s *C.char) C.rr_status {
		return C.rr_client_set_platform(cl.c, s)
	})
}

// WithPlatformSpec sets the platform an index resolves to, field by field: what
// WithPlatform takes, plus os.features the chosen child must all list (e.g. "win32k").
// StatusInvalidReference for an empty OS or Architecture or a field that is no
// platform's; StatusInvalidArgument for a string holding a NUL byte.
func WithPlatformSpec(p Platform) Option {
	return func(cl *Client) error {
		var a cstrs
		defer a.free()
		spec := p.spec(&a)
		if a.err != nil {
			return a.err
		}
		return cl.do(func() C.rr_status { return C.rr_client_set_platform_spec(cl.c, spec) })
	}
}

// WithJobs sets how many blobs move in parallel (at least 1).
func WithJobs(n int) Option {
	return func(cl *Client) error {
		if n < 1 || n > 1<<16 {
			return &Error{Status: StatusInvalidArgument, Message: "rr: jobs must be between 1 and 65536"}
		}
		return cl.do(func() C.rr_status { return C.rr_client_set_jobs(cl.c, C.uint32_t(n)) })
	}
}

// WithBlobConnections sets how many connections one large blob (16 MiB or more) may be
// pulled over into a layout (1 to 16; default 4; 1 never splits a blob). The blob is
// read from its start as usual; only when that connection turns out slow is the rest
// fetched as ranges on more connections, and only when the registry answers them all.
func WithBlobConnections(n int) Option {
	return func(cl *Client) error {
		if n < 1 || n > 16 {
			return &Error{Status: StatusInvalidArgument, Message: "rr: blob connections must be between 1 and 16"}
		}
		return cl.do(func() C.rr_status { return C.rr_client_set_blob_connections(cl.c, C.uint32_t(n)) })
	}
}

// WithPageSize sets how many entries List, Catalog, ListPages and CatalogPages ask for
// per page (n, 1 to 1000),
// or 0 (the default) to send no n and take each registry's own page size. Every page is
// followed to the end whatever is set.
func WithPageSize(n int) Option {
	return func(cl *Client) error {
		if n < 0 || n > 1000 {
			return &Error{Status: StatusInvalidArgument, Message: "rr: page size must be between 0 and 1000"}
		}
		return cl.do(func() C.rr_status { return C.rr_client_set_page_size(cl.c, C.uint32_t(n)) })
	}
}

// UploadStrategy says how blob bytes go to a registry (see WithUploadStrategy). Every
// strategy streams from the blob's source at constant memory.
type UploadStrategy uint32

const (
	// UploadAuto (the default): monolithic up to the monolithic threshold, streamed
	// above it, chunked above the chunk size when one is set or known for the host.
	UploadAuto UploadStrategy = C.RR_UPLOAD_AUTO
	// UploadMonolithic: POST, then PUT ?digest= with the whole blob.
	UploadMonolithic UploadStrategy = C.RR_UPLOAD_MONOLITHIC
	// UploadStreamed: POST, one PATCH with the whole blob, PUT ?digest=.
	UploadStreamed UploadStrategy = C.RR_UPLOAD_STREAMED
	// UploadChunked: POST, PATCHes of chunkSize bytes with Content-Range, PUT ?digest=.
	UploadChunked UploadStrategy = C.RR_UPLOAD_CHUNKED
)

// optionalRegistry runs f with registry as a C string, or NULL when it is "" (every
// registry).
func optionalRegistry(cl *Client, registry string, f func(r *C.char) C.rr_status) error {
	var a cstrs
	defer a.free()
	var r *C.char
	if registry != "" {
		r = a.str(registry, "the registry")
		if a.err != nil {
			return a.err
		}
	}
	return cl.do(func() C.rr_status { return f(r) })
}

// WithUploadStrategy sets how blobs are uploaded to registry ("host[:port]"), or to
// every registry without a setting of its own when registry is "". chunkSize is the
// chunk size of UploadChunked and the largest PATCH of the other strategies (64 KiB to
// 1 GiB), or 0 for the default (8 MiB chunks, no limit otherwise). A registry or proxy
// that refuses a body as too large makes the client send it smaller chunks from then
// on, whatever is set. May be given several times.
func WithUploadStrategy(registry string, strategy UploadStrategy, chunkSize int64) Option {
	return func(cl *Client) error {
		if chunkSize < 0 {
			return &Error{Status: StatusInvalidArgument, Message: fmt.Sprintf("rr: chunk size %d is negative", chunkSize)}
		}
		return optionalRegistry(cl, registry, func(r *C.char) C.rr_status {
			return C.rr_client_set_upload_strategy(cl.c, r, C.uint32_t(strategy), C.uint64_t(chunkSize))
		})
	}
}

// WithMonolithicThreshold sets the size up to which UploadAuto sends a blob in one PUT
// with its body, for registry or, when registry is "", every registry without a setting
// of its own: 0 (never) to 1 GiB; the default is DefaultMonolithicThreshold().
func WithMonolithicThreshold(registry string, bytes int64) Option {
	return func(cl *Client) error {
		if bytes < 0 {
			return &Error{Status: StatusInvalidArgument, Message: fmt.Sprintf("rr: monolithic threshold %d is negative", bytes)}
		}
		return optionalRegistry(cl, registry, func(r *C.char) C.rr_status {
			return C.rr_client_set_monolithic_threshold(cl.c, r, C.uint64_t(bytes))
		})
	}
}

// DefaultMonolithicThreshold is the monolithic threshold of a client that sets none.
func DefaultMonolithicThreshold() int64 {
	return int64(C.rr_upload_default_monolithic_threshold())
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option {
	return setString("the user agent", ua, func(cl *Client, s *C.char) C.rr_status {
		return C.rr_client_set_user_agent(cl.c, s)
	})
}

// WithInsecure allows plain HTTP and unverified TLS for registry ("host[:port]").
// May be given several times.
func WithInsecure(registry string) Option {
	return setString("the registry", registry, func(cl *Client, s *C.char) C.rr_status {
		return C.rr_client_set_insecure(cl.c, s)
	})
}

// WithPlainHTTP reaches registry ("host[:port]") over plain HTTP only, with no https
// attempt first (WithInsecure and loopback registries try https, then http). For
// registries known to have no TLS. May be given several times.
func WithPlainHTTP(registry string) Option {
	return setString("the registry", registry, func(cl *Client, s *C.char) C.rr_status {
		return C.rr_client_set_plain_http(cl.c, s)
	})
}

// WithPingCacheDir remembers each registry's ping (the challenge that says where tokens
// come from; never a token or a credential) in dir between processes, so that a later
// client starts its token exchange at once, with the ping beside it: two round trips
// sooner. Answers the registry contradicts are replaced; only https registries and those
// given to WithPlainHTTP are remembered. "" turns it off (the default).
func WithPingCacheDir(dir string) Option {
	if dir == "" {
		return func(cl *Client) error {
			return cl.do(func() C.rr_status { return C.rr_client_set_ping_cache_dir(cl.c, nil) })
		}
	}
	return setString("the ping cache directory", dir, func(cl *Client, s *C.char) C.rr_status {
		return C.rr_client_set_ping_cache_dir(cl.c, s)
	})
}

// WithCAFile adds the certificates of a PEM file to the trusted roots.
func WithCAFile(path string) Option {
	return setString("the CA file", path, func(cl *Client, s *C.char) C.rr_status {
		return C.rr_client_add_ca_file(cl.c, s)
	})
}

// WithRegistryCAFile trusts the certificates of a PEM file for registry ("host[:port]")
// only, and for the requests made for it on another host (its token endpoint), besides
// the system's and those of WithCAFile. The file is read now.
func WithRegistryCAFile(registry, path string) Option {
	return func(cl *Client) error {
		var a cstrs
		defer a.free()
		r, p := a.str(registry, "the registry"), a.str(path, "the CA file")
		if a.err != nil {
			return a.err
		}
		return cl.do(func() C.rr_status { return C.rr_client_add_registry_ca_file(cl.c, r, p) })
	}
}

// WithClientCert presents a client certificate (mutual TLS) to registry ("host[:port]")
// and its token endpoint: certFile holds the PEM certificate (then its chain), keyFile
// its PEM private key. Both are read now: StatusIO when one cannot be read,
// StatusInvalidArgument when one holds no certificate or key or the key is not the
// certificate's. It wins over a pair in the registry's certs.d directory.
func WithClientCert(registry, certFile, keyFile string) Option {
	return func(cl *Client) error {
		var a cstrs
		defer a.free()
		r, c, k := a.str(registry, "the registry"), a.str(certFile, "the certificate file"), a.str(keyFile, "the key file")
		if a.err != nil {
			return a.err
		}
		return cl.do(func() C.rr_status { return C.rr_client_set_client_cert(cl.c, r, c, k) })
	}
}

// WithCertsDir adds a certs.d root: DIR/HOST[:PORT]/ with *.crt CA certificates and
// NAME.cert + NAME.key client pairs, as /etc/docker/certs.d. Roots given here are
// searched in order, before the default ones; only the first root with a directory for
// a registry counts. The files are read when the client first connects to a registry:
// a key that does not match its certificate is then StatusTransport, an unreadable file
// StatusIO.
func WithCertsDir(dir string) Option {
	return setString("the certs.d directory", dir, func(cl *Client, s *C.char) C.rr_status {
		return C.rr_client_add_certs_dir(cl.c, s)
	})
}

// WithDefaultCertsDirs turns the default certs.d roots on or off (on by default):
// $XDG_CONFIG_HOME/containers/certs.d (or ~/.config/containers/certs.d),
// /etc/containers/certs.d, /etc/docker/certs.d.
func WithDefaultCertsDirs(enabled bool) Option {
	return func(cl *Client) error {
		return cl.do(func() C.rr_status { return C.rr_client_set_default_certs_dirs(cl.c, C.bool(enabled)) })
	}
}

// WithProxy sets the proxy for registry ("host[:port]"), replacing HTTP_PROXY,
// HTTPS_PROXY and NO_PROXY for it, loopback registries included:
// "http://[user:password@]host[:port]" (https goes through it with CONNECT), or "" for
// no proxy at all.
func WithProxy(registry, proxyURL string) Option {
	return func(cl *Client) error {
		var a cstrs
		defer a.free()
		r, p := a.str(registry, "the registry"), a.str(proxyURL, "the proxy URL")
		if a.err != nil {
			return a.err
		}
		return cl.do(func() C.rr_status { return C.rr_client_set_proxy(cl.c, r, p) })
	}
}

// MirrorPull says which reads a mirror serves, as registries.conf's pull-from-mirror.
type MirrorPull uint32

const (
	// MirrorPullAll: reads by tag and by digest ("all").
	MirrorPullAll MirrorPull = C.RR_MIRROR_PULL_ALL
	// MirrorPullDigestOnly: reads by digest only ("digest-only"); blobs and an index's
	// children are read by digest.
	MirrorPullDigestOnly MirrorPull = C.RR_MIRROR_PULL_DIGEST_ONLY
	// MirrorPullTagOnly: reads by tag only ("tag-only").
	MirrorPullTagOnly MirrorPull = C.RR_MIRROR_PULL_TAG_ONLY
)

// WithMirror adds the pull mirror mirror ("host[:port][/namespace]") after the mirrors
// of registry ("host[:port][/namespace]", "docker.io" for Docker Hub): reads of a
// repository below registry try the same path below the mirror first, each mirror once
// per request, passing over one that fails or lacks the content (the logger says so),
// then registry itself. Digests are verified as always; writes never go to a mirror. A
// plain-http mirror needs WithInsecure (loopback ones do not). May be given several
// times: mirrors are tried in that order.
func WithMirror(registry, mirror string, pull MirrorPull) Option {
	return func(cl *Client) error {
		var a cstrs
		defer a.free()
		r, m := a.str(registry, "the registry"), a.str(mirror, "the mirror")
		if a.err != nil {
			return a.err
		}
		return cl.do(func() C.rr_status { return C.rr_client_add_mirror(cl.c, r, m, C.uint32_t(pull)) })
	}
}

// WithRegistriesConf reads pull mirrors, remapped locations, insecure and blocked from a
// containers-registries.conf(5) file in its v2 format ([[registry]] and
// [[registry.mirror]] tables, with pull-from-mirror), from the *.conf files of a
// directory, or, for "", from the files Podman reads ($CONTAINERS_REGISTRIES_CONF, else
// ~/.config/containers/registries.conf if it exists, else /etc/containers/registries.conf,
// with their registries.conf.d drop-ins). Later entries of a prefix replace earlier ones.
// StatusIO when a file cannot be read, StatusInvalidArgument when it holds what rr cannot
// follow (the v1 format, among others); nothing is taken from it then.
func WithRegistriesConf(path string) Option {
	return func(cl *Client) error {
		var a cstrs
		defer a.free()
		p := a.optStr(path, "the registries.conf path")
		if a.err != nil {
			return a.err
		}
		return cl.do(func() C.rr_status { return C.rr_client_load_registries_conf(cl.c, p) })
	}
}

// WithBasicAuth sets the username and password for registry ("host[:port]",
// "index.docker.io" for Docker Hub); they come before every other credential source.
func WithBasicAuth(registry, username, password string) Option {
	return func(cl *Client) error {
		var a cstrs
		defer a.free()
		r, u, p := a.str(registry, "the registry"), a.str(username, "the username"), a.str(password, "the password")
		if a.err != nil {
			return a.err
		}
		return cl.do(func() C.rr_status { return C.rr_client_set_basic_auth(cl.c, r, u, p) })
	}
}

// WithKeychain turns the default keychain (Docker config.json, containers auth.json,
// credential helpers) on or off. On by default.
func WithKeychain(enabled bool) Option {
	return func(cl *Client) error {
		return cl.do(func() C.rr_status { return C.rr_client_set_keychain(cl.c, C.bool(enabled)) })
	}
}

// WithRetry sets the attempts per request (1 = no retry) and the first backoff, which
// doubles with jitter.
func WithRetry(maxAttempts int, initialBackoff time.Duration) Option {
	return func(cl *Client) error {
		if maxAttempts < 1 || maxAttempts > 1<<20 {
			return &Error{Status: StatusInvalidArgument, Message: "rr: maxAttempts must be at least 1"}
		}
		ms, err := millis(initialBackoff)
		if err != nil {
			return err
		}
		return cl.do(func() C.rr_status { return C.rr_client_set_retry(cl.c, C.uint32_t(maxAttempts), ms) })
	}
}

// WithTimeouts sets the connect timeout and the idle timeout (no byte read or written
// for that long); 0 means no limit. Millisecond resolution.
func WithTimeouts(connect, idle time.Duration) Option {
	return func(cl *Client) error {
		c, err := millis(connect)
		if err != nil {
			return err
		}
		i, err := millis(idle)
		if err != nil {
			return err
		}
		return cl.do(func() C.rr_status { return C.rr_client_set_timeout(cl.c, c, i) })
	}
}

// WithFirstByteTimeout bounds the time from the end of a request to its answer's head
// (default 30 s; 0 means no limit). A request that passes it is sent again once.
func WithFirstByteTimeout(d time.Duration) Option {
	return func(cl *Client) error {
		ms, err := millis64(d)
		if err != nil {
			return err
		}
		return cl.do(func() C.rr_status { return C.rr_client_set_first_byte_timeout(cl.c, ms) })
	}
}

// WithMinRate fails a response body slower than bytesPerSecond on average over window
// (default 1024 bytes/s over 30 s; 0 for either turns it off): a stalled blob resumes
// with Range, another request is sent again once.
func WithMinRate(bytesPerSecond uint64, window time.Duration) Option {
	return func(cl *Client) error {
		ms, err := millis64(window)
		if err != nil {
			return err
		}
		return cl.do(func() C.rr_status {
			return C.rr_client_set_min_rate(cl.c, C.uint64_t(bytesPerSecond), ms)
		})
	}
}

// WithDeadline sets the time every operation of the client may take in all (0: none, the
// default). A context's deadline applies on top of it, per call.
func WithDeadline(d time.Duration) Option {
	return func(cl *Client) error {
		ms, err := millis64(d)
		if err != nil {
			return err
		}
		return cl.do(func() C.rr_status { return C.rr_client_set_deadline(cl.c, ms) })
	}
}

func millis64(d time.Duration) (C.uint64_t, error) {
	if d < 0 {
		return 0, &Error{Status: StatusInvalidArgument, Message: "rr: duration out of range: " + d.String()}
	}
	ms := d.Milliseconds()
	if ms == 0 && d > 0 {
		ms = 1
	}
	return C.uint64_t(ms), nil
}

func millis(d time.Duration) (C.uint32_t, error) {
	if d < 0 || d.Milliseconds() > int64(^uint32(0)) {
		return 0, &Error{Status: StatusInvalidArgument, Message: "rr: duration out of range: " + d.String()}
	}
	ms := d.Milliseconds()
	if ms == 0 && d > 0 {
		ms = 1
	}
	return C.uint32_t(ms), nil
}

// WithAuthFunc sets a credential function (see AuthFunc). nil removes it.
func WithAuthFunc(f AuthFunc) Option {
	return func(cl *Client) error {
		cl.st.auth = f
		h := C.uintptr_t(cl.st.handle)
		if f == nil {
			h = 0
		}
		return cl.do(func() C.rr_status { return C.rrgo_set_auth(cl.c, h) })
	}
}

// WithProgress sets a progress function (see ProgressFunc). nil removes it.
func WithProgress(f ProgressFunc) Option {
	return func(cl *Client) error {
		cl.st.progress = f
		h := C.uintptr_t(cl.st.handle)
		if f == nil {
			h = 0
		}
		return cl.do(func() C.rr_status { return C.rrgo_set_progress(cl.c, h) })
	}
}

// WithBlobProgress sets a per-blob progress function (see BlobProgressFunc), for one
// line per layer as docker pull draws them: every operation starts with a BlobStarted
// event and one BlobWaiting per blob, and each blob ends in BlobExists, BlobMounted or
// BlobDone. It may be set beside WithProgress. nil removes it.
func WithBlobProgress(f BlobProgressFunc) Option {
	return func(cl *Client) error {
		cl.st.blobs = f
		h := C.uintptr_t(cl.st.handle)
		if f == nil {
			h = 0
		}
		return cl.do(func() C.rr_status { return C.rrgo_set_blob_progress(cl.c, h) })
	}
}

// WithLogger sets a function that receives one line per HTTP exchange, e.g.
// "GET https://host/v2/app/manifests/v1 -> 200 (12 ms)" (no headers, bodies or
// credentials). It may be called from several threads at once. nil removes it.
func WithLogger(f func(line string)) Option {
	return func(cl *Client) error {
		cl.st.logf = f
		h := C.uintptr_t(cl.st.handle)
		if f == nil {
			h = 0
		}
		return cl.do(func() C.rr_status { return C.rrgo_set_log(cl.c, h) })
	}
}

// WithTransport makes every request of the client go through rt, one exchange per
// RoundTrip (the library follows redirects and handles auth itself, so pass a
// RoundTripper, never an http.Client's redirect logic). nil means http.DefaultTransport.
// rt must be safe for concurrent use. Requests carry exactly the library's headers,
// plus "Accept-Encoding: identity" when the library names none, so that net/http never
// decompresses a body behind the library's back (blobs are verified by digest).
func WithTransport(rt http.RoundTripper) Option {
	return func(cl *Client) error {
		if rt == nil {
			rt = http.DefaultTransport
		}
		cl.st.transport = rt
		h := C.uintptr_t(cl.st.handle)
		return cl.do(func() C.rr_status { return C.rrgo_set_transport(cl.c, h) })
	}
}

// ---- operations ----

// withRef runs a C call that takes the client and one reference.
func (cl *Client) withRef(ctx context.Context, ref string, f func(c *C.rr_client, r *C.char) C.rr_status, more ...*clientState) error {
	var a cstrs
	defer a.free()
	r := a.str(ref, "the reference")
	if a.err != nil {
		return a.err
	}
	return cl.withContext(ctx, func(c *C.rr_client) C.rr_status { return f(c, r) }, more...)
}

// Get fetches the manifest behind ref (any media type).
func (cl *Client) Get(ctx context.Context, ref string) (*Descriptor, error) {
	var d *C.rr_descriptor
	err := cl.withRef(ctx, ref, func(c *C.rr_client, r *C.char) C.rr_status { return C.rr_get(c, r, &d) })
	if err != nil {
		return nil, err
	}
	desc := newDescriptor(d, cl.derived())
	desc.cl = cl
	return desc, nil
}

// Head asks for ref's descriptor without fetching the manifest (Manifest then fails).
func (cl *Client) Head(ctx context.Context, ref string) (*Descriptor, error) {
	var d *C.rr_descriptor
	err := cl.withRef(ctx, ref, func(c *C.rr_client, r *C.char) C.rr_status { return C.rr_head(c, r, &d) })
	if err != nil {
		return nil, err
	}
	desc := newDescriptor(d, cl.derived())
	desc.cl = cl
	return desc, nil
}

// Image opens the image behind ref; an index resolves by the client's platform. Only the
// manifest is fetched; the config comes on the first Config call.
func (cl *Client) Image(ctx context.Context, ref string) (*Image, error) {
	var p *C.rr_image
	err := cl.withRef(ctx, ref, func(c *C.rr_client, r *C.char) C.rr_status { return C.rr_image_open(c, r, &p) })
	if err != nil {
		return nil, err
	}
	img := newImage(p, cl.derived())
	img.cl = cl
	return img, nil
}

// Index opens the index behind ref (StatusUnsupported when it is an image).
func (cl *Client) Index(ctx context.Context, ref string) (*Index, error) {
	var p *C.rr_index
	err := cl.withRef(ctx, ref, func(c *C.rr_client, r *C.char) C.rr_status { return C.rr_index_open(c, r, &p) })
	if err != nil {
		return nil, err
	}
	idx := newIndex(p, cl.derived())
	idx.cl = cl
	return idx, nil
}

// List returns every tag of repository ("registry/repository", no tag or digest).
func (cl *Client) List(ctx context.Context, repository string) ([]string, error) {
	var l *C.rr_string_list
	err := cl.withRef(ctx, repository, func(c *C.rr_client, r *C.char) C.rr_status { return C.rr_list(c, r, &l) })
	if err != nil {
		return nil, err
	}
	return stringList(l), nil
}

// Catalog returns every repository of registry ("host[:port]").
func (cl *Client) Catalog(ctx context.Context, registry string) ([]string, error) {
	var l *C.rr_string_list
	err := cl.withRef(ctx, registry, func(c *C.rr_client, r *C.char) C.rr_status { return C.rr_catalog(c, r, &l) })
	if err != nil {
		return nil, err
	}
	return stringList(l), nil
}

// RateLimit is what a registry announced about its rate limit on the last manifest
// response that said anything (RateLimit-Limit, RateLimit-Remaining, Docker Hub's
// "100;w=21600" form). A value it did not give is -1.
type RateLimit struct {
	Limit         int64 // requests allowed per window
	Remaining     int64 // requests left in the current window
	WindowSeconds int64 // the window
}

// RateLimit returns the last rate limit registry ("host[:port]", "index.docker.io" for
// Docker Hub; a mirror's host for reads through it) announced to this client. An error
// with StatusNotFound when it announced none.
func (cl *Client) RateLimit(registry string) (RateLimit, error) {
	var limit, remaining, window C.int64_t
	err := cl.withRef(context.Background(), registry, func(c *C.rr_client, r *C.char) C.rr_status { // a lookup, no request
		return C.rr_client_rate_limit(c, r, &limit, &remaining, &window)
	})
	if err != nil {
		return RateLimit{}, err
	}
	return RateLimit{Limit: int64(limit), Remaining: int64(remaining), WindowSeconds: int64(window)}, nil
}

// RateLimitRegistries returns the registries that announced a rate limit to this
// client, sorted.
func (cl *Client) RateLimitRegistries() ([]string, error) {
	var l *C.rr_string_list
	err := cl.do(func() C.rr_status { return C.rr_client_rate_limit_registries(cl.ptr(), &l) })
	if err != nil {
		return nil, err
	}
	return stringList(l), nil
}

// ListPages gives the tags of repository a registry page at a time, as they arrive, each
// once: librr holds the page at hand and an 8-byte hash of each tag given, never the
// whole list (a repository with 100 000 tags costs about 1 MiB besides one page):
//
//	for page, err := range cl.ListPages(ctx, repo) {
//		if err != nil { ... }     // the last value: the listing failed
//		for _, tag := range page { ... }
//	}
//
// The page size is the registry's own or WithPageSize's. A failure ends
// the sequence with one (nil, err), after the pages before it. Leaving the loop early
// (break, return, a panic) stops the listing before its next request. The listing runs
// on a goroutine of its own, which waits for the loop body to be done with each page
// before it asks for the next. Ending ctx ends the listing as a failure wrapping ctx.Err().
func (cl *Client) ListPages(ctx context.Context, repository string) iter.Seq2[[]string, error] {
	return cl.pages(ctx, repository, "the repository", func(c *C.rr_client, s *C.char, h C.uintptr_t) C.rr_status {
		return C.rrgo_list_pages(c, s, h)
	})
}

// CatalogPages gives the repositories of registry ("host[:port]") a page at a time, as
// ListPages gives tags.
func (cl *Client) CatalogPages(ctx context.Context, registry string) iter.Seq2[[]string, error] {
	return cl.pages(ctx, registry, "the registry", func(c *C.rr_client, s *C.char, h C.uintptr_t) C.rr_status {
		return C.rrgo_catalog_pages(c, s, h)
	})
}

// pages runs a page-by-page listing on a goroutine of its own and hands its pages to the
// loop: the loop body then never runs inside a C callback, so it may block, call librr,
// panic or end the goroutine (t.FailNow) like any Go code.
func (cl *Client) pages(ctx context.Context, arg, what string, list func(c *C.rr_client, s *C.char, h C.uintptr_t) C.rr_status) iter.Seq2[[]string, error] {
	return func(yield func([]string, error) bool) {
		var a cstrs
		defer a.free()
		s := a.str(arg, what)
		if a.err != nil {
			yield(nil, a.err)
			return
		}
		pw := &pageWriter{pages: make(chan []string), next: make(chan struct{}), stop: make(chan struct{})}
		h := cgo.NewHandle(pw)
		defer h.Delete()
		type result struct {
			err      error
			panicked bool
			panicVal any
		}
		done := make(chan result, 1)
		go func() {
			var r result
			defer func() {
				// A client callback's panic, raised again by call after the C call.
				if v := recover(); v != nil {
					r.panicked, r.panicVal = true, v
				}
				close(pw.pages)
				done <- r
			}()
			r.err = cl.withContext(ctx, func(c *C.rr_client) C.rr_status { return list(c, s, C.uintptr_t(h)) })
		}()
		finished := false
		finish := func() result {
			finished = true
			close(pw.stop)
			for range pw.pages {
			}
			r := <-done
			if pw.panicked {
				r.panicked, r.panicVal = true, pw.panicVal
			}
			return r
		}
		// The loop body panicked or ended its goroutine: stop the listing and wait for it.
		defer func() {
			if !finished {
				finish()
			}
		}()
		for page := range pw.pages {
			if !yield(page, nil) {
				if r := finish(); r.panicked {
					panic(r.panicVal)
				}
				return // the StatusCancelled of the stop is no failure
			}
			pw.next <- struct{}{}
		}
		r := finish()
		if r.panicked {
			panic(r.panicVal)
		}
		if r.err != nil {
			yield(nil, r.err)
		}
	}
}

func stringList(l *C.rr_string_list) []string {
	defer C.rr_string_list_free(l)
	n := int(C.rr_string_list_len(l))
	out := make([]string, n)
	for i := range out {
		out[i] = goString(C.rr_string_list_get(l, C.size_t(i)))
	}
	return out
}

// Write pushes img under ref (a tag or digest): every blob the registry lacks (mounted
// from another repository of the same registry when possible), then the manifest.
func (cl *Client) Write(ctx context.Context, ref string, img *Image) error {
	if img == nil {
		return errNil("image")
	}
	err := cl.withRef(ctx, ref, func(c *C.rr_client, r *C.char) C.rr_status { return C.rr_write(c, r, img.ptr()) }, img.state()...)
	runtime.KeepAlive(img)
	return err
}

// WriteIndex pushes idx (children first) under ref.
func (cl *Client) WriteIndex(ctx context.Context, ref string, idx *Index) error {
	if idx == nil {
		return errNil("index")
	}
	err := cl.withRef(ctx, ref, func(c *C.rr_client, r *C.char) C.rr_status { return C.rr_write_index(c, r, idx.ptr()) }, idx.state()...)
	runtime.KeepAlive(idx)
	return err
}

// PutManifest PUTs manifest as the manifest at ref (a tag or a digest), byte for byte, as
// go-containerregistry's remote.Put does: nothing else is pushed, so the blobs and
// manifests it names must be in ref's repository already. mediaType is the Content-Type
// ("" takes the manifest's own mediaType, else what its fields say). Before anything is
// sent librr checks that manifest is a JSON object of at most 4 MiB, that its own
// mediaType (if any) is mediaType, that an image or index media type parses as that
// manifest, and that a digest ref is its sha256: StatusInvalidArgument otherwise, and
// no request is made. Returns the descriptor of what was sent (the caller closes it).
func (cl *Client) PutManifest(ctx context.Context, ref, mediaType string, manifest []byte) (*Descriptor, error) {
	var a cstrs
	defer a.free()
	r, m := a.str(ref, "the reference"), a.optStr(mediaType, "the media type")
	if a.err != nil {
		return nil, a.err
	}
	if len(manifest) == 0 {
		return nil, &Error{Status: StatusInvalidArgument, Message: "rr: the manifest is empty"}
	}
	var d *C.rr_descriptor
	p := (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(manifest)))
	err := cl.withContext(ctx, func(c *C.rr_client) C.rr_status { return C.rr_put_manifest(c, r, m, p, C.size_t(len(manifest)), &d) })
	runtime.KeepAlive(manifest)
	if err != nil {
		return nil, err
	}
	desc := newDescriptor(d, cl.derived())
	desc.cl = cl
	return desc, nil
}

// Copy copies the image or whole index at src to dst.
func (cl *Client) Copy(ctx context.Context, src, dst string) error {
	var a cstrs
	defer a.free()
	s, d := a.str(src, "the source reference"), a.str(dst, "the destination reference")
	if a.err != nil {
		return a.err
	}
	return cl.withContext(ctx, func(c *C.rr_client) C.rr_status { return C.rr_copy(c, s, d) })
}

// Tag gives the manifest behind ref another tag in the same repository.
func (cl *Client) Tag(ctx context.Context, ref, newTag string) error {
	var a cstrs
	defer a.free()
	r, t := a.str(ref, "the reference"), a.str(newTag, "the tag")
	if a.err != nil {
		return a.err
	}
	return cl.withContext(ctx, func(c *C.rr_client) C.rr_status { return C.rr_tag(c, r, t) })
}

// Delete deletes the manifest ref names by digest, or the tag it names (a registry that
// refuses tag deletion gives StatusUnsupported).
func (cl *Client) Delete(ctx context.Context, ref string) error {
	return cl.withRef(ctx, ref, func(c *C.rr_client, r *C.char) C.rr_status { return C.rr_delete(c, r) })
}

// CheckPushPermission reports whether the client may push to ref's repository: nil, or
// an *Error with StatusUnauthorized or StatusDenied. It opens an upload and cancels it.
func (cl *Client) CheckPushPermission(ctx context.Context, ref string) error {
	return cl.withRef(ctx, ref, func(c *C.rr_client, r *C.char) C.rr_status { return C.rr_check_push_permission(c, r) })
}

func errNil(what string) error {
	return &Error{Status: StatusInvalidArgument, Message: "rr: the " + what + " is nil"}
}
