/*
 * A small JSON reader for the rr tool: enough to read an OCI layout's
 * index.json (entry names, digests and media types). Strict RFC 8259 syntax,
 * strings decoded to UTF-8, numbers kept as text, nesting limited.
 */
#ifndef RR_TOOL_JSON_H
#define RR_TOOL_JSON_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    JSON_NULL,
    JSON_BOOL,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
} json_type;

typedef struct json_value json_value;
struct json_value {
    json_type type;
    bool boolean;       /* JSON_BOOL */
    char *text;         /* JSON_STRING (decoded, NUL-terminated), JSON_NUMBER (as written) */
    size_t count;       /* JSON_ARRAY, JSON_OBJECT: number of items */
    char **keys;        /* JSON_OBJECT: count keys */
    json_value **items; /* JSON_ARRAY, JSON_OBJECT: count values */
};

/*
 * Parses `len` bytes of JSON. Returns a tree to release with json_free, or
 * NULL with a reason in `err` (of `errcap` bytes) when the text is not JSON
 * or memory runs out.
 */
json_value *json_parse(const char *text, size_t len, char *err, size_t errcap);

/* Releases a tree from json_parse; NULL is ignored. */
void json_free(json_value *v);

/* The value of `key` in an object (the first one), or NULL. */
const json_value *json_get(const json_value *object, const char *key);

/* The string a value holds, or NULL when it is not a string (or NULL). */
const char *json_string(const json_value *v);

#endif /* RR_TOOL_JSON_H */
