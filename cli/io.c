/*
 * Small files in, results out (see cli.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The largest file read whole: a --config file or a manifest, a few KiB. */
#define MAX_SMALL_FILE (16u << 20)

bool read_small_file(const char *path, uint8_t **out, size_t *out_len) {
    bool from_stdin = strcmp(path, "-") == 0;
    FILE *f = from_stdin ? stdin : fopen(path, "rb");
    if (f == NULL) {
        console_line("%s: %s", path, strerror(errno));
        return false;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = xmalloc(cap);
    bool ok = true;
    for (;;) {
        if (len == cap) {
            if (cap >= MAX_SMALL_FILE) {
                console_line("%s: larger than %u bytes", path, MAX_SMALL_FILE);
                ok = false;
                break;
            }
            cap *= 2;
            uint8_t *bigger = realloc(buf, cap);
            if (bigger == NULL) {
                free(buf);
                fputs("rr: out of memory\n", stderr);
                exit(EXIT_FAILED);
            }
            buf = bigger;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            break;
        }
    }
    if (ok && ferror(f)) {
        console_line("%s: read error", path);
        ok = false;
    }
    if (!from_stdin) {
        fclose(f);
    }
    if (!ok) {
        free(buf);
        return false;
    }
    *out = buf;
    *out_len = len;
    return true;
}

void print_line(const char *s) {
    puts(s != NULL ? s : "-");
}

bool write_stdout(const uint8_t *bytes, size_t len) {
    if (len > 0 && fwrite(bytes, 1, len, stdout) != len) {
        console_line("stdout: %s", strerror(errno));
        return false;
    }
    return true;
}

bool print_lines(const char *const *lines, size_t count) {
    for (size_t i = 0; i < count; i++) {
        if (lines[i] != NULL && puts(lines[i]) == EOF) {
            console_line("stdout: %s", strerror(errno));
            return false;
        }
    }
    /* A page at a time reaches a pipe as it arrives, not when a buffer fills. */
    if (fflush(stdout) == EOF) {
        console_line("stdout: %s", strerror(errno));
        return false;
    }
    return true;
}
