/*
 * copy: copy an image or a whole index from one reference to another with librr.
 *
 *   copy [OPTIONS] SRC DST
 *
 * Digests are preserved byte for byte; within one registry every blob is
 * mounted rather than transferred. DST must name a tag or a digest.
 *
 * Options:
 *   --jobs N                       parallel blob transfers (default 4)
 *   --insecure HOST[:PORT]         allow plain HTTP and unverified TLS for HOST
 *   --ca FILE                      trust the PEM certificates in FILE
 *   -u USER -p PASS                basic credentials for the registries of SRC and DST
 *   --no-keychain                  do not read Docker/containers auth files
 *   --quiet                        no progress lines on stderr
 *
 * Prints `progress: COMPLETE/TOTAL` lines on stderr while copying (at most
 * every half second, and the last one), then the digest DST names
 * (`digest: sha256:...`, from a HEAD request) on stdout.
 *
 * Exit status: 0 on success, 2 when not found, 3 when unauthorized or denied,
 * 1 for other failures, 64 for usage errors.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rr.h"

enum {
    EXIT_NOT_FOUND = 2,
    EXIT_AUTH = 3,
    EXIT_USAGE = 64,
};

#define PROG "copy"

struct options {
    const char *jobs;
    const char *insecure;
    const char *ca_file;
    const char *user;
    const char *password;
    bool no_keychain;
    bool quiet;
    const char *src;
    const char *dst;
};

static void usage(FILE *to) {
    fputs("usage: copy [--jobs N] [--insecure HOST] [--ca FILE] [-u USER -p PASS]\n"
          "            [--no-keychain] [--quiet] SRC DST\n",
          to);
}

/*
 * Reports the calling thread's last error for `rc` and returns the exit status.
 * Must run right after the failing call: any other rr_ call may clear the error.
 */
static int report(rr_status rc) {
    const char *code = rr_error_registry_code();
    fprintf(stderr, PROG ": %s (%s, HTTP %u, code %s)\n", rr_error_message(),
            rr_status_name((int32_t)rc), (unsigned)rr_error_http_status(),
            code != NULL ? code : "-");
    switch (rc) {
    case RR_ERR_NOT_FOUND:
        return EXIT_NOT_FOUND;
    case RR_ERR_UNAUTHORIZED:
    case RR_ERR_DENIED:
        return EXIT_AUTH;
    default:
        return EXIT_FAILURE;
    }
}

static void *xmalloc(size_t n) {
    void *p = malloc(n > 0 ? n : 1);
    if (p == NULL) {
        fputs(PROG ": out of memory\n", stderr);
        exit(EXIT_FAILURE);
    }
    return p;
}

/* Parses a decimal number into *out; false when it is not one. */
static bool parse_u32(const char *s, uint32_t *out) {
    if (s[0] < '0' || s[0] > '9') {
        return false;
    }
    errno = 0;
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > UINT32_MAX) {
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

/* Returns 0 and fills `o`, or prints a usage error and returns EXIT_USAGE. */
static int parse_args(int argc, char **argv, struct options *o) {
    const char *positional[2] = {NULL, NULL};
    int count = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **value = NULL;
        if (strcmp(a, "--jobs") == 0) {
            value = &o->jobs;
        } else if (strcmp(a, "--insecure") == 0) {
            value = &o->insecure;
        } else if (strcmp(a, "--ca") == 0) {
            value = &o->ca_file;
        } else if (strcmp(a, "-u") == 0) {
            value = &o->user;
        } else if (strcmp(a, "-p") == 0) {
            value = &o->password;
        } else if (strcmp(a, "--no-keychain") == 0) {
            o->no_keychain = true;
            continue;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            o->quiet = true;
            continue;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(EXIT_SUCCESS);
        } else if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++) {
                if (count == 2) {
                    fprintf(stderr, PROG ": unexpected argument %s\n", argv[i]);
                    return EXIT_USAGE;
                }
                positional[count++] = argv[i];
            }
            break;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, PROG ": unknown option %s\n", a);
            return EXIT_USAGE;
        } else if (count == 2) {
            fprintf(stderr, PROG ": unexpected argument %s\n", a);
            return EXIT_USAGE;
        } else {
            positional[count++] = a;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, PROG ": %s needs a value\n", a);
            return EXIT_USAGE;
        }
        *value = argv[++i];
    }
    if (count != 2) {
        fputs(PROG ": a source and a destination reference are needed\n", stderr);
        return EXIT_USAGE;
    }
    o->src = positional[0];
    o->dst = positional[1];
    if ((o->user == NULL) != (o->password == NULL)) {
        fputs(PROG ": -u and -p go together\n", stderr);
        return EXIT_USAGE;
    }
    uint32_t jobs = 0;
    if (o->jobs != NULL && !parse_u32(o->jobs, &jobs)) {
        fprintf(stderr, PROG ": --jobs needs a number, not %s\n", o->jobs);
        return EXIT_USAGE;
    }
    return 0;
}

/*
 * Normalises `reference` into a malloc'd string (*out, freed by the caller),
 * asking for the size first. Returns the status of the failing call.
 */
static rr_status normalize(const char *reference, char **out) {
    size_t needed = 0;
    rr_status rc = rr_reference_normalize(reference, NULL, 0, &needed);
    /* With cap 0 a valid reference reports "too small" and sets needed. */
    if (rc != RR_OK && !(rc == RR_ERR_INVALID_ARGUMENT && needed > 0)) {
        return rc;
    }
    char *buf = xmalloc(needed);
    rc = rr_reference_normalize(reference, buf, needed, &needed);
    if (rc != RR_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    return RR_OK;
}

/* The part of a normalised reference before the first '/', malloc'd. */
static char *registry_of(const char *normalized) {
    size_t len = strcspn(normalized, "/");
    char *host = xmalloc(len + 1);
    memcpy(host, normalized, len);
    host[len] = '\0';
    return host;
}

/*
 * Progress lines on stderr: at most one every PROGRESS_INTERVAL_NS, plus the
 * last one (complete == total). The library serialises the calls, possibly
 * from worker threads, so this state needs no lock.
 */
#define PROGRESS_INTERVAL_NS 500000000LL

struct progress {
    bool quiet;
    bool printed;
    int64_t last_ns;
    uint64_t last_complete;
    uint64_t last_total;
};

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int32_t on_progress(void *userdata, uint64_t complete, uint64_t total) {
    struct progress *p = userdata;
    if (p->quiet) {
        return 0;
    }
    int64_t now = now_ns();
    bool last = complete == total;
    bool same = p->printed && p->last_complete == complete && p->last_total == total;
    if (same || (!last && p->printed && now - p->last_ns < PROGRESS_INTERVAL_NS)) {
        return 0;
    }
    fprintf(stderr, "progress: %" PRIu64 "/%" PRIu64 "\n", complete, total);
    p->printed = true;
    p->last_ns = now;
    p->last_complete = complete;
    p->last_total = total;
    return 0;
}

/* Sets -u/-p for the registry of `normalized`. */
static rr_status set_auth(rr_client *client, const struct options *o, const char *normalized) {
    char *registry = registry_of(normalized);
    rr_status rc = rr_client_set_basic_auth(client, registry, o->user, o->password);
    free(registry);
    return rc;
}

static int configure_client(rr_client *client, const struct options *o, const char *src,
                            const char *dst, struct progress *progress) {
    rr_status rc = RR_OK;
    uint32_t jobs = 0;
    if (o->jobs != NULL && parse_u32(o->jobs, &jobs) &&
        (rc = rr_client_set_jobs(client, jobs)) != RR_OK) {
        return report(rc);
    }
    if (o->insecure != NULL && (rc = rr_client_set_insecure(client, o->insecure)) != RR_OK) {
        return report(rc);
    }
    if (o->ca_file != NULL && (rc = rr_client_add_ca_file(client, o->ca_file)) != RR_OK) {
        return report(rc);
    }
    if (o->no_keychain && (rc = rr_client_set_keychain(client, false)) != RR_OK) {
        return report(rc);
    }
    if (o->user != NULL) {
        /* The same credentials for both registries (set once when they agree). */
        if ((rc = set_auth(client, o, src)) != RR_OK || (rc = set_auth(client, o, dst)) != RR_OK) {
            return report(rc);
        }
    }
    if ((rc = rr_client_set_progress_callback(client, on_progress, progress)) != RR_OK) {
        return report(rc);
    }
    return EXIT_SUCCESS;
}

int main(int argc, char **argv) {
    struct options o = {0};
    int status = parse_args(argc, argv, &o);
    if (status != 0) {
        usage(stderr);
        return status;
    }

    struct progress progress = {.quiet = o.quiet};
    char *src = NULL;
    char *dst = NULL;
    rr_client *client = NULL;
    rr_descriptor *desc = NULL;

    /* Syntax checks before any request, and the registries for -u/-p. The
       references go to rr_copy as given: DST must name its tag or digest. */
    rr_status rc = normalize(o.src, &src);
    if (rc == RR_OK) {
        rc = normalize(o.dst, &dst);
    }
    if (rc != RR_OK) {
        status = report(rc);
        goto out;
    }
    rc = rr_client_new(&client);
    if (rc != RR_OK) {
        status = report(rc);
        goto out;
    }
    status = configure_client(client, &o, src, dst, &progress);
    if (status != EXIT_SUCCESS) {
        goto out;
    }

    rc = rr_copy(client, o.src, o.dst);
    if (rc != RR_OK) {
        status = report(rc);
        goto out;
    }
    rc = rr_head(client, dst, &desc);
    if (rc != RR_OK) {
        status = report(rc);
        goto out;
    }
    printf("digest: %s\n",
           rr_descriptor_digest(desc) != NULL ? rr_descriptor_digest(desc) : "-");

out:
    rr_descriptor_free(desc);
    rr_client_free(client);
    free(dst);
    free(src);
    if (fflush(stdout) != 0 && status == EXIT_SUCCESS) {
        perror(PROG ": stdout");
        status = EXIT_FAILURE;
    }
    return status;
}
