/*
 * Offline checks of the C boundary, no registry needed: version macros
 * against rr_version(), status names, NULL and invalid UTF-8 arguments,
 * the size query of rr_reference_normalize, NULL getters, and the
 * last-error state after failing and successful calls.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rr.h"

static int failures;
static int checks;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        checks++;                                                                      \
        if (!(cond)) {                                                                 \
            failures++;                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
        }                                                                              \
    } while (0)

/* Checks rc == want; on a mismatch prints the last error too. */
#define CHECK_RC(call, want)                                                           \
    do {                                                                               \
        rr_status rc_ = (call);                                                        \
        checks++;                                                                      \
        if (rc_ != (want)) {                                                           \
            failures++;                                                                \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (message: \"%s\")\n",  \
                    __FILE__, __LINE__, #call, rr_status_name((int32_t)rc_),           \
                    rr_status_name((int32_t)(want)), rr_error_message());              \
        }                                                                              \
    } while (0)

static const char *safe(const char *s) {
    return s != NULL ? s : "(null)";
}

/* The last error is a failure's: message non-empty and mentioning `word`. */
static void check_error_mentions(const char *what, const char *word) {
    const char *msg = rr_error_message();
    checks++;
    if (msg == NULL || msg[0] == '\0' || (word != NULL && strstr(msg, word) == NULL)) {
        failures++;
        fprintf(stderr, "%s: message \"%s\" should be non-empty and name \"%s\"\n", what,
                safe(msg), safe(word));
    }
}

/* The last error is cleared: "", HTTP 0, code NULL. */
static void check_no_error(const char *what) {
    const char *msg = rr_error_message();
    checks++;
    if (msg == NULL || msg[0] != '\0' || rr_error_http_status() != 0 ||
        rr_error_registry_code() != NULL) {
        failures++;
        fprintf(stderr, "%s: expected no error, got message \"%s\", HTTP %u, code %s\n", what,
                safe(msg), (unsigned)rr_error_http_status(), safe(rr_error_registry_code()));
    }
}

static void test_version(void) {
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", RR_VERSION_MAJOR, RR_VERSION_MINOR,
             RR_VERSION_PATCH);
    const char *got = rr_version();
    CHECK(got != NULL);
    if (got != NULL && strcmp(got, want) != 0) {
        fprintf(stderr, "rr_version() is \"%s\", the header says \"%s\"\n", got, want);
        CHECK(strcmp(got, want) == 0);
    }
    CHECK(rr_version() == got); /* static */
}

static void test_status_names(void) {
    static const char *const names[] = {
        "RR_OK",
        "RR_ERR_INVALID_ARGUMENT",
        "RR_ERR_INVALID_REFERENCE",
        "RR_ERR_NOT_FOUND",
        "RR_ERR_UNAUTHORIZED",
        "RR_ERR_DENIED",
        "RR_ERR_TOO_MANY_REQUESTS",
        "RR_ERR_DIGEST_MISMATCH",
        "RR_ERR_UNSUPPORTED",
        "RR_ERR_INVALID_RESPONSE",
        "RR_ERR_REGISTRY",
        "RR_ERR_TRANSPORT",
        "RR_ERR_IO",
        "RR_ERR_CANCELLED",
        "RR_ERR_CALLBACK",
        "RR_ERR_PANIC",
    };
    for (int32_t i = 0; i < (int32_t)(sizeof names / sizeof names[0]); i++) {
        const char *got = rr_status_name(i);
        checks++;
        if (got == NULL || strcmp(got, names[i]) != 0) {
            failures++;
            fprintf(stderr, "rr_status_name(%d) is \"%s\", expected \"%s\"\n", (int)i, safe(got),
                    names[i]);
        }
    }
    CHECK(strcmp(safe(rr_status_name(RR_ERR_PANIC)), "RR_ERR_PANIC") == 0);
    CHECK(strcmp(safe(rr_status_name(99)), "RR_UNKNOWN") == 0);
    CHECK(strcmp(safe(rr_status_name(16)), "RR_UNKNOWN") == 0);
    CHECK(strcmp(safe(rr_status_name(-1)), "RR_UNKNOWN") == 0);
}

static void test_null_arguments(void) {
    CHECK_RC(rr_client_new(NULL), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_client_new(NULL)", "out");
    /* The getters and rr_status_name leave the last error alone. */
    (void)rr_status_name(RR_OK);
    (void)rr_version();
    check_error_mentions("after rr_status_name/rr_version", "out");

    rr_descriptor *desc = (rr_descriptor *)&desc; /* a sentinel: must stay untouched */
    rr_descriptor *const sentinel = desc;
    CHECK_RC(rr_get(NULL, "localhost/a:b", &desc), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_get(NULL client)", "client");
    CHECK(desc == sentinel);

    rr_client *client = NULL;
    CHECK_RC(rr_client_new(&client), RR_OK);
    check_no_error("rr_client_new");
    CHECK(client != NULL);
    if (client == NULL) {
        return;
    }
    CHECK_RC(rr_client_set_keychain(client, false), RR_OK);

    CHECK_RC(rr_get(client, NULL, &desc), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_get(NULL reference)", "reference");
    CHECK(desc == sentinel);
    CHECK_RC(rr_get(client, "localhost/a:b", NULL), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_get(NULL out)", "out");

    /* Invalid UTF-8 is an argument error, never a crash or a request. */
    CHECK_RC(rr_get(client, "\xff\xfe", &desc), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_get(invalid UTF-8)", NULL);
    CHECK(desc == sentinel);
    CHECK_RC(rr_get(client, "localhost/a\xff\xfe:b", &desc), RR_ERR_INVALID_ARGUMENT);
    CHECK(desc == sentinel);
    rr_image *img = NULL;
    CHECK_RC(rr_image_open(client, "\xff\xfe", &img), RR_ERR_INVALID_ARGUMENT);
    CHECK(img == NULL);
    CHECK_RC(rr_client_set_platform(client, "\xff\xfe"), RR_ERR_INVALID_ARGUMENT);

    /* A few option checks of the contract. */
    CHECK_RC(rr_client_set_platform(client, "linux"), RR_ERR_INVALID_REFERENCE);
    CHECK_RC(rr_client_set_platform(client, "linux/arm64/v8"), RR_OK);
    check_no_error("rr_client_set_platform");
    CHECK_RC(rr_client_set_retry(client, 0, 100), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_set_basic_auth(client, "localhost", NULL, "pw"), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_set_basic_auth(client, "localhost", "user", NULL),
             RR_ERR_INVALID_ARGUMENT);

    rr_client_free(client);
}

static void test_normalize(void) {
    static const char want[] = "index.docker.io/library/ubuntu:latest";
    size_t needed = 0;

    /* Size query: buf NULL, cap 0. */
    CHECK_RC(rr_reference_normalize("ubuntu", NULL, 0, &needed), RR_ERR_INVALID_ARGUMENT);
    CHECK(needed == sizeof want);
    if (needed != sizeof want) {
        fprintf(stderr, "size query set needed to %zu, expected %zu\n", needed, sizeof want);
    }

    /* Too small by one: needed is still set, buf untouched. */
    char buf[128];
    memset(buf, 'x', sizeof buf);
    needed = 0;
    CHECK_RC(rr_reference_normalize("ubuntu", buf, sizeof want - 1, &needed),
             RR_ERR_INVALID_ARGUMENT);
    CHECK(needed == sizeof want);
    CHECK(buf[0] == 'x');

    /* Exactly big enough. */
    needed = 0;
    CHECK_RC(rr_reference_normalize("ubuntu", buf, sizeof want, &needed), RR_OK);
    check_no_error("rr_reference_normalize");
    CHECK(needed == sizeof want);
    CHECK(strcmp(buf, want) == 0);

    /* needed may be NULL. */
    CHECK_RC(rr_reference_normalize("localhost/a", buf, sizeof buf, NULL), RR_OK);
    CHECK(strcmp(buf, "localhost/a:latest") == 0);

    CHECK_RC(rr_reference_normalize(NULL, buf, sizeof buf, &needed), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_reference_normalize(NULL)", "reference");
    CHECK_RC(rr_reference_normalize("\xff\xfe", buf, sizeof buf, &needed),
             RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_reference_normalize("https://example.com/a", buf, sizeof buf, &needed),
             RR_ERR_INVALID_REFERENCE);
    CHECK_RC(rr_reference_normalize("UPPER/case", buf, sizeof buf, &needed),
             RR_ERR_INVALID_REFERENCE);
}

static void test_null_getters(void) {
    /* Clear the last error with a successful call, then make sure NULL
       handles give NULL/0 without setting an error. */
    size_t needed = 0;
    char buf[64];
    CHECK_RC(rr_reference_normalize("ubuntu", buf, sizeof buf, &needed), RR_OK);
    check_no_error("after a successful call");

    CHECK(rr_descriptor_media_type(NULL) == NULL);
    CHECK(rr_descriptor_digest(NULL) == NULL);
    CHECK(rr_descriptor_size(NULL) == 0);
    CHECK(rr_image_digest(NULL) == NULL);
    CHECK(rr_image_media_type(NULL) == NULL);
    CHECK(rr_image_layer_count(NULL) == 0);
    CHECK(rr_image_layer_digest(NULL, 0) == NULL);
    CHECK(rr_image_layer_media_type(NULL, 0) == NULL);
    CHECK(rr_image_layer_size(NULL, 0) == 0);
    CHECK(rr_index_digest(NULL) == NULL);
    CHECK(rr_index_media_type(NULL) == NULL);
    CHECK(rr_index_child_count(NULL) == 0);
    CHECK(rr_index_child_digest(NULL, 0) == NULL);
    CHECK(rr_index_child_media_type(NULL, 0) == NULL);
    CHECK(rr_index_child_platform(NULL, 0) == NULL);
    CHECK(rr_string_list_len(NULL) == 0);
    CHECK(rr_string_list_get(NULL, 0) == NULL);
    check_no_error("NULL getters");

    /* Free functions accept NULL. */
    rr_client_free(NULL);
    rr_descriptor_free(NULL);
    rr_image_free(NULL);
    rr_index_free(NULL);
    rr_string_list_free(NULL);

    /* Fallible calls on a NULL handle are argument errors, out untouched. */
    const uint8_t *bytes = (const uint8_t *)buf;
    size_t len = 7;
    CHECK_RC(rr_image_config(NULL, &bytes, &len), RR_ERR_INVALID_ARGUMENT);
    CHECK(bytes == (const uint8_t *)buf && len == 7);
    CHECK_RC(rr_descriptor_manifest(NULL, &bytes, &len), RR_ERR_INVALID_ARGUMENT);
    CHECK(bytes == (const uint8_t *)buf && len == 7);

    /* And a successful call clears it again. */
    CHECK_RC(rr_reference_normalize("ubuntu", buf, sizeof buf, NULL), RR_OK);
    check_no_error("success after failure");
}

int main(void) {
    test_version();
    test_status_names();
    test_null_arguments();
    test_normalize();
    test_null_getters();
    printf("api_test: %d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
