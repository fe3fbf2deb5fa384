// Command ggcr-referrers is the rr test harness's OCI 1.1 referrers registry:
// go-containerregistry's in-memory registry (pkg/registry) with its referrers API on,
// behind a middleware that adds what the harness needs and that registry lacks.
//
// go-containerregistry v0.22.1 answers GET /v2/<name>/referrers/<digest> with one
// unpaginated index of every manifest whose subject is <digest>, ignores every query
// parameter (no artifactType filtering, no OCI-Filters-Applied), takes each entry's
// artifactType from config.mediaType only, and answers a PUT of a manifest with a subject
// without an OCI-Subject header. The middleware, always:
//
//   - sets each entry's artifactType from the manifest's own artifactType field when it
//     has one (as the distribution spec says; config.mediaType otherwise, as before),
//     from the manifests it has seen PUT;
//   - answers a PUT of a manifest with a subject that succeeds with
//     OCI-Subject: <subject digest>, as the spec says a registry with the referrers API
//     must (-no-oci-subject: as go-containerregistry does, without it; clients such as
//     oras then fall back to the referrers tag schema and push a sha256-<hex> index);
//   - sorts the entries by digest, so that pages are stable;
//   - logs each referrers GET with the URI the client sent, in the registry's own log
//     format (the registry's line for the request it was handed is dropped).
//
// and, by flag:
//
//	-referrers-page-size N  pages of N entries, each a whole OCI index with the same
//	                        headers, every page but the last with
//	                        Link: </v2/<name>/referrers/<digest>?...&last=<digest>>; rel="next"
//	                        (last: the digest of the previous page's last entry; the
//	                        client's other query parameters are kept)
//	-ignore-filters         artifactType is removed from the query before the registry
//	                        sees it: answers are unfiltered, without OCI-Filters-Applied
//	                        (what v0.22.1 does anyway: this keeps it so with a registry
//	                        that would filter)
//	-apply-filters          the middleware filters on artifactType and says so with
//	                        OCI-Filters-Applied: artifactType
//	-no-oci-subject         no OCI-Subject header on manifest PUTs
//
// Like go-containerregistry's cmd/registry it logs "serving on port N" on stderr once it
// listens, then one line per request.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// cursorParam names the query parameter of a next page's URL: the digest of the last
// entry of the page before it.
const cursorParam = "last"

// maxManifestBytes bounds the manifest bodies the middleware reads on a PUT.
const maxManifestBytes = 16 << 20

func main() {
	port := flag.Int("port", 0, "port to listen on, on 127.0.0.1 (0: a free one; the port is logged)")
	pageSize := flag.Int("referrers-page-size", 0, "referrers entries per page (0: one page)")
	ignoreFilters := flag.Bool("ignore-filters", false, "strip artifactType from referrers queries: answer unfiltered")
	applyFilters := flag.Bool("apply-filters", false, "filter referrers on artifactType and set OCI-Filters-Applied")
	noOCISubject := flag.Bool("no-oci-subject", false, "no OCI-Subject header in answers to PUTs of manifests with a subject")
	flag.Parse()
	if *pageSize < 0 {
		log.Fatalf("-referrers-page-size must be 0 or more, not %d", *pageSize)
	}
	if *ignoreFilters && *applyFilters {
		log.Fatal("-ignore-filters and -apply-filters exclude each other")
	}

	m := &middleware{
		next: registry.New(
			registry.WithReferrersSupport(true),
			registry.Logger(log.New(referrersLineDropper{os.Stderr}, "", log.LstdFlags)),
		),
		log:           log.New(os.Stderr, "", log.LstdFlags),
		pageSize:      *pageSize,
		ignoreFilters: *ignoreFilters,
		applyFilters:  *applyFilters,
		ociSubject:    !*noOCISubject,
		artifactTypes: map[string]string{},
	}

	listener, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("serving on port %d", listener.Addr().(*net.TCPAddr).Port)
	s := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: m}
	log.Fatal(s.Serve(listener))
}

type middleware struct {
	next          http.Handler
	log           *log.Logger
	pageSize      int
	ignoreFilters bool
	applyFilters  bool
	ociSubject    bool

	mu sync.Mutex
	// artifactTypes holds the artifactType field of every manifest PUT that had one,
	// by manifest digest.
	artifactTypes map[string]string
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	elems := pathElems(req.URL.Path)
	switch {
	case req.Method == http.MethodGet && isReferrers(elems):
		m.serveReferrers(w, req)
	case req.Method == http.MethodPut && isManifest(elems):
		m.putManifest(w, req)
	default:
		m.next.ServeHTTP(w, req)
	}
}

// pathElems splits "/v2/a/b/referrers/x" into ["v2" "a" "b" "referrers" "x"].
func pathElems(path string) []string {
	return strings.Split(strings.TrimPrefix(path, "/"), "/")
}

// isReferrers is go-containerregistry's test for its referrers route (no path it takes
// for a blob, manifest, tags or catalog one has "referrers" there), under /v2/.
func isReferrers(elems []string) bool {
	n := len(elems)
	return n >= 4 && elems[0] == "v2" && elems[n-2] == "referrers"
}

// isManifest is go-containerregistry's test for its manifests route.
func isManifest(elems []string) bool {
	n := len(elems)
	return n >= 4 && elems[0] == "v2" && elems[n-2] == "manifests"
}

// putManifest hands a manifest PUT to the registry, remembering the manifest's
// artifactType and (without -no-oci-subject) answering OCI-Subject when it has a subject.
func (m *middleware) putManifest(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, maxManifestBytes+1))
	if err != nil || len(body) > maxManifestBytes {
		m.next.ServeHTTP(w, req) // the registry answers what is left of it
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	var fields struct {
		ArtifactType string `json:"artifactType"`
		Subject      *struct {
			Digest string `json:"digest"`
		} `json:"subject"`
	}
	_ = json.Unmarshal(body, &fields) // the registry judges the manifest itself
	sum := sha256.Sum256(body)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	m.next.ServeHTTP(&onCreated{ResponseWriter: w, created: func(h http.Header) {
		if fields.ArtifactType != "" {
			m.mu.Lock()
			m.artifactTypes[digest] = fields.ArtifactType
			m.mu.Unlock()
		}
		if m.ociSubject && fields.Subject != nil && fields.Subject.Digest != "" {
			h.Set("OCI-Subject", fields.Subject.Digest)
		}
	}}, req)
}

// onCreated calls created with the headers just before a 201 is written.
type onCreated struct {
	http.ResponseWriter
	created func(http.Header)
	wrote   bool
}

func (o *onCreated) WriteHeader(code int) {
	if !o.wrote && code == http.StatusCreated {
		o.created(o.Header())
	}
	o.wrote = true
	o.ResponseWriter.WriteHeader(code)
}

func (o *onCreated) Write(b []byte) (int, error) {
	if !o.wrote {
		o.WriteHeader(http.StatusOK)
	}
	return o.ResponseWriter.Write(b)
}

// serveReferrers asks the registry for the whole referrers index, then answers the
// page the query names.
func (m *middleware) serveReferrers(w http.ResponseWriter, req *http.Request) {
	query := req.URL.Query()
	after := query.Get(cursorParam)
	artifactType := query.Get("artifactType")
	innerQuery := url.Values{}
	for k, v := range query {
		if k == cursorParam || (k == "artifactType" && (m.ignoreFilters || m.applyFilters)) {
			continue
		}
		innerQuery[k] = v
	}
	inner := req.Clone(req.Context())
	innerURL := *req.URL
	innerURL.RawQuery = innerQuery.Encode()
	inner.URL = &innerURL
	inner.RequestURI = innerURL.RequestURI()

	rec := httptest.NewRecorder()
	m.next.ServeHTTP(rec, inner)
	if rec.Code != http.StatusOK {
		m.logAnswer(req, rec.Code, rec.Body.Bytes())
		copyHeaders(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return
	}
	var index v1.IndexManifest
	if err := json.Unmarshal(rec.Body.Bytes(), &index); err != nil {
		m.fail(w, req, fmt.Sprintf("the registry's referrers index does not parse: %v", err))
		return
	}

	m.mu.Lock()
	for i := range index.Manifests {
		if t, ok := m.artifactTypes[index.Manifests[i].Digest.String()]; ok {
			index.Manifests[i].ArtifactType = t
		}
	}
	m.mu.Unlock()
	filtered := m.applyFilters && artifactType != ""
	if filtered {
		kept := index.Manifests[:0]
		for _, d := range index.Manifests {
			if d.ArtifactType == artifactType {
				kept = append(kept, d)
			}
		}
		index.Manifests = kept
	}
	sort.Slice(index.Manifests, func(i, j int) bool {
		return index.Manifests[i].Digest.String() < index.Manifests[j].Digest.String()
	})
	page := index.Manifests
	if after != "" {
		start := sort.Search(len(page), func(i int) bool { return page[i].Digest.String() > after })
		page = page[start:]
	}
	more := m.pageSize > 0 && len(page) > m.pageSize
	if more {
		page = page[:m.pageSize]
	}
	index.Manifests = append([]v1.Descriptor{}, page...)
	body, err := json.Marshal(&index)
	if err != nil {
		m.fail(w, req, err.Error())
		return
	}

	h := w.Header()
	copyHeaders(h, rec.Header())
	h.Set("Content-Length", fmt.Sprint(len(body)))
	switch {
	case filtered:
		h.Set("OCI-Filters-Applied", "artifactType")
	case m.ignoreFilters || m.applyFilters:
		h.Del("OCI-Filters-Applied")
	}
	if more {
		next := url.Values{}
		for k, v := range query {
			next[k] = v
		}
		next.Set(cursorParam, page[len(page)-1].Digest.String())
		h.Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, req.URL.EscapedPath(), next.Encode()))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	m.logAnswer(req, http.StatusOK, nil)
}

func copyHeaders(to, from http.Header) {
	for k, v := range from {
		to[k] = append([]string(nil), v...)
	}
}

// fail answers 500 with a registry error.
func (m *middleware) fail(w http.ResponseWriter, req *http.Request, message string) {
	body, _ := json.Marshal(map[string]any{"errors": []map[string]string{{"code": "UNKNOWN", "message": message}}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write(body)
	m.logAnswer(req, http.StatusInternalServerError, body)
}

// logAnswer logs a request as go-containerregistry's registry does: "METHOD URI" for a
// success, "METHOD URI STATUS CODE MESSAGE" for an error.
func (m *middleware) logAnswer(req *http.Request, status int, errorBody []byte) {
	if status < 400 {
		m.log.Printf("%s %s", req.Method, req.URL)
		return
	}
	var e struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	_ = json.Unmarshal(errorBody, &e)
	code, message := "UNKNOWN", ""
	if len(e.Errors) > 0 {
		code, message = e.Errors[0].Code, e.Errors[0].Message
	}
	m.log.Printf("%s %s %d %s %s", req.Method, req.URL, status, code, message)
}

// referrersLineDropper passes the registry's log lines on, but for those of the referrers
// GETs the middleware handed it, which the middleware logs itself as the client sent
// them. Every referrers GET goes through the middleware, so every such line is one of
// those. A log.Logger writes each line with one Write.
type referrersLineDropper struct{ w io.Writer }

func (d referrersLineDropper) Write(p []byte) (int, error) {
	// "2006/01/02 15:04:05 GET /v2/x/referrers/sha256:... [STATUS CODE MESSAGE]"
	f := strings.Fields(string(p))
	if len(f) >= 4 && f[2] == http.MethodGet {
		path, _, _ := strings.Cut(f[3], "?")
		if isReferrers(pathElems(path)) {
			return len(p), nil
		}
	}
	return d.w.Write(p)
}
