/*
 * push_built: build an image from layer files with librr and push it.
 *
 *   push_built [OPTIONS] REFERENCE LAYER...
 *
 * Each LAYER is a tar, tar+gzip or tar+zstd file, stored as it is (its media
 * type is detected from its content). REFERENCE must name a tag or a digest.
 *
 * Options:
 *   --platform os/arch[/variant]   the platform written into the config (default: the
 *                                  base config's, else linux/amd64)
 *   --config FILE                  a base config (a JSON object)
 *   --layout DIR                   also write the image into the OCI layout DIR
 *   --name NAME                    its org.opencontainers.image.ref.name there
 *   --jobs N                       parallel blob uploads (default 4)
 *   --insecure HOST[:PORT]         allow plain HTTP and unverified TLS for HOST
 *   --ca FILE                      trust the PEM certificates in FILE
 *   -u USER -p PASS                basic credentials for the reference's registry
 *   --no-keychain                  do not read Docker/containers auth files
 *   --quiet                        no progress lines on stderr
 *
 * Prints `progress: COMPLETE/TOTAL` lines on stderr while pushing (at most
 * every half second, and the last one), then `digest: sha256:...` and
 * `layers: N` on stdout.
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

#define PROG "push_built"
/* The largest base config read from --config; configs are a few KiB. */
#define MAX_CONFIG_SIZE (16u << 20)

struct options {
    const char *platform;
    const char *config_file;
    const char *layout;
    const char *name;
    const char *jobs;
    const char *insecure;
    const char *ca_file;
    const char *user;
    const char *password;
    bool no_keychain;
    bool quiet;
    const char *reference;
    char **layers; /* points into argv */
    int layer_count;
};

static void usage(FILE *to) {
    fputs("usage: push_built [--platform os/arch[/variant]] [--config FILE]\n"
          "                  [--layout DIR [--name NAME]] [--jobs N] [--insecure HOST]\n"
          "                  [--ca FILE] [-u USER -p PASS] [--no-keychain] [--quiet]\n"
          "                  REFERENCE LAYER...\n",
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

/* Parses a positive decimal number into *out; false when it is not one. */
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
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char **value = NULL;
        if (strcmp(a, "--platform") == 0) {
            value = &o->platform;
        } else if (strcmp(a, "--config") == 0) {
            value = &o->config_file;
        } else if (strcmp(a, "--layout") == 0) {
            value = &o->layout;
        } else if (strcmp(a, "--name") == 0) {
            value = &o->name;
        } else if (strcmp(a, "--jobs") == 0) {
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
            i++;
            break;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, PROG ": unknown option %s\n", a);
            return EXIT_USAGE;
        } else {
            break; /* the reference: options end here */
        }
        if (i + 1 >= argc) {
            fprintf(stderr, PROG ": %s needs a value\n", a);
            return EXIT_USAGE;
        }
        *value = argv[++i];
    }
    if (i >= argc) {
        fputs(PROG ": no reference given\n", stderr);
        return EXIT_USAGE;
    }
    o->reference = argv[i++];
    if (i >= argc) {
        fputs(PROG ": no layer file given\n", stderr);
        return EXIT_USAGE;
    }
    o->layers = &argv[i];
    o->layer_count = argc - i;
    if ((o->user == NULL) != (o->password == NULL)) {
        fputs(PROG ": -u and -p go together\n", stderr);
        return EXIT_USAGE;
    }
    if (o->name != NULL && o->layout == NULL) {
        fputs(PROG ": --name needs --layout\n", stderr);
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
 * Reads the whole file at `path` into a malloc'd buffer. Returns false after
 * printing why when it cannot.
 */
static bool read_file(const char *path, uint8_t **out, size_t *out_len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
        return false;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = xmalloc(cap);
    for (;;) {
        if (len == cap) {
            if (cap >= MAX_CONFIG_SIZE) {
                fprintf(stderr, PROG ": %s: larger than %u bytes\n", path, MAX_CONFIG_SIZE);
                free(buf);
                fclose(f);
                return false;
            }
            cap *= 2;
            uint8_t *bigger = realloc(buf, cap);
            if (bigger == NULL) {
                free(buf);
                fputs(PROG ": out of memory\n", stderr);
                exit(EXIT_FAILURE);
            }
            buf = bigger;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            break;
        }
    }
    bool ok = !ferror(f);
    if (!ok) {
        fprintf(stderr, PROG ": %s: read error\n", path);
        free(buf);
    } else {
        *out = buf;
        *out_len = len;
    }
    fclose(f);
    return ok;
}

/*
 * Progress lines on stderr: at most one every PROGRESS_INTERVAL_NS, plus the
 * last one of each operation (complete == total). The library serialises the
 * calls, possibly from worker threads, so this state needs no lock.
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

static int configure_client(rr_client *client, const struct options *o, const char *normalized,
                            struct progress *progress) {
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
        char *registry = registry_of(normalized);
        rc = rr_client_set_basic_auth(client, registry, o->user, o->password);
        free(registry);
        if (rc != RR_OK) {
            return report(rc);
        }
    }
    if ((rc = rr_client_set_progress_callback(client, on_progress, progress)) != RR_OK) {
        return report(rc);
    }
    return EXIT_SUCCESS;
}

/* Builds the image from the options' config, platform and layers into *out. */
static int build_image(const struct options *o, rr_image **out) {
    rr_image_builder *builder = NULL;
    int status = EXIT_SUCCESS;
    rr_status rc = rr_image_builder_new(&builder);
    if (rc != RR_OK) {
        return report(rc);
    }
    if (o->platform != NULL && (rc = rr_image_builder_set_platform(builder, o->platform)) != RR_OK) {
        status = report(rc);
        goto out;
    }
    if (o->config_file != NULL) {
        uint8_t *json = NULL;
        size_t len = 0;
        if (!read_file(o->config_file, &json, &len)) {
            status = EXIT_FAILURE;
            goto out;
        }
        rc = rr_image_builder_set_config(builder, json, len);
        free(json);
        if (rc != RR_OK) {
            status = report(rc);
            goto out;
        }
    }
    for (int i = 0; i < o->layer_count; i++) {
        /* NULL media type: detected from the content (tar, gzip or zstd). */
        rc = rr_image_builder_add_layer_file(builder, o->layers[i], NULL);
        if (rc != RR_OK) {
            status = report(rc);
            goto out;
        }
    }
    rc = rr_image_builder_build(builder, out);
    if (rc != RR_OK) {
        status = report(rc);
    }
out:
    /* The built image does not depend on the builder. */
    rr_image_builder_free(builder);
    return status;
}

int main(int argc, char **argv) {
    struct options o = {0};
    int status = parse_args(argc, argv, &o);
    if (status != 0) {
        usage(stderr);
        return status;
    }

    struct progress progress = {.quiet = o.quiet};
    char *normalized = NULL;
    rr_client *client = NULL;
    rr_image *img = NULL;

    /* Checks the reference's syntax before any work, and gives the registry
       for -u/-p. The reference itself goes to rr_write as given: normalising
       would add ":latest" where rr_write wants an explicit tag or digest. */
    rr_status rc = normalize(o.reference, &normalized);
    if (rc != RR_OK) {
        status = report(rc);
        goto out;
    }
    rc = rr_client_new(&client);
    if (rc != RR_OK) {
        status = report(rc);
        goto out;
    }
    status = configure_client(client, &o, normalized, &progress);
    if (status != EXIT_SUCCESS) {
        goto out;
    }
    status = build_image(&o, &img);
    if (status != EXIT_SUCCESS) {
        goto out;
    }

    rc = rr_write(client, o.reference, img);
    if (rc != RR_OK) {
        status = report(rc);
        goto out;
    }
    if (o.layout != NULL) {
        progress.printed = false; /* a new operation: its own progress lines */
        rc = rr_layout_write_image(client, o.layout, img, o.name);
        if (rc != RR_OK) {
            status = report(rc);
            goto out;
        }
    }
    printf("digest: %s\n", rr_image_digest(img) != NULL ? rr_image_digest(img) : "-");
    printf("layers: %zu\n", rr_image_layer_count(img));

out:
    rr_image_free(img);
    rr_client_free(client);
    free(normalized);
    if (fflush(stdout) != 0 && status == EXIT_SUCCESS) {
        perror(PROG ": stdout");
        status = EXIT_FAILURE;
    }
    return status;
}
