/*
 * curl_transport: librr with the host's own HTTP stack (libcurl) behind
 * rr_client_set_transport. The library builds every request (auth headers
 * included), follows redirects, retries and verifies; this program only
 * performs one exchange per call and hands the response body back lazily.
 *
 *   curl_transport [OPTIONS] SRC DST           pull SRC, then copy it to DST
 *   curl_transport [OPTIONS] --build LAYER DST build an image from LAYER, push it
 *
 * Pull: rr_image_open(SRC) (an index resolves to linux/amd64), rr_image_config,
 * and every layer streamed with rr_image_layer_read into a byte counter,
 * printed as `image: DIGEST`, `config: N bytes`, `layer I: DIGEST N bytes`.
 * Copy: rr_copy(SRC, DST). Build: rr_image_builder with the layer file(s)
 * (--build may be given several times), rr_write(DST), printed as
 * `built: DIGEST`. Both end with `digest: DIGEST` (rr_head of DST) and the
 * transport's counters: `exchanges: N`, `sent: N bytes`, `received: N bytes`
 * (request and response bodies that went through libcurl).
 *
 * Options: those of every example (common.h: -j N, --insecure HOST[:PORT],
 * -u USER -p PASS, --no-keychain), where --insecure also turns TLS verification
 * off for that host (and port, when given) only, and
 *   --user-agent TEXT        put TEXT in front of the library's User-Agent
 *   -v                       one line per exchange on stderr (method, URL, status,
 *                            and whether it opened a new connection)
 *
 * Exit status: 0, 2 not found, 3 unauthorized or denied, 1 other, 64 usage.
 *
 * How the transport meets the contract of rr.h ("Host-supplied HTTP"):
 * - one exchange per call, CURLOPT_FOLLOWLOCATION off, no curl authentication;
 * - exactly the library's headers: curl's own `Accept: * / *`, `Expect:
 *   100-continue` and POST `Content-Type` are removed unless the library set them;
 * - the request body streams from rr_http_request_read_body (CURLOPT_READFUNCTION)
 *   while the callback runs; the response body is NOT buffered: each exchange
 *   runs on its own curl multi handle, the callback drives it only until the
 *   final response headers are in, and the body reader drives it further on
 *   demand. A chunk curl delivers while the previous one is unread pauses the
 *   transfer (CURL_WRITEFUNC_PAUSE) until the library reads again, so at most
 *   one chunk (CURLOPT_BUFFERSIZE, 64 KiB) per response is held here.
 * - the close function stops the transfer, and returns the connection to a
 *   small pool (connections are reused across exchanges, one thread at a time).
 */
#define _POSIX_C_SOURCE 200809L /* strdup, strcasecmp, pthread */

#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"
#include "rr.h"

#define PROG "curl_transport"
#define MAX_LAYERS 16
#define POOL_MAX 16
#define RECV_BUFFER_SIZE (64L * 1024L)
#define SEND_BUFFER_SIZE (256L * 1024L)
#define CONNECT_TIMEOUT_MS 30000L
#define IDLE_TIMEOUT_S 60L

static void *xmalloc(size_t n) {
    void *p = malloc(n > 0 ? n : 1);
    if (p == NULL) {
        fputs(PROG ": out of memory\n", stderr);
        exit(EXIT_FAILURE);
    }
    return p;
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n > 0 ? n : 1);
    if (q == NULL) {
        fputs(PROG ": out of memory\n", stderr);
        exit(EXIT_FAILURE);
    }
    return q;
}

/* ---- the transport's shared state ---------------------------------------- */

/* One curl multi handle with its easy handle: the multi keeps the connection
   cache, so pooling the pair reuses connections. Used by one thread at a time. */
struct conn {
    CURLM *multi;
    CURL *easy;
    struct conn *next;
};

/* The userdata of the transport callback, shared by every thread the library
   calls it from: the pool is behind a mutex, the counters are atomic. */
struct transport {
    const char *insecure; /* HOST or HOST:PORT whose TLS is not verified, or NULL */
    bool verbose;
    pthread_mutex_t lock; /* guards pool, pooled and last_error */
    struct conn *pool;
    size_t pooled;
    char last_error[CURL_ERROR_SIZE + 256];
    atomic_uint_fast64_t exchanges;
    atomic_uint_fast64_t sent;
    atomic_uint_fast64_t received;
};

static void transport_init(struct transport *t, const char *insecure, bool verbose) {
    memset(t, 0, sizeof *t);
    t->insecure = insecure;
    t->verbose = verbose;
    pthread_mutex_init(&t->lock, NULL);
    atomic_init(&t->exchanges, 0);
    atomic_init(&t->sent, 0);
    atomic_init(&t->received, 0);
}

static void conn_free(struct conn *c) {
    if (c != NULL) {
        curl_easy_cleanup(c->easy);
        curl_multi_cleanup(c->multi);
        free(c);
    }
}

/* Frees the pool. Only once the library no longer uses the transport: after
   rr_client_free and after every handle made through the client is freed. */
static void transport_destroy(struct transport *t) {
    while (t->pool != NULL) {
        struct conn *c = t->pool;
        t->pool = c->next;
        conn_free(c);
    }
    pthread_mutex_destroy(&t->lock);
}

/* Remembers why the last exchange failed, for the error report. */
static void transport_failed(struct transport *t, const char *fmt, ...) {
    char line[sizeof t->last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&t->lock);
    memcpy(t->last_error, line, sizeof line);
    pthread_mutex_unlock(&t->lock);
    if (t->verbose) {
        fprintf(stderr, PROG ": %s\n", line);
    }
}

static struct conn *conn_take(struct transport *t) {
    pthread_mutex_lock(&t->lock);
    struct conn *c = t->pool;
    if (c != NULL) {
        t->pool = c->next;
        t->pooled--;
    }
    pthread_mutex_unlock(&t->lock);
    if (c != NULL) {
        return c; /* reset by exchange_free */
    }
    c = xmalloc(sizeof *c);
    c->multi = curl_multi_init();
    c->easy = curl_easy_init();
    c->next = NULL;
    if (c->multi == NULL || c->easy == NULL) {
        conn_free(c);
        return NULL;
    }
    return c;
}

static void conn_give_back(struct transport *t, struct conn *c) {
    pthread_mutex_lock(&t->lock);
    if (t->pooled < POOL_MAX) {
        c->next = t->pool;
        t->pool = c;
        t->pooled++;
        c = NULL;
    }
    pthread_mutex_unlock(&t->lock);
    conn_free(c);
}

/* ---- one exchange ---------------------------------------------------------- */

/* A response header line as curl delivered it, without CR LF. */
struct header_lines {
    char **lines;
    size_t len;
    size_t cap;
};

static void header_lines_clear(struct header_lines *h) {
    for (size_t i = 0; i < h->len; i++) {
        free(h->lines[i]);
    }
    h->len = 0;
}

static void header_lines_free(struct header_lines *h) {
    header_lines_clear(h);
    free(h->lines);
    h->lines = NULL;
    h->cap = 0;
}

static void header_lines_push(struct header_lines *h, const char *s, size_t n) {
    if (h->len == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->lines = xrealloc(h->lines, h->cap * sizeof *h->lines);
    }
    char *line = xmalloc(n + 1);
    memcpy(line, s, n);
    line[n] = '\0';
    h->lines[h->len++] = line;
}

/* Appends a folded continuation line (obs-fold) to the last header. */
static void header_lines_continue(struct header_lines *h, const char *s, size_t n) {
    if (h->len == 0) {
        return;
    }
    char *last = h->lines[h->len - 1];
    size_t old = strlen(last);
    last = xrealloc(last, old + 1 + n + 1);
    last[old] = ' ';
    memcpy(last + old + 1, s, n);
    last[old + 1 + n] = '\0';
    h->lines[h->len - 1] = last;
}

/* One request and its response. During the transport callback `req` is the
   library's request; afterwards this is the body's userdata, read and closed
   by the library, possibly on another thread (never two at once). */
struct exchange {
    struct transport *t;
    struct conn *conn;
    struct curl_slist *headers;
    rr_http_request *req; /* NULL once the callback has returned */
    bool upload_failed;   /* rr_http_request_read_body said -1 */
    bool head;

    struct header_lines response_headers; /* of the current (final) response */
    bool headers_done;

    /* The transfer: done once curl reports CURLMSG_DONE (result then holds
       its outcome). `chunk` holds the bytes curl gave that the library has
       not read yet ([pos, len)); while they are there, further data pauses
       the transfer. */
    bool done;
    CURLcode result;
    bool paused;
    char *chunk;
    size_t pos;
    size_t len;
    size_t cap;
    char error[CURL_ERROR_SIZE];
};

static size_t on_header(char *data, size_t size, size_t nitems, void *userdata) {
    struct exchange *x = userdata;
    size_t n = size * nitems;
    if (x->headers_done) {
        return n; /* trailers of a chunked body: not part of the response headers */
    }
    size_t len = n;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r')) {
        len--;
    }
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* A status line starts a response: an interim 1xx one is forgotten. */
        header_lines_clear(&x->response_headers);
    } else if (len == 0) {
        /* The end of a header block: final unless it was a 1xx response. */
        long status = 0;
        curl_easy_getinfo(x->conn->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200) {
            x->headers_done = true;
        }
    } else if (data[0] == ' ' || data[0] == '\t') {
        header_lines_continue(&x->response_headers, data, len);
    } else {
        header_lines_push(&x->response_headers, data, len);
    }
    return n;
}

static size_t on_body(char *data, size_t size, size_t nitems, void *userdata) {
    struct exchange *x = userdata;
    size_t n = size * nitems;
    if (x->pos < x->len) {
        /* The library has not read the previous chunk: wait for it. curl keeps
           this data and delivers it again after curl_easy_pause(CONT). */
        x->paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (n > x->cap) {
        x->chunk = xrealloc(x->chunk, n);
        x->cap = n;
    }
    memcpy(x->chunk, data, n);
    x->pos = 0;
    x->len = n;
    atomic_fetch_add(&x->t->received, (uint_fast64_t)n);
    return n;
}

static size_t on_upload(char *buf, size_t size, size_t nitems, void *userdata) {
    struct exchange *x = userdata;
    if (x->req == NULL) {
        /* The server answered before it took the whole body and the callback
           has returned: the request handle is gone, so the upload stops. */
        return CURL_READFUNC_ABORT;
    }
    int64_t n = rr_http_request_read_body(x->req, (uint8_t *)buf, size * nitems);
    if (n < 0) {
        x->upload_failed = true; /* the library reports its own reason */
        return CURL_READFUNC_ABORT;
    }
    atomic_fetch_add(&x->t->sent, (uint_fast64_t)n);
    return (size_t)n;
}

/* Runs the transfer as far as it can go now without waiting; notes its end. */
static void step(struct exchange *x) {
    int running = 0;
    CURLMcode mc = curl_multi_perform(x->conn->multi, &running);
    if (mc != CURLM_OK) {
        x->done = true;
        x->result = CURLE_RECV_ERROR;
        snprintf(x->error, sizeof x->error, "%s", curl_multi_strerror(mc));
        return;
    }
    int queued = 0;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(x->conn->multi, &queued)) != NULL) {
        if (msg->msg == CURLMSG_DONE) {
            x->done = true;
            x->result = msg->data.result;
        }
    }
}

/* Waits (up to a second, or curl's own next timeout) for the sockets. */
static void wait_for_sockets(struct exchange *x) {
    curl_multi_poll(x->conn->multi, NULL, 0, 1000, NULL);
}

/* Ends the exchange: stops the transfer if it still runs (curl then closes
   its connection) and gives the handles back to the pool. */
static void exchange_free(struct exchange *x) {
    if (x->conn != NULL) {
        curl_multi_remove_handle(x->conn->multi, x->conn->easy);
        /* Forget the pointers into `x` (callbacks' data, error buffer, header
           list); the connection stays in the multi handle's cache. */
        curl_easy_reset(x->conn->easy);
        conn_give_back(x->t, x->conn);
    }
    curl_slist_free_all(x->headers);
    header_lines_free(&x->response_headers);
    free(x->chunk);
    free(x);
}

/* rr_body_read_fn: serves the buffered chunk, else lets curl fetch the next. */
static int64_t body_read(void *userdata, uint8_t *buf, size_t cap) {
    struct exchange *x = userdata;
    bool wait = false;
    for (;;) {
        if (x->pos < x->len) {
            size_t n = x->len - x->pos;
            if (n > cap) {
                n = cap;
            }
            memcpy(buf, x->chunk + x->pos, n);
            x->pos += n;
            return (int64_t)n;
        }
        if (x->done) {
            if (x->result != CURLE_OK) {
                transport_failed(x->t, "reading the body: %s",
                                 x->error[0] ? x->error : curl_easy_strerror(x->result));
                return -1;
            }
            return 0;
        }
        if (x->paused) {
            /* Delivers the held data, maybe at once through on_body. */
            x->paused = false;
            wait = false;
            CURLcode rc = curl_easy_pause(x->conn->easy, CURLPAUSE_CONT);
            if (rc != CURLE_OK) {
                x->done = true;
                x->result = rc;
            }
            continue;
        }
        if (wait) {
            wait_for_sockets(x);
        }
        step(x);
        wait = true;
    }
}

/* rr_body_close_fn: called exactly once per body. */
static void body_close(void *userdata) {
    exchange_free(userdata);
}

/* ---- the transport callback ------------------------------------------------ */

static bool has_header(const rr_http_request *req, const char *name) {
    size_t count = rr_http_request_header_count(req);
    for (size_t i = 0; i < count; i++) {
        if (strcasecmp(rr_http_request_header_name(req, i), name) == 0) {
            return true;
        }
    }
    return false;
}

/* The library's headers as given, then curl's defaults switched off ("Name:"
   removes a header curl would add) where the library did not ask for them. */
static struct curl_slist *request_headers(const rr_http_request *req) {
    struct curl_slist *list = NULL;
    size_t count = rr_http_request_header_count(req);
    for (size_t i = 0; i < count; i++) {
        const char *name = rr_http_request_header_name(req, i);
        const char *value = rr_http_request_header_value(req, i);
        size_t size = strlen(name) + strlen(value) + 3;
        char *line = xmalloc(size);
        if (value[0] == '\0') {
            snprintf(line, size, "%s;", name); /* curl's syntax for an empty value */
        } else {
            snprintf(line, size, "%s: %s", name, value);
        }
        struct curl_slist *next = curl_slist_append(list, line);
        free(line);
        if (next == NULL) {
            curl_slist_free_all(list);
            return NULL;
        }
        list = next;
    }
    static const char *const defaults[] = {"Accept", "Expect", "Content-Type"};
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        if (!has_header(req, defaults[i])) {
            char line[32];
            snprintf(line, sizeof line, "%s:", defaults[i]);
            struct curl_slist *next = curl_slist_append(list, line);
            if (next == NULL) {
                curl_slist_free_all(list);
                return NULL;
            }
            list = next;
        }
    }
    return list;
}

static bool is_loopback(const char *host) {
    size_t n = strlen(host);
    return strcasecmp(host, "localhost") == 0 ||
           (n > 10 && strcasecmp(host + n - 10, ".localhost") == 0) ||
           strncmp(host, "127.", 4) == 0 || strcmp(host, "[::1]") == 0 || strcmp(host, "::1") == 0;
}

/* Whether `host`:`port` of the URL is the --insecure one (HOST matches any port). */
static bool is_insecure_host(const struct transport *t, const char *host, const char *port) {
    if (t->insecure == NULL) {
        return false;
    }
    if (strcasecmp(t->insecure, host) == 0) {
        return true;
    }
    size_t hl = strlen(host);
    return strncasecmp(t->insecure, host, hl) == 0 && t->insecure[hl] == ':' &&
           strcmp(t->insecure + hl + 1, port) == 0;
}

/* Sets the URL, and the TLS and proxy options its host calls for. */
static bool set_url_options(struct exchange *x, const char *url) {
    CURL *e = x->conn->easy;
    CURLU *u = curl_url();
    char *host = NULL;
    char *port = NULL;
    bool ok = u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK;
    if (ok) {
        /* TLS as the URL's scheme says, verified unless --insecure names this host. */
        curl_easy_setopt(e, CURLOPT_URL, url);
        if (is_insecure_host(x->t, host, port)) {
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        /* Like the library's own transport: loopback is never proxied. */
        if (is_loopback(host)) {
            curl_easy_setopt(e, CURLOPT_PROXY, "");
        }
    } else {
        transport_failed(x->t, "cannot parse the URL %s", url);
    }
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return ok;
}

static bool set_method_options(struct exchange *x, const rr_http_request *req,
                               const char *method) {
    CURL *e = x->conn->easy;
    int64_t length = rr_http_request_body_length(req);
    if (strcmp(method, "GET") == 0 && length == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        x->head = true;
    } else if (strcmp(method, "POST") == 0 && length == 0) {
        /* An empty POST (e.g. opening an upload session or a mount). */
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
    } else if (length == 0 && strcmp(method, "PUT") != 0 && strcmp(method, "PATCH") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method); /* DELETE */
    } else {
        /* A body (maybe empty for PUT/PATCH): streamed from the library. An
           unknown length (-1) goes chunked. */
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, on_upload);
        curl_easy_setopt(e, CURLOPT_READDATA, x);
        if (length >= 0) {
            curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)length);
        }
    }
    return true;
}

/* Hop-by-hop headers (RFC 9110 7.6.1), which the host keeps to itself. */
static bool is_hop_by_hop(const char *name, size_t len, const char *connection) {
    static const char *const fixed[] = {
        "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
        "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade",
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        if (strlen(fixed[i]) == len && strncasecmp(fixed[i], name, len) == 0) {
            return true;
        }
    }
    /* And those the Connection header names. */
    for (const char *p = connection; p != NULL && *p != '\0';) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, " \t,");
        if (n == len && n > 0 && strncasecmp(p, name, len) == 0) {
            return true;
        }
        p += n;
    }
    return false;
}

/* Hands the status and the end-to-end response headers to the library. */
static bool pass_response_head(struct exchange *x, rr_http_response *resp) {
    long status = 0;
    curl_easy_getinfo(x->conn->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status < 100 || status > 599 ||
        rr_http_response_set_status(resp, (uint16_t)status) != RR_OK) {
        transport_failed(x->t, "unusable HTTP status %ld", status);
        return false;
    }
    const struct header_lines *h = &x->response_headers;
    const char *connection = NULL;
    for (size_t i = 0; i < h->len; i++) {
        if (strncasecmp(h->lines[i], "Connection:", 11) == 0) {
            connection = h->lines[i] + 11;
        }
    }
    for (size_t i = 0; i < h->len; i++) {
        char *line = h->lines[i];
        char *colon = strchr(line, ':');
        if (colon == NULL || colon == line) {
            continue; /* not a header line */
        }
        size_t name_len = (size_t)(colon - line);
        if (is_hop_by_hop(line, name_len, connection)) {
            continue;
        }
        *colon = '\0'; /* the library copies both strings and trims the value */
        rr_status rc = rr_http_response_add_header(resp, line, colon + 1);
        *colon = ':';
        if (rc != RR_OK) {
            transport_failed(x->t, "response header refused: %s", rr_error_message());
            return false;
        }
    }
    return true;
}

/* rr_transport_fn: one exchange. Returns 0 once the final response's status
   and headers are in (the body follows lazily), non-zero when there is no
   response (connection, TLS or protocol failure: for a loopback registry the
   library then tries plain http). */
static int32_t curl_exchange(void *userdata, rr_http_request *req, rr_http_response *resp) {
    struct transport *t = userdata;
    const char *method = rr_http_request_method(req);
    const char *url = rr_http_request_url(req);
    atomic_fetch_add(&t->exchanges, 1);

    struct exchange *x = xmalloc(sizeof *x);
    memset(x, 0, sizeof *x);
    x->t = t;
    x->req = req;
    x->conn = conn_take(t);
    if (x->conn == NULL) {
        transport_failed(t, "%s %s: cannot make a curl handle", method, url);
        free(x);
        return 1;
    }
    CURL *e = x->conn->easy;
    x->headers = request_headers(req);
    bool ok = x->headers != NULL && set_url_options(x, url) && set_method_options(x, req, method);
    if (ok) {
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L); /* the library follows redirects */
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L); /* called from several threads */
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
        /* No byte for IDLE_TIMEOUT_S while curl is driven is a timeout (a paused
           transfer, waiting for the library to read, is not checked). */
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, IDLE_TIMEOUT_S);
        curl_easy_setopt(e, CURLOPT_BUFFERSIZE, RECV_BUFFER_SIZE);
        curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, SEND_BUFFER_SIZE);
        curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->error);
        ok = curl_multi_add_handle(x->conn->multi, e) == CURLM_OK;
    }
    /* Runs the exchange until the final response's headers are in: the whole
       request body goes out during this call, the response body stays with
       curl (a first chunk at most) until the library reads it. */
    for (bool wait = false; ok && !x->headers_done && !x->done; wait = true) {
        if (wait) {
            wait_for_sockets(x);
        }
        step(x);
    }
    /* A HEAD ends with its headers: let curl finish it so that the
       connection can be reused. */
    while (ok && x->head && x->headers_done && !x->done) {
        step(x);
        if (!x->done) {
            wait_for_sockets(x);
        }
    }
    x->req = NULL; /* valid only during this call */

    if (ok && !x->headers_done) {
        /* No response: refused, reset, TLS failure (an https try on a plain
           http port ends here at once), timeout, or the library stopped the
           upload (its own error wins then). */
        ok = false;
        if (x->upload_failed) {
            transport_failed(t, "%s %s: the library stopped the request body", method, url);
        } else {
            transport_failed(t, "%s %s: %s", method, url,
                             x->error[0] ? x->error : curl_easy_strerror(x->result));
        }
    }
    if (ok) {
        ok = pass_response_head(x, resp);
    }
    if (ok && t->verbose) {
        long status = 0;
        long connects = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
        fprintf(stderr, PROG ": %s %s -> %ld%s\n", method, url, status,
                connects > 0 ? " (new connection)" : "");
    }
    if (!ok) {
        exchange_free(x);
        return 1;
    }
    /* A HEAD, or a body that has already ended empty, needs no reader. */
    if (x->head || (x->done && x->pos == x->len)) {
        bool failed = x->done && x->result != CURLE_OK && !x->head;
        exchange_free(x);
        return failed ? 1 : 0;
    }
    if (rr_http_response_set_body(resp, body_read, body_close, x) != RR_OK) {
        return 1; /* set_body closed it already */
    }
    return 0;
}

/* ---- the program -------------------------------------------------------------- */

static const char usage[] =
    "usage: curl_transport [-j N] [--insecure HOST] [-u USER -p PASS] [--no-keychain]\n"
    "                      [--user-agent TEXT] [-v] SRC DST\n"
    "       curl_transport [same options] --build LAYER [--build LAYER...] DST\n";

static struct transport *report_transport; /* for the curl detail of RR_ERR_CALLBACK */

/* report(), then for a transport failure the reason curl gave. */
static int report_curl(rr_status rc) {
    int status = report(rc);
    if (rc == RR_ERR_CALLBACK && report_transport != NULL) {
        pthread_mutex_lock(&report_transport->lock);
        if (report_transport->last_error[0] != '\0') {
            fprintf(stderr, PROG ": curl: %s\n", report_transport->last_error);
        }
        pthread_mutex_unlock(&report_transport->lock);
    }
    return status;
}

static int32_t count_bytes(void *userdata, const uint8_t *buf, size_t len) {
    (void)buf;
    *(uint64_t *)userdata += len;
    return 0;
}

/* Pulls SRC through the transport: manifest, config, every layer's bytes. */
static int pull(rr_client *client, const char *src) {
    rr_image *img = NULL;
    rr_status rc = rr_image_open(client, src, &img);
    if (rc != RR_OK) {
        return report_curl(rc);
    }
    int status = EXIT_SUCCESS;
    const uint8_t *config = NULL;
    size_t config_len = 0;
    rc = rr_image_config(img, &config, &config_len);
    if (rc != RR_OK) {
        status = report_curl(rc);
        goto out;
    }
    printf("image: %s\n", rr_image_digest(img));
    printf("config: %zu bytes\n", config_len);
    size_t layers = rr_image_layer_count(img);
    for (size_t i = 0; i < layers; i++) {
        uint64_t counted = 0;
        rc = rr_image_layer_read(img, i, count_bytes, &counted);
        if (rc != RR_OK) {
            status = report_curl(rc);
            goto out;
        }
        printf("layer %zu: %s %" PRIu64 " bytes\n", i, rr_image_layer_digest(img, i), counted);
        if (counted != rr_image_layer_size(img, i)) {
            fprintf(stderr, PROG ": layer %zu: read %" PRIu64 " bytes, its size is %" PRIu64 "\n",
                    i, counted, rr_image_layer_size(img, i));
            status = EXIT_FAILURE;
            goto out;
        }
    }
out:
    rr_image_free(img);
    return status;
}

/* Builds an image from the --build layer files and pushes it to DST. */
static int build_and_push(rr_client *client, const char *const *layers, int count,
                          const char *dst) {
    rr_image_builder *b = NULL;
    rr_image *img = NULL;
    int status = EXIT_SUCCESS;
    rr_status rc = rr_image_builder_new(&b);
    for (int i = 0; rc == RR_OK && i < count; i++) {
        rc = rr_image_builder_add_layer_file(b, layers[i], NULL);
    }
    if (rc == RR_OK) {
        rc = rr_image_builder_build(b, &img);
    }
    if (rc == RR_OK) {
        rc = rr_write(client, dst, img);
    }
    if (rc != RR_OK) {
        status = report_curl(rc);
    } else {
        printf("built: %s\n", rr_image_digest(img));
    }
    rr_image_free(img);
    rr_image_builder_free(b);
    return status;
}

/* Pulls SRC and copies it to DST, or builds and pushes DST; then DST's digest. */
static int run(rr_client *client, const char *src, const char *dst, const char *const *layers,
               int layer_count) {
    rr_status rc;
    int status;
    if (layer_count > 0) {
        status = build_and_push(client, layers, layer_count, dst);
    } else {
        status = pull(client, src);
        if (status == EXIT_SUCCESS && (rc = rr_copy(client, src, dst)) != RR_OK) {
            status = report_curl(rc);
        }
    }
    if (status != EXIT_SUCCESS) {
        return status;
    }
    rr_descriptor *desc = NULL;
    rc = rr_head(client, dst, &desc);
    if (rc != RR_OK) {
        return report_curl(rc);
    }
    printf("digest: %s\n", rr_descriptor_digest(desc));
    rr_descriptor_free(desc);
    return EXIT_SUCCESS;
}

int main(int argc, char **argv) {
    example_init(PROG, usage);
    struct common_options o = {0};
    const char *user_agent = NULL;
    const char *layer = NULL;
    const char *layers[MAX_LAYERS];
    int layer_count = 0;
    bool verbose = false;
    const char *refs[2] = {NULL, NULL};
    int count = 0;
    for (int i = 1; i < argc; i++) {
        if (common_option(&o, argc, argv, &i) ||
            option_value(argc, argv, &i, "--user-agent", &user_agent)) {
            continue;
        }
        if (option_value(argc, argv, &i, "--build", &layer)) {
            if (layer_count == MAX_LAYERS) {
                usage_error("too many --build layers");
            }
            layers[layer_count++] = layer;
        } else if (strcmp(argv[i], "-v") == 0) {
            verbose = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            usage_error("unknown option %s", argv[i]);
        } else if (count == 2) {
            usage_error("unexpected argument %s", argv[i]);
        } else {
            refs[count++] = argv[i];
        }
    }
    if (count != (layer_count > 0 ? 1 : 2)) {
        usage_error(layer_count > 0 ? "--build takes one destination reference"
                                    : "a source and a destination reference are needed");
    }
    common_options_check(&o);
    const char *src = layer_count > 0 ? NULL : refs[0];
    const char *dst = refs[count - 1];

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fputs(PROG ": curl_global_init failed\n", stderr);
        return EXIT_FAILURE;
    }
    struct transport t;
    transport_init(&t, o.insecure, verbose);
    report_transport = &t;

    rr_client *client = NULL;
    int status = common_client(&o, &client);
    if (status == EXIT_SUCCESS) {
        rr_status rc = rr_client_set_transport(client, curl_exchange, &t);
        if (rc == RR_OK && user_agent != NULL) {
            rc = rr_client_set_user_agent(client, user_agent);
        }
        status = rc == RR_OK ? run(client, src, dst, layers, layer_count) : report_curl(rc);
    }
    rr_client_free(client);
    /* Every body is closed by now (the library closes them before an operation
       returns), so the pool can go. */
    printf("exchanges: %" PRIuFAST64 "\n", atomic_load(&t.exchanges));
    printf("sent: %" PRIuFAST64 " bytes\n", atomic_load(&t.sent));
    printf("received: %" PRIuFAST64 " bytes\n", atomic_load(&t.received));
    report_transport = NULL;
    transport_destroy(&t);
    curl_global_cleanup();
    return status;
}
