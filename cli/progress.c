/*
 * Console output of the rr tool (see progress.h).
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, isatty */
#define _DEFAULT_SOURCE         /* TIOCGWINSZ */

#include "progress.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* How often the bar is redrawn, and a plain line printed (seconds). */
#define BAR_INTERVAL 0.1
#define PLAIN_INTERVAL 3.0

static pthread_mutex_t console_lock = PTHREAD_MUTEX_INITIALIZER;
static enum progress_mode mode = PROGRESS_PLAIN;
static const char *prefix = "rr";
static bool bar_shown;       /* a bar is on the last lines of the terminal */
static int bar_lines;        /* how many lines it takes */
static char bar_text[16384]; /* what it shows (lines joined by \n), to draw it again */

bool progress_mode_parse(const char *s, enum progress_mode *out) {
    static const struct {
        const char *name;
        enum progress_mode mode;
    } modes[] = {
        {"auto", PROGRESS_AUTO},
        {"bar", PROGRESS_BAR},
        {"plain", PROGRESS_PLAIN},
        {"none", PROGRESS_NONE},
    };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        if (strcmp(s, modes[i].name) == 0) {
            *out = modes[i].mode;
            return true;
        }
    }
    return false;
}

void console_init(enum progress_mode m, const char *p) {
    if (m == PROGRESS_AUTO) {
        const char *term = getenv("TERM");
        bool terminal = isatty(STDERR_FILENO) && !(term != NULL && strcmp(term, "dumb") == 0);
        m = terminal ? PROGRESS_BAR : PROGRESS_PLAIN;
    }
    mode = m;
    prefix = p;
}

double console_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* With the lock held: removes the bar (and its layer lines) from the screen; the text
   is kept. */
static void bar_hide(void) {
    if (bar_shown) {
        if (bar_lines > 1) {
            fprintf(stderr, "\r\033[%dA\033[J", bar_lines - 1);
        } else {
            fputs("\r\033[K", stderr);
        }
        bar_shown = false;
    }
}

/* With the lock held: draws bar_text in place of what is drawn. */
static void bar_draw(void) {
    bar_hide();
    fputs(bar_text, stderr);
    fputs("\033[K", stderr);
    fflush(stderr);
    bar_lines = 1;
    for (const char *c = bar_text; *c != '\0'; c++) {
        bar_lines += *c == '\n';
    }
    bar_shown = true;
}

void console_line(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    console_vline(fmt, ap);
    va_end(ap);
}

void console_vline(const char *fmt, va_list ap) {
    char text[2048];
    vsnprintf(text, sizeof text, fmt, ap);

    pthread_mutex_lock(&console_lock);
    bool redraw = bar_shown;
    bar_hide();
    fprintf(stderr, "%s: %s\n", prefix, text);
    if (redraw) {
        bar_draw();
    }
    fflush(stderr);
    pthread_mutex_unlock(&console_lock);
}

const char *format_bytes(uint64_t bytes, char *buf, size_t cap) {
    static const char *units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) {
        snprintf(buf, cap, "%" PRIu64 " B", bytes);
        return buf;
    }
    double v = (double)bytes / 1024.0;
    size_t u = 0;
    while (v >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, cap, "%.1f %s", v, units[u]);
    return buf;
}

/* "4s", "2m05s", "1h07m"; "?" when unknown. */
static const char *format_duration(double seconds, char *buf, size_t cap) {
    if (seconds < 0 || seconds > 360000.0) {
        snprintf(buf, cap, "?");
    } else if (seconds < 60) {
        snprintf(buf, cap, "%.0fs", seconds);
    } else if (seconds < 3600) {
        unsigned s = (unsigned)seconds;
        snprintf(buf, cap, "%um%02us", s / 60, s % 60);
    } else {
        unsigned m = (unsigned)(seconds / 60);
        snprintf(buf, cap, "%uh%02um", m / 60, m % 60);
    }
    return buf;
}

static unsigned terminal_rows(void) {
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row >= 5) {
        return ws.ws_row;
    }
    return 24;
}

static unsigned terminal_width(void) {
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) {
        return ws.ws_col;
    }
    const char *columns = getenv("COLUMNS");
    if (columns != NULL) {
        long n = strtol(columns, NULL, 10);
        if (n >= 20 && n < 1000) {
            return (unsigned)n;
        }
    }
    return 80;
}

/* The rate (bytes per second) over the step so far, 0 when unknown. */
static double rate_of(const struct progress *p, double now) {
    double elapsed = now - p->started;
    return elapsed > 0.05 ? (double)p->complete / elapsed : 0.0;
}

/* "12.3 MiB of 27.0 MiB (45%), 3.1 MiB/s, ETA 5s" */
static void describe(const struct progress *p, double now, char *out, size_t cap) {
    char done[32], total[32], rate[40], eta[32];
    double r = rate_of(p, now);
    unsigned pct = p->total > 0 ? (unsigned)(p->complete * 100 / p->total) : 100;
    format_bytes(p->complete, done, sizeof done);
    format_bytes(p->total, total, sizeof total);
    if (r <= 0 || p->complete == 0) {
        /* No rate yet: no ETA either. */
        snprintf(out, cap, "%s of %s (%u%%)", done, total, pct);
        return;
    }
    char per[32];
    snprintf(rate, sizeof rate, "%s/s", format_bytes((uint64_t)r, per, sizeof per));
    format_duration((double)(p->total - p->complete) / r, eta, sizeof eta);
    snprintf(out, cap, "%s of %s (%u%%), %s, ETA %s", done, total, pct, rate, eta);
}

/* "sha256:0123456789ab  downloading [=====>    ] 12.3 MiB of 27.0 MiB", cut to `width`. */
static void compose_blob_line(const struct blob_line *b, unsigned width, char *out, size_t cap) {
    const char *phase = rr_blob_phase_name((uint32_t)b->phase);
    char done[32], size[32];
    format_bytes(b->size, size, sizeof size);
    bool moving = b->phase == RR_BLOB_UPLOADING || b->phase == RR_BLOB_DOWNLOADING;
    if (moving && b->size > 0) {
        char bar[21];
        int filled = (int)(20.0 * (double)b->done / (double)b->size);
        for (int i = 0; i < 20; i++) {
            bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
        }
        bar[20] = '\0';
        snprintf(out, cap, "%.19s  %-11s [%s] %s of %s", b->digest, phase, bar,
                 format_bytes(b->done, done, sizeof done), size);
    } else if (b->phase == RR_BLOB_DONE || b->phase == RR_BLOB_VERIFYING) {
        snprintf(out, cap, "%.19s  %-11s %s", b->digest, phase, size);
    } else {
        snprintf(out, cap, "%.19s  %s", b->digest, phase);
    }
    if (strlen(out) >= width) {
        out[width - 1] = '\0';
    }
}

/* With the lock held: the layer lines of bar_text, one per blob (those not finished
   first when they do not all fit), each ending in \n. */
static void compose_blob_lines(const struct progress *p, unsigned width) {
    bar_text[0] = '\0';
    if (p->nblobs == 0) {
        return;
    }
    size_t room = terminal_rows() - 2;
    if (room > 40) {
        room = 40;
    }
    size_t finished = 0;
    for (size_t i = 0; i < p->nblobs; i++) {
        finished += p->blobs[i].phase == RR_BLOB_EXISTS || p->blobs[i].phase == RR_BLOB_MOUNTED ||
                    p->blobs[i].phase == RR_BLOB_DONE;
    }
    bool all = p->nblobs <= room;
    size_t shown = 0;
    size_t len = 0;
    for (size_t i = 0; i < p->nblobs && (all || shown + 1 < room); i++) {
        const struct blob_line *b = &p->blobs[i];
        bool final =
            b->phase == RR_BLOB_EXISTS || b->phase == RR_BLOB_MOUNTED || b->phase == RR_BLOB_DONE;
        if (!all && final) {
            continue;
        }
        char line[256];
        compose_blob_line(b, width, line, sizeof line);
        len += (size_t)snprintf(bar_text + len, sizeof bar_text - len, "%s\n", line);
        shown++;
        if (len >= sizeof bar_text - 256) {
            break;
        }
    }
    if (!all) {
        snprintf(bar_text + len, sizeof bar_text - len, "(%zu of %zu blobs finished)\n", finished,
                 p->nblobs);
    }
}

/* With the lock held: composes bar_text for the current state. */
static void compose_bar(const struct progress *p, double now) {
    char tail[160];
    describe(p, now, tail, sizeof tail);
    unsigned width = terminal_width();
    /* A fixed bar width for a given terminal (the text after it varies), with
       room for a usual text: "123.4 MiB of 234.5 MiB (52%), 12.3 MiB/s, ETA 1m05s". */
    int cells = (int)width - (int)strlen(p->label) - 56;
    if (cells > 30) {
        cells = 30;
    }
    compose_blob_lines(p, width);
    size_t start = strlen(bar_text);
    char *agg = bar_text + start;
    size_t agg_cap = sizeof bar_text - start;
    char bar[48] = "";
    if (cells >= 10) {
        int filled = p->total > 0 ? (int)((double)cells * (double)p->complete / (double)p->total)
                                  : cells;
        for (int i = 0; i < cells; i++) {
            bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
        }
        bar[cells] = '\0';
        snprintf(agg, agg_cap, "%s [%s] %s", p->label, bar, tail);
    } else {
        snprintf(agg, agg_cap, "%s %s", p->label, tail);
    }
    if (strlen(agg) >= width) {
        agg[width - 1] = '\0'; /* never wrap: the lines drawn must be the lines counted */
    }
}

void progress_begin(struct progress *p, const char *label) {
    p->label = label;
    p->complete = 0;
    p->total = 0;
    p->active = true;
    p->seen = false;
    p->printed = false;
    p->started = console_now();
    p->last_out = 0;
    p->nblobs = 0;
}

int32_t progress_callback(void *userdata, uint64_t complete, uint64_t total) {
    struct progress *p = userdata;
    if (p == NULL) {
        return 0;
    }
    if (p->cancel != NULL && *p->cancel) {
        return 1;
    }
    if (!p->active) {
        return 0;
    }
    pthread_mutex_lock(&console_lock);
    uint64_t c = complete;
    uint64_t t = total;
    if (c > t) {
        t = c;
    }
    p->complete = c;
    p->total = t;
    p->seen = true;
    double now = console_now();
    if (mode == PROGRESS_BAR) {
        if (now - p->last_out >= BAR_INTERVAL || c == t) {
            compose_bar(p, now);
            bar_draw();
            p->last_out = now;
        }
    } else if (mode == PROGRESS_PLAIN && c < t &&
               (!p->printed || now - p->last_out >= PLAIN_INTERVAL)) {
        char text[160];
        describe(p, now, text, sizeof text);
        fprintf(stderr, "%s: %s: %s\n", prefix, p->label, text);
        fflush(stderr);
        p->printed = true;
        p->last_out = now;
    }
    pthread_mutex_unlock(&console_lock);
    return 0;
}

int32_t blob_progress_callback(void *userdata, const rr_blob_progress *event) {
    struct progress *p = userdata;
    if (p == NULL || event == NULL) {
        return 0;
    }
    if (p->cancel != NULL && *p->cancel) {
        return 1;
    }
    if (!p->active || mode != PROGRESS_BAR || event->digest == NULL) {
        return 0;
    }
    pthread_mutex_lock(&console_lock);
    struct blob_line *b = NULL;
    for (size_t i = 0; i < p->nblobs; i++) {
        if (strcmp(p->blobs[i].digest, event->digest) == 0) {
            b = &p->blobs[i];
            break;
        }
    }
    if (b == NULL) {
        if (p->nblobs == p->cap) {
            size_t cap = p->cap ? p->cap * 2 : 16;
            struct blob_line *grown = realloc(p->blobs, cap * sizeof *grown);
            if (grown == NULL) {
                pthread_mutex_unlock(&console_lock);
                return 0; /* no line for it: the aggregate bar goes on */
            }
            p->blobs = grown;
            p->cap = cap;
        }
        b = &p->blobs[p->nblobs++];
        snprintf(b->digest, sizeof b->digest, "%s", event->digest);
    }
    b->phase = event->phase;
    b->size = event->blob_size;
    b->done = event->blob_done;
    p->complete = event->complete;
    p->total = event->total > event->complete ? event->total : event->complete;
    p->seen = true;
    double now = console_now();
    bool moving = event->phase == RR_BLOB_UPLOADING || event->phase == RR_BLOB_DOWNLOADING;
    if (!moving || now - p->last_out >= BAR_INTERVAL) {
        compose_bar(p, now);
        bar_draw();
        p->last_out = now;
    }
    pthread_mutex_unlock(&console_lock);
    return 0;
}

void progress_end(struct progress *p, bool ok) {
    if (!p->active) {
        return;
    }
    pthread_mutex_lock(&console_lock);
    p->active = false;
    if (ok && mode == PROGRESS_BAR && p->nblobs > 0) {
        /* The layers' last state stays on screen above the summary line. */
        compose_blob_lines(p, terminal_width());
        bar_hide();
        fputs(bar_text, stderr);
        bar_shown = false;
    } else {
        bar_hide();
    }
    bar_text[0] = '\0';
    free(p->blobs);
    p->blobs = NULL;
    p->nblobs = p->cap = 0;
    if (ok && mode != PROGRESS_NONE) {
        double elapsed = console_now() - p->started;
        char size[32], per[32];
        if (p->total == 0) {
            fprintf(stderr, "%s: %s: done, nothing to transfer in %.2fs\n", prefix, p->label,
                    elapsed);
        } else {
            double r = elapsed > 0.001 ? (double)p->total / elapsed : 0.0;
            fprintf(stderr, "%s: %s: done, %s (%" PRIu64 " bytes) in %.2fs (%s/s)\n", prefix,
                    p->label, format_bytes(p->total, size, sizeof size), p->total, elapsed,
                    format_bytes((uint64_t)r, per, sizeof per));
        }
    }
    fflush(stderr);
    pthread_mutex_unlock(&console_lock);
}
