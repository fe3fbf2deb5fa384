/*
 * Small files in, results out (see cli.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The largest file read whole: a --config file, a few KiB. */
#define MAX_SMALL_FILE (16u << 20)

bool read_small_file(const char *path, uint8_t **out, size_t *out_len) {
    FILE *f = fopen(path, "rb");
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
    fclose(f);
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

int print_list(rr_string_list *list) {
    size_t n = rr_string_list_len(list);
    for (size_t i = 0; i < n; i++) {
        const char *s = rr_string_list_get(list, i);
        if (s != NULL) {
            puts(s);
        }
    }
    rr_string_list_free(list);
    return EXIT_SUCCESS;
}
