/*
 * Exit statuses, error lines, notes and the steps -v times (see cli.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int exit_status_for(rr_status rc) {
    switch (rc) {
    case RR_OK:
        return EXIT_SUCCESS;
    case RR_ERR_NOT_FOUND:
        return EXIT_NOT_FOUND;
    case RR_ERR_UNAUTHORIZED:
    case RR_ERR_DENIED:
        return EXIT_AUTH;
    case RR_ERR_UNSUPPORTED:
        return EXIT_UNSUPPORTED;
    case RR_ERR_CANCELLED:
        return EXIT_INTERRUPTED;
    default:
        return EXIT_FAILED;
    }
}

int report(rr_status rc) {
    const char *message = rr_error_message();
    unsigned http = rr_error_http_status();
    const char *code = rr_error_registry_code();
    char detail[160];
    int n = snprintf(detail, sizeof detail, "%s", rr_status_name((int32_t)rc));
    if (http != 0 && n > 0 && (size_t)n < sizeof detail) {
        n += snprintf(detail + n, sizeof detail - (size_t)n, ", HTTP %u", http);
    }
    if (code != NULL && n > 0 && (size_t)n < sizeof detail) {
        snprintf(detail + n, sizeof detail - (size_t)n, ", %s", code);
    }
    if (rc == RR_ERR_CANCELLED && interrupted) {
        console_line("interrupted: %s (%s)", message[0] != '\0' ? message : "cancelled", detail);
    } else {
        console_line("%s (%s)", message[0] != '\0' ? message : "failed", detail);
    }
    return exit_status_for(rc);
}

int fail_with(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    console_vline(fmt, ap);
    va_end(ap);
    return status;
}

void note(const struct cli *c, const char *fmt, ...) {
    if (!c->quiet) {
        va_list ap;
        va_start(ap, fmt);
        console_vline(fmt, ap);
        va_end(ap);
    }
}

static void vstep_begin(struct step *s, const struct cli *c, const char *fmt, va_list ap) {
    vsnprintf(s->what, sizeof s->what, fmt, ap);
    s->verbose = c->verbose;
    s->started = console_now();
    if (s->verbose) {
        console_line("step: %s", s->what);
    }
}

void step_begin(struct step *s, const struct cli *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vstep_begin(s, c, fmt, ap);
    va_end(ap);
}

int step_end(const struct step *s, rr_status rc) {
    if (s->verbose) {
        double ms = (console_now() - s->started) * 1000.0;
        if (rc == RR_OK) {
            console_line("step: %s: ok (%.0f ms)", s->what, ms);
        } else {
            console_line("step: %s: %s (%.0f ms)", s->what, rr_status_name((int32_t)rc), ms);
        }
    }
    return rc == RR_OK ? EXIT_SUCCESS : report(rc);
}

void transfer_begin(struct step *s, struct cli *c, const char *label, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vstep_begin(s, c, fmt, ap);
    va_end(ap);
    progress_begin(&c->prog, label);
}

int transfer_end(const struct step *s, struct cli *c, rr_status rc) {
    progress_end(&c->prog, rc == RR_OK);
    return step_end(s, rc);
}

void *xmalloc(size_t n) {
    void *p = malloc(n > 0 ? n : 1);
    if (p == NULL) {
        fputs("rr: out of memory\n", stderr);
        exit(EXIT_FAILED);
    }
    return p;
}

char *xstrndup(const char *s, size_t n) {
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}
