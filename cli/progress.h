/*
 * Console output of the rr tool: message lines on stderr and transfer progress
 * (librr's progress callback), drawn as a bar redrawn in place on a terminal,
 * or as plain lines every few seconds on a pipe. Safe to use from the
 * library's worker threads (the log and progress callbacks).
 */
#ifndef RR_CLI_PROGRESS_H
#define RR_CLI_PROGRESS_H

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rr.h"

enum progress_mode {
    PROGRESS_AUTO,  /* a bar when stderr is a terminal (TERM is not "dumb"), else plain */
    PROGRESS_BAR,   /* a bar redrawn in place with \r */
    PROGRESS_PLAIN, /* a line every few seconds, and a last one */
    PROGRESS_NONE,  /* nothing (--quiet) */
};

/* Parses "auto", "bar", "plain" or "none"; false for anything else. */
bool progress_mode_parse(const char *s, enum progress_mode *out);

/* Sets the mode (PROGRESS_AUTO is resolved now, from stderr) and the prefix of
   every line ("rr"). Call once, before any other console_ or progress_ call. */
void console_init(enum progress_mode mode, const char *prefix);

/* Prints "PREFIX: <text>\n" on stderr; a progress bar on screen is cleared
   first and drawn again after. Thread-safe. */
void console_line(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* console_line with a va_list. */
void console_vline(const char *fmt, va_list ap);

/* Seconds on a monotonic clock. */
double console_now(void);

/* Formats a byte count as "512 B", "1.5 KiB", "12.3 MiB", ... into buf. */
const char *format_bytes(uint64_t bytes, char *buf, size_t cap);

/*
 * One transfer's progress: progress_begin, then the library calls
 * progress_callback (set with rr_client_set_progress_callback and this struct
 * as userdata) during the operation, then progress_end.
 */
/* One blob's line: what its last event said. */
struct blob_line {
    char digest[80];
    rr_blob_phase phase;
    uint64_t size;
    uint64_t done;
};

struct progress {
    const char *label;             /* "pull", "push", ... */
    volatile sig_atomic_t *cancel; /* when non-zero, the callback cancels the operation */
    uint64_t complete;
    uint64_t total;
    bool active;
    bool seen;       /* the callback was called since progress_begin */
    double started;  /* console_now() at progress_begin */
    double last_out; /* when the last bar or line was drawn */
    bool printed;    /* a plain line was printed */
    struct blob_line *blobs; /* the step's blobs in the order first reported (bar mode) */
    size_t nblobs;
    size_t cap;
};

/* Starts a transfer labelled `label`. */
void progress_begin(struct progress *p, const char *label);

/* Ends the step: removes the bar; when `ok`, prints "LABEL: done, SIZE in T s (RATE)". */
void progress_end(struct progress *p, bool ok);

/* The rr_progress_fn: draws, and returns 1 (cancel) once *cancel is set. */
int32_t progress_callback(void *userdata, uint64_t complete, uint64_t total);

/* The rr_blob_progress_fn (same userdata): in bar mode, one line per blob above the bar,
   with its phase ("exists", "mounted", "downloading", ...), kept on screen when the step
   ends; returns 1 (cancel) once *cancel is set. */
int32_t blob_progress_callback(void *userdata, const rr_blob_progress *event);

#endif /* RR_CLI_PROGRESS_H */
