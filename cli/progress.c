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
static bool bar_shown;     /* a bar is on the last line of the terminal */
static char bar_text[512]; /* what it shows, to draw it again after a message */

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

/* With the lock held: removes the bar from the screen (the text is kept). */
static void bar_hide(void) {
    if (bar_shown) {
        fputs("\r\033[K", stderr);
        bar_shown = false;
    }
}

/* With the lock held: draws bar_text. */
static void bar_draw(void) {
    fputs("\r", stderr);
    fputs(bar_text, stderr);
    fputs("\033[K", stderr);
    fflush(stderr);
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
    char bar[48] = "";
    if (cells >= 10) {
        int filled = p->total > 0 ? (int)((double)cells * (double)p->complete / (double)p->total)
                                  : cells;
        for (int i = 0; i < cells; i++) {
            bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
        }
        bar[cells] = '\0';
        snprintf(bar_text, sizeof bar_text, "%s [%s] %s", p->label, bar, tail);
    } else {
        snprintf(bar_text, sizeof bar_text, "%s %s", p->label, tail);
    }
    if (strlen(bar_text) >= width) {
        bar_text[width - 1] = '\0'; /* never wrap: \r must reach the start of the bar */
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

void progress_end(struct progress *p, bool ok) {
    if (!p->active) {
        return;
    }
    pthread_mutex_lock(&console_lock);
    p->active = false;
    bar_hide();
    bar_text[0] = '\0';
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
