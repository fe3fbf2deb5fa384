/*
 * A small JSON reader for the rr tool, enough for an OCI layout's index.json
 * (see json.h): the text is parsed into a tree, from which the entries are
 * copied out.
 */
#include "json.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_NAME_ANNOTATION "org.opencontainers.image.ref.name"
#define JSON_MAX_DEPTH 64

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

struct parser {
    const char *p;
    const char *end;
    const char *start;
    char *err;
    size_t errcap;
    bool failed;
};

static void fail(struct parser *ps, const char *fmt, ...) {
    if (ps->failed) {
        return;
    }
    ps->failed = true;
    if (ps->err == NULL || ps->errcap == 0) {
        return;
    }
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(ps->err, ps->errcap, "%s at byte %zu", what, (size_t)(ps->p - ps->start));
}

static void skip_space(struct parser *ps) {
    while (ps->p < ps->end &&
           (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) {
        ps->p++;
    }
}

static json_value *new_value(struct parser *ps, json_type type) {
    json_value *v = calloc(1, sizeof *v);
    if (v == NULL) {
        fail(ps, "out of memory");
        return NULL;
    }
    v->type = type;
    return v;
}

static void json_free(json_value *v) {
    if (v == NULL) {
        return;
    }
    for (size_t i = 0; i < v->count; i++) {
        if (v->keys != NULL) {
            free(v->keys[i]);
        }
        json_free(v->items[i]);
    }
    free(v->keys);
    free(v->items);
    free(v->text);
    free(v);
}

/* A growing byte buffer for decoded strings. */
struct buf {
    char *data;
    size_t len;
    size_t cap;
};

static bool buf_put(struct buf *b, const char *bytes, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap != 0 ? b->cap : 32;
        while (b->len + n + 1 > cap) {
            cap *= 2;
        }
        char *bigger = realloc(b->data, cap);
        if (bigger == NULL) {
            return false;
        }
        b->data = bigger;
        b->cap = cap;
    }
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

static bool put_utf8(struct buf *b, uint32_t cp) {
    char out[4];
    size_t n;
    if (cp < 0x80) {
        out[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        out[0] = (char)(0xF0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return buf_put(b, out, n);
}

static bool hex4(struct parser *ps, uint32_t *out) {
    if (ps->end - ps->p < 4) {
        fail(ps, "truncated \\u escape");
        return false;
    }
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = ps->p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (uint32_t)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (uint32_t)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (uint32_t)(c - 'A' + 10);
        } else {
            fail(ps, "bad \\u escape");
            return false;
        }
    }
    ps->p += 4;
    *out = v;
    return true;
}

/* Parses a string at ps->p (on the opening quote) into a malloc'd C string. */
static char *parse_string(struct parser *ps) {
    struct buf b = {0};
    ps->p++; /* the opening quote */
    if (!buf_put(&b, "", 0)) {
        fail(ps, "out of memory");
        return NULL;
    }
    for (;;) {
        if (ps->p >= ps->end) {
            fail(ps, "unterminated string");
            break;
        }
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            return b.data;
        }
        if (c < 0x20) {
            fail(ps, "control character in a string");
            break;
        }
        if (c != '\\') {
            const char *run = ps->p;
            while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' &&
                   (unsigned char)*ps->p >= 0x20) {
                ps->p++;
            }
            if (!buf_put(&b, run, (size_t)(ps->p - run))) {
                fail(ps, "out of memory");
                break;
            }
            continue;
        }
        ps->p++;
        if (ps->p >= ps->end) {
            fail(ps, "unterminated string");
            break;
        }
        char e = *ps->p++;
        const char *simple = NULL;
        switch (e) {
        case '"': simple = "\""; break;
        case '\\': simple = "\\"; break;
        case '/': simple = "/"; break;
        case 'b': simple = "\b"; break;
        case 'f': simple = "\f"; break;
        case 'n': simple = "\n"; break;
        case 'r': simple = "\r"; break;
        case 't': simple = "\t"; break;
        case 'u': break;
        default:
            fail(ps, "bad escape \\%c", e);
            free(b.data);
            return NULL;
        }
        if (simple != NULL) {
            if (!buf_put(&b, simple, 1)) {
                fail(ps, "out of memory");
                break;
            }
            continue;
        }
        uint32_t cp = 0;
        if (!hex4(ps, &cp)) {
            break;
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t low = 0;
            if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u') {
                fail(ps, "lone surrogate in \\u escape");
                break;
            }
            ps->p += 2;
            if (!hex4(ps, &low)) {
                break;
            }
            if (low < 0xDC00 || low > 0xDFFF) {
                fail(ps, "bad surrogate pair in \\u escape");
                break;
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail(ps, "lone surrogate in \\u escape");
            break;
        }
        if (cp == 0) {
            fail(ps, "\\u0000 in a string");
            break;
        }
        if (!put_utf8(&b, cp)) {
            fail(ps, "out of memory");
            break;
        }
    }
    free(b.data);
    return NULL;
}

static json_value *parse_value(struct parser *ps, int depth);

/* Appends (key, value) to an array or object; takes ownership of both. */
static bool append_item(struct parser *ps, json_value *to, char *key, json_value *item) {
    json_value **items = realloc(to->items, (to->count + 1) * sizeof *items);
    if (items == NULL) {
        goto oom;
    }
    to->items = items;
    if (to->type == JSON_OBJECT) {
        char **keys = realloc(to->keys, (to->count + 1) * sizeof *keys);
        if (keys == NULL) {
            goto oom;
        }
        to->keys = keys;
        to->keys[to->count] = key;
    }
    to->items[to->count] = item;
    to->count++;
    return true;
oom:
    free(key);
    json_free(item);
    fail(ps, "out of memory");
    return false;
}

static json_value *parse_container(struct parser *ps, int depth, bool object) {
    json_value *v = new_value(ps, object ? JSON_OBJECT : JSON_ARRAY);
    if (v == NULL) {
        return NULL;
    }
    char close = object ? '}' : ']';
    ps->p++; /* '{' or '[' */
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return v;
    }
    for (;;) {
        char *key = NULL;
        skip_space(ps);
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"') {
                fail(ps, "expected a string key");
                break;
            }
            key = parse_string(ps);
            if (key == NULL) {
                break;
            }
            skip_space(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                free(key);
                fail(ps, "expected ':'");
                break;
            }
            ps->p++;
        }
        json_value *item = parse_value(ps, depth + 1);
        if (item == NULL) {
            free(key);
            break;
        }
        if (!append_item(ps, v, key, item)) {
            break;
        }
        skip_space(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return v;
        }
        fail(ps, "expected ',' or '%c'", close);
        break;
    }
    json_free(v);
    return NULL;
}

/* Skips the digits at ps->p; false when there is none. */
static bool skip_digits(struct parser *ps) {
    const char *start = ps->p;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        ps->p++;
    }
    return ps->p > start;
}

static json_value *parse_number(struct parser *ps) {
    const char *s = ps->p;
    if (ps->p < ps->end && *ps->p == '-') {
        ps->p++;
    }
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') {
        fail(ps, "bad number");
        return NULL;
    }
    if (*ps->p == '0') {
        ps->p++;
    } else {
        skip_digits(ps);
    }
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (!skip_digits(ps)) {
            fail(ps, "bad number");
            return NULL;
        }
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) {
            ps->p++;
        }
        if (!skip_digits(ps)) {
            fail(ps, "bad number");
            return NULL;
        }
    }
    json_value *v = new_value(ps, JSON_NUMBER);
    if (v == NULL) {
        return NULL;
    }
    size_t n = (size_t)(ps->p - s);
    v->text = malloc(n + 1);
    if (v->text == NULL) {
        json_free(v);
        fail(ps, "out of memory");
        return NULL;
    }
    memcpy(v->text, s, n);
    v->text[n] = '\0';
    return v;
}

static bool literal(struct parser *ps, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, word, n) == 0) {
        ps->p += n;
        return true;
    }
    return false;
}

static json_value *parse_value(struct parser *ps, int depth) {
    if (depth > JSON_MAX_DEPTH) {
        fail(ps, "nested deeper than %d levels", JSON_MAX_DEPTH);
        return NULL;
    }
    skip_space(ps);
    if (ps->p >= ps->end) {
        fail(ps, "unexpected end of input");
        return NULL;
    }
    json_value *v = NULL;
    switch (*ps->p) {
    case '{':
        return parse_container(ps, depth, true);
    case '[':
        return parse_container(ps, depth, false);
    case '"': {
        char *s = parse_string(ps);
        if (s == NULL) {
            return NULL;
        }
        v = new_value(ps, JSON_STRING);
        if (v == NULL) {
            free(s);
            return NULL;
        }
        v->text = s;
        return v;
    }
    case 't':
    case 'f': {
        bool truth = *ps->p == 't';
        if (literal(ps, truth ? "true" : "false")) {
            v = new_value(ps, JSON_BOOL);
            if (v != NULL) {
                v->boolean = truth;
            }
            return v;
        }
        break;
    }
    case 'n':
        if (literal(ps, "null")) {
            return new_value(ps, JSON_NULL);
        }
        break;
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) {
            return parse_number(ps);
        }
        break;
    }
    fail(ps, "unexpected character '%c'", *ps->p);
    return NULL;
}

static json_value *json_parse(const char *text, size_t len, char *err, size_t errcap) {
    struct parser ps = {
        .p = text, .end = text + len, .start = text, .err = err, .errcap = errcap};
    if (err != NULL && errcap > 0) {
        err[0] = '\0';
    }
    if (text == NULL) {
        fail(&ps, "no input");
        return NULL;
    }
    json_value *v = parse_value(&ps, 0);
    if (v == NULL) {
        return NULL;
    }
    skip_space(&ps);
    if (ps.p != ps.end) {
        fail(&ps, "trailing characters after the JSON value");
        json_free(v);
        return NULL;
    }
    return v;
}

/* The value of `key` in an object (the first one), or NULL. */
static const json_value *json_get(const json_value *object, const char *key) {
    if (object == NULL || object->type != JSON_OBJECT) {
        return NULL;
    }
    for (size_t i = 0; i < object->count; i++) {
        if (strcmp(object->keys[i], key) == 0) {
            return object->items[i];
        }
    }
    return NULL;
}

/* The string a value holds, or NULL when it is not a string (or NULL). */
static const char *json_string(const json_value *v) {
    return v != NULL && v->type == JSON_STRING ? v->text : NULL;
}

/* A malloc'd copy of `s`, or NULL for NULL; *ok is cleared when memory runs out. */
static char *copy_or_null(const char *s, bool *ok) {
    if (s == NULL) {
        return NULL;
    }
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d == NULL) {
        *ok = false;
        return NULL;
    }
    memcpy(d, s, n);
    return d;
}

bool layout_entries_parse(const char *text, size_t len, struct layout_entry **entries,
                          size_t *count, char *err, size_t errcap) {
    char why[200];
    json_value *root = json_parse(text, len, why, sizeof why);
    if (root == NULL) {
        snprintf(err, errcap, "not JSON: %s", why);
        return false;
    }
    const json_value *manifests = json_get(root, "manifests");
    if (manifests == NULL || manifests->type != JSON_ARRAY) {
        snprintf(err, errcap, "no \"manifests\" array");
        json_free(root);
        return false;
    }
    struct layout_entry *out = calloc(manifests->count > 0 ? manifests->count : 1, sizeof *out);
    bool ok = out != NULL;
    for (size_t i = 0; ok && i < manifests->count; i++) {
        const json_value *m = manifests->items[i];
        out[i].name = copy_or_null(
            json_string(json_get(json_get(m, "annotations"), REF_NAME_ANNOTATION)), &ok);
        out[i].digest = copy_or_null(json_string(json_get(m, "digest")), &ok);
    }
    if (!ok) {
        layout_entries_free(out, out != NULL ? manifests->count : 0);
        snprintf(err, errcap, "out of memory");
        json_free(root);
        return false;
    }
    *entries = out;
    *count = manifests->count;
    json_free(root);
    return true;
}

void layout_entries_free(struct layout_entry *entries, size_t count) {
    for (size_t i = 0; entries != NULL && i < count; i++) {
        free(entries[i].name);
        free(entries[i].digest);
    }
    free(entries);
}
