/*
 * What the examples share, so that each one shows its own topic: the error
 * line and exit status of a failed call, the options every example takes,
 * a client made from them, and progress lines. (libgit2's examples/common.c
 * plays the same part.)
 */
#ifndef RR_EXAMPLES_COMMON_H
#define RR_EXAMPLES_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "rr.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Exit statuses: 0 success, 1 other failures (EXIT_FAILURE), and these. */
enum {
    EXIT_NOT_FOUND = 2, /* RR_ERR_NOT_FOUND */
    EXIT_AUTH = 3,      /* RR_ERR_UNAUTHORIZED, RR_ERR_DENIED */
    EXIT_USAGE = 64,
    EXIT_CANCELLED = 130, /* RR_ERR_CANCELLED: the progress callback said stop (Ctrl-C) */
};

/* The exit status for a failed call's status. */
int exit_status_for(rr_status rc);

/* Names the program in messages, and gives its usage text (for -h and usage errors). */
void example_init(const char *name, const char *usage);

/*
 * Prints the calling thread's last error, `NAME: MESSAGE (STATUS, HTTP n, code X)`,
 * and returns the exit status for `rc`. Call it right after the failing call: the
 * next rr_ call may clear the error.
 */
int report(rr_status rc);

/* Prints `NAME: MESSAGE` and the usage text on stderr, and exits with EXIT_USAGE. */
void usage_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;

/* The options every example takes. */
struct common_options {
    const char *insecure; /* --insecure HOST[:PORT]: plain HTTP and unverified TLS allowed */
    const char *user;     /* -u USER -p PASS: credentials for every registry asked */
    const char *password;
    uint32_t jobs;    /* -j, --jobs N (1-256): parallel blob transfers; 0: the default */
    bool no_keychain; /* --no-keychain: do not read Docker/Podman credential files */
    bool quiet;       /* -q, --quiet: no progress lines */
};

/*
 * When argv[*i] is one of the common options (or -h, --help), takes it and its
 * value (advancing *i) and returns true. Exits with a usage error when its value
 * is missing or wrong.
 */
bool common_option(struct common_options *o, int argc, char **argv, int *i);

/* When argv[*i] is `name`, stores the next argument in *value (advancing *i) and
   returns true; exits with a usage error when there is none. */
bool option_value(int argc, char **argv, int *i, const char *name, const char **value);

/* Checks what the common options need together (-u with -p); exits on a usage error. */
void common_options_check(const struct common_options *o);

/* A new client set up from `o` (which must outlive it) in *out; returns an exit status. */
int common_client(const struct common_options *o, rr_client **out);

/*
 * Progress lines on stderr, `progress: COMPLETE/TOTAL`: at most one every half
 * second, and the last one. Pass a struct progress_lines as the userdata of
 * rr_client_set_progress_callback. The library calls it one call at a time (maybe
 * from a worker thread), so the state needs no lock.
 */
struct progress_lines {
    bool quiet;
    bool printed;
    int64_t last_ns;
    uint64_t last_complete;
    uint64_t last_total;
};
int32_t print_progress(void *userdata, uint64_t complete, uint64_t total);

#ifdef __cplusplus
}
#endif

#endif /* RR_EXAMPLES_COMMON_H */
