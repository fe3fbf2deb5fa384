/*
 * The entries of an OCI layout's index.json, read by a small private JSON
 * reader (json.c: strict RFC 8259 syntax, strings decoded to UTF-8, nesting
 * limited). `rr push` needs their names; this is all the tool parses itself.
 */
#ifndef RR_CLI_JSON_H
#define RR_CLI_JSON_H

#include <stdbool.h>
#include <stddef.h>

/* One element of index.json's "manifests". */
struct layout_entry {
    char *name;   /* its org.opencontainers.image.ref.name annotation, or NULL */
    char *digest; /* or NULL */
};

/*
 * Parses `len` bytes of index.json into *entries, an array of *count entries
 * in their order (release it with layout_entries_free). Returns false with the
 * reason in `err` (of `errcap` bytes) when the text is not JSON ("not JSON:
 * REASON at byte N"), has no "manifests" array, or memory runs out.
 */
bool layout_entries_parse(const char *text, size_t len, struct layout_entry **entries,
                          size_t *count, char *err, size_t errcap);

void layout_entries_free(struct layout_entry *entries, size_t count);

#endif /* RR_CLI_JSON_H */
