/*
 * What the examples share (see common.h).
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include "common.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *prog = "example";
static const char *usage_text = "";

void example_init(const char *name, const char *usage) {
    prog = name;
    usage_text = usage;
}

int exit_status_for(rr_status rc) {
    switch (rc) {
    case RR_OK:
        return EXIT_SUCCESS;
    case RR_ERR_NOT_FOUND:
        return EXIT_NOT_FOUND;
    case RR_ERR_UNAUTHORIZED:
    case RR_ERR_DENIED:
        return EXIT_AUTH;
    case RR_ERR_CANCELLED:
        return EXIT_CANCELLED;
    default:
        return EXIT_FAILURE;
    }
}

int report(rr_status rc) {
    const char *code = rr_error_registry_code();
    fprintf(stderr, "%s: %s (%s, HTTP %u, code %s)\n", prog, rr_error_message(),
            rr_status_name((int32_t)rc), (unsigned)rr_error_http_status(),
            code != NULL ? code : "-");
    return exit_status_for(rc);
}

void usage_error(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", usage_text);
    exit(EXIT_USAGE);
}

bool option_value(int argc, char **argv, int *i, const char *name, const char **value) {
    if (strcmp(argv[*i], name) != 0) {
        return false;
    }
    if (*i + 1 >= argc) {
        usage_error("%s needs a value", name);
    }
    *value = argv[++*i];
    return true;
}

bool common_option(struct common_options *o, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    const char *jobs = NULL;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
        fputs(usage_text, stdout);
        exit(EXIT_SUCCESS);
    }
    if (strcmp(a, "--no-keychain") == 0) {
        o->no_keychain = true;
    } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
        o->quiet = true;
    } else if (option_value(argc, argv, i, "-j", &jobs) ||
               option_value(argc, argv, i, "--jobs", &jobs)) {
        unsigned n = 0;
        char rest = 0;
        if (sscanf(jobs, "%3u%c", &n, &rest) != 1 || jobs[0] < '0' || jobs[0] > '9' || n < 1 ||
            n > 256) {
            usage_error("--jobs needs a number from 1 to 256, not '%s'", jobs);
        }
        o->jobs = n;
    } else if (!option_value(argc, argv, i, "--insecure", &o->insecure) &&
               !option_value(argc, argv, i, "-u", &o->user) &&
               !option_value(argc, argv, i, "-p", &o->password)) {
        return false;
    }
    return true;
}

void common_options_check(const struct common_options *o) {
    if ((o->user == NULL) != (o->password == NULL)) {
        usage_error("-u and -p go together");
    }
}

/* The rr_auth_fn: the same -u/-p for every registry that asks. */
static int32_t give_credentials(void *userdata, const char *registry, rr_credential *cred) {
    const struct common_options *o = userdata;
    (void)registry;
    return (int32_t)rr_credential_set_basic(cred, o->user, o->password);
}

int common_client(const struct common_options *o, rr_client **out) {
    rr_client *client = NULL;
    rr_status rc = rr_client_new(&client);
    if (rc == RR_OK && o->insecure != NULL) {
        rc = rr_client_set_insecure(client, o->insecure);
    }
    if (rc == RR_OK && o->jobs != 0) {
        rc = rr_client_set_jobs(client, o->jobs);
    }
    if (rc == RR_OK && o->no_keychain) {
        rc = rr_client_set_keychain(client, false);
    }
    if (rc == RR_OK && o->user != NULL) {
        /* Asked when a registry's challenge wants credentials (before the keychain). */
        rc = rr_client_set_auth_callback(client, give_credentials, (void *)o);
    }
    if (rc != RR_OK) {
        int status = report(rc);
        rr_client_free(client);
        return status;
    }
    *out = client;
    return EXIT_SUCCESS;
}

int32_t print_progress(void *userdata, uint64_t complete, uint64_t total) {
    struct progress_lines *p = userdata;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    bool last = complete == total;
    bool same = p->printed && p->last_complete == complete && p->last_total == total;
    if (p->quiet || same || (!last && p->printed && now - p->last_ns < 500000000LL)) {
        return 0;
    }
    fprintf(stderr, "progress: %" PRIu64 "/%" PRIu64 "\n", complete, total);
    p->printed = true;
    p->last_ns = now;
    p->last_complete = complete;
    p->last_total = total;
    return 0;
}
