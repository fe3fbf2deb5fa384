/*
 * Offline checks of the C boundary, no registry needed: version macros
 * against rr_version(), status names, NULL and invalid UTF-8 arguments,
 * the size query of rr_reference_normalize, NULL getters, and the
 * last-error state after failing and successful calls, the per-registry TLS and
 * proxy setters, the mirror and rate-limit functions (a registries.conf file
 * written here). For the write path:
 * argument checks of rr_write, rr_write_index, rr_copy, rr_tag, rr_delete,
 * rr_check_push_permission, rr_put_manifest and the page-by-page listings (all
 * rejected before any request); the getters of manifest fields, NULL and out of
 * range; platforms given field by field (rr_platform_spec); the image and
 * index builders on a tar file written here, and OCI layouts in a temporary
 * directory (written, read back, progress and cancellation); the argument
 * checks of the rr_blob_* functions (blobs read and pushed on their own).
 */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw */

#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    /* A copy read through another client needs an image, a client and an out pointer. */
    CHECK_RC(rr_image_with_client(NULL, client, &img), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_image_with_client(NULL image)", "image");
    CHECK(img == NULL);
    rr_index *idx = NULL;
    CHECK_RC(rr_index_with_client(NULL, client, &idx), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_index_with_client(NULL index)", "index");
    CHECK(idx == NULL);
    CHECK_RC(rr_client_set_platform(client, "\xff\xfe"), RR_ERR_INVALID_ARGUMENT);

    /* A few option checks of the contract. */
    CHECK_RC(rr_client_set_platform(client, "linux"), RR_ERR_INVALID_REFERENCE);
    CHECK_RC(rr_client_set_platform(client, "linux/arm64/v8"), RR_OK);
    check_no_error("rr_client_set_platform");
    const char *const features[] = {"win32k"};
    rr_platform_spec spec = {0};
    spec.os = "windows";
    spec.architecture = "amd64";
    spec.os_version = "10.0.17763.1234";
    spec.os_features = features;
    spec.os_feature_count = 1;
    CHECK_RC(rr_client_set_platform_spec(client, &spec), RR_OK);
    check_no_error("rr_client_set_platform_spec");
    CHECK_RC(rr_client_set_platform_spec(NULL, &spec), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_set_platform_spec(client, NULL), RR_ERR_INVALID_ARGUMENT);
    spec.os_version = "10 0";
    CHECK_RC(rr_client_set_platform_spec(client, &spec), RR_ERR_INVALID_REFERENCE);
    spec.os_version = NULL;
    spec.architecture = "\xff\xfe";
    CHECK_RC(rr_client_set_platform_spec(client, &spec), RR_ERR_INVALID_ARGUMENT);
    spec.architecture = NULL;
    CHECK_RC(rr_client_set_platform_spec(client, &spec), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_client_set_platform_spec(no architecture)", "architecture");
    CHECK_RC(rr_client_set_retry(client, 0, 100), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_set_basic_auth(client, "localhost", NULL, "pw"), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_set_basic_auth(client, "localhost", "user", NULL),
             RR_ERR_INVALID_ARGUMENT);

    rr_client_free(client);
}

/* Host control: derived clients, cancellation and limits (issue 13). Cancelling NULL, twice,
 * before any call and after one is harmless; a cancelled handle fails its later calls at
 * once with RR_ERR_CANCELLED; its parent and siblings go on; limits out of range are
 * RR_ERR_INVALID_ARGUMENT and 0 means none. No request reaches a registry. */
static void test_host_control(void) {
    rr_client *parent = NULL, *child = NULL, *sibling = NULL;
    CHECK_RC(rr_client_new(&parent), RR_OK);
    CHECK_RC(rr_client_derive(NULL, &child), RR_ERR_INVALID_ARGUMENT);
    CHECK(child == NULL);
    CHECK_RC(rr_client_derive(parent, NULL), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_derive(parent, &child), RR_OK);
    CHECK_RC(rr_client_derive(parent, &sibling), RR_OK);

    rr_client_cancel(NULL);
    rr_client_cancel(child);
    rr_client_cancel(child);
    rr_descriptor *d = NULL;
    /* 127.0.0.1:9 (discard) is never reached: the cancelled handle stops first. */
    CHECK_RC(rr_get(child, "127.0.0.1:9/a/b:c", &d), RR_ERR_CANCELLED);
    CHECK(d == NULL);
    CHECK_RC(rr_list(child, "127.0.0.1:9/a/b", NULL), RR_ERR_INVALID_ARGUMENT);
    rr_string_list *tags = NULL;
    CHECK_RC(rr_list(child, "127.0.0.1:9/a/b", &tags), RR_ERR_CANCELLED);
    CHECK(tags == NULL);
    /* The sibling is not cancelled: its call fails for the unreachable port instead. */
    CHECK_RC(rr_client_set_retry(sibling, 1, 0), RR_OK);
    CHECK_RC(rr_get(sibling, "127.0.0.1:9/a/b:c", &d), RR_ERR_TRANSPORT);

    CHECK_RC(rr_client_set_deadline(NULL, 1000), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_set_deadline(child, 604800001), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_set_deadline(child, 0), RR_OK);
    CHECK_RC(rr_client_set_first_byte_timeout(child, UINT64_MAX), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_set_first_byte_timeout(child, 0), RR_OK);
    CHECK_RC(rr_client_set_min_rate(child, 1024, 604800001), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_set_min_rate(child, UINT64_MAX, 1000), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_set_min_rate(child, 0, 0), RR_OK);
    check_no_error("rr_client_set_min_rate");

    /* A derived client outlives its parent. */
    rr_client_free(parent);
    CHECK_RC(rr_get(sibling, "127.0.0.1:9/a/b:c", &d), RR_ERR_TRANSPORT);
    rr_client_free(child);
    rr_client_free(sibling);
}

/* Per-registry TLS and proxies: NULLs and invalid UTF-8 named, files read when set,
 * proxies checked when set. No request is made. */
static void test_tls_and_proxy_setters(void) {
    CHECK_RC(rr_client_set_client_cert(NULL, "r.example", "c.pem", "k.pem"),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_client_set_client_cert(NULL client)", "client");
    CHECK_RC(rr_client_add_registry_ca_file(NULL, "r.example", "ca.pem"), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_client_add_registry_ca_file(NULL client)", "client");
    CHECK_RC(rr_client_add_certs_dir(NULL, "/tmp"), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_set_default_certs_dirs(NULL, false), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_set_proxy(NULL, "r.example", ""), RR_ERR_INVALID_ARGUMENT);

    rr_client *client = NULL;
    CHECK_RC(rr_client_new(&client), RR_OK);
    if (client == NULL) {
        return;
    }
    CHECK_RC(rr_client_set_client_cert(client, NULL, "c.pem", "k.pem"), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_client_set_client_cert(NULL registry)", "registry");
    CHECK_RC(rr_client_set_client_cert(client, "r.example", NULL, "k.pem"),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_client_set_client_cert(NULL cert_path)", "cert_path");
    CHECK_RC(rr_client_set_client_cert(client, "r.example", "c.pem", NULL),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_client_set_client_cert(NULL key_path)", "key_path");
    CHECK_RC(rr_client_set_client_cert(client, "r.example", "\xff\xfe", "k.pem"),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_client_set_client_cert(invalid UTF-8)", "cert_path");
    CHECK_RC(rr_client_set_client_cert(client, "not a registry", "c.pem", "k.pem"),
             RR_ERR_INVALID_REFERENCE);
    /* The files are read now. */
    CHECK_RC(rr_client_set_client_cert(client, "r.example", "/nonexistent/c.pem",
                                       "/nonexistent/k.pem"),
             RR_ERR_IO);
    check_error_mentions("rr_client_set_client_cert(missing file)", "/nonexistent/c.pem");

    CHECK_RC(rr_client_add_registry_ca_file(client, NULL, "ca.pem"), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_client_add_registry_ca_file(NULL registry)", "registry");
    CHECK_RC(rr_client_add_registry_ca_file(client, "r.example", NULL), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_client_add_registry_ca_file(NULL pem_path)", "pem_path");
    CHECK_RC(rr_client_add_registry_ca_file(client, "r.example", "/nonexistent/ca.pem"), RR_ERR_IO);
    check_error_mentions("rr_client_add_registry_ca_file(missing file)", "/nonexistent/ca.pem");

    CHECK_RC(rr_client_add_certs_dir(client, NULL), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_client_add_certs_dir(NULL dir)", "dir");
    CHECK_RC(rr_client_add_certs_dir(client, "\xff\xfe"), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_add_certs_dir(client, ""), RR_ERR_INVALID_ARGUMENT);
    /* A root need not exist yet: it is read when a registry is connected to. */
    CHECK_RC(rr_client_add_certs_dir(client, "/nonexistent/certs.d"), RR_OK);
    check_no_error("rr_client_add_certs_dir");
    CHECK_RC(rr_client_set_default_certs_dirs(client, false), RR_OK);

    CHECK_RC(rr_client_set_proxy(client, NULL, ""), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_client_set_proxy(NULL registry)", "registry");
    CHECK_RC(rr_client_set_proxy(client, "r.example", "\xff\xfe"), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_client_set_proxy(invalid UTF-8)", "proxy");
    CHECK_RC(rr_client_set_proxy(client, "r.example", "https://user:secret@proxy:3128"),
             RR_ERR_INVALID_ARGUMENT);
    {
        const char *msg = rr_error_message();
        CHECK(msg != NULL && strstr(msg, "secret") == NULL);
    }
    CHECK_RC(rr_client_set_proxy(client, "r.example", "http://proxy.example:3128"), RR_OK);
    CHECK_RC(rr_client_set_proxy(client, "r.example", ""), RR_OK);
    CHECK_RC(rr_client_set_proxy(client, "r.example", NULL), RR_OK); /* back to the environment */
    check_no_error("rr_client_set_proxy");
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
    /* The getters of manifest fields, so that no host parses JSON. */
    CHECK(rr_image_config_digest(NULL) == NULL);
    CHECK(rr_image_config_media_type(NULL) == NULL);
    CHECK(rr_image_config_size(NULL) == 0);
    CHECK(rr_image_total_size(NULL) == 0);
    CHECK(rr_image_artifact_type(NULL) == NULL);
    CHECK(rr_image_annotation(NULL, "k") == NULL);
    CHECK(rr_image_annotation_count(NULL) == 0);
    CHECK(rr_image_annotation_key(NULL, 0) == NULL);
    CHECK(rr_image_annotation_value(NULL, 0) == NULL);
    CHECK(rr_image_layer_artifact_type(NULL, 0) == NULL);
    CHECK(rr_image_layer_annotation(NULL, 0, "k") == NULL);
    CHECK(rr_image_layer_annotation_count(NULL, 0) == 0);
    CHECK(rr_image_layer_annotation_key(NULL, 0, 0) == NULL);
    CHECK(rr_image_layer_annotation_value(NULL, 0, 0) == NULL);
    CHECK(rr_index_artifact_type(NULL) == NULL);
    CHECK(rr_index_annotation(NULL, "k") == NULL);
    CHECK(rr_index_annotation_count(NULL) == 0);
    CHECK(rr_index_annotation_key(NULL, 0) == NULL);
    CHECK(rr_index_annotation_value(NULL, 0) == NULL);
    CHECK(rr_index_child_size(NULL, 0) == 0);
    CHECK(rr_index_child_artifact_type(NULL, 0) == NULL);
    CHECK(rr_index_child_annotation(NULL, 0, "k") == NULL);
    CHECK(rr_index_child_annotation_count(NULL, 0) == 0);
    CHECK(rr_index_child_annotation_key(NULL, 0, 0) == NULL);
    CHECK(rr_index_child_annotation_value(NULL, 0, 0) == NULL);
    CHECK(rr_index_child_os(NULL, 0) == NULL);
    CHECK(rr_index_child_architecture(NULL, 0) == NULL);
    CHECK(rr_index_child_variant(NULL, 0) == NULL);
    CHECK(rr_index_child_os_version(NULL, 0) == NULL);
    CHECK(rr_index_child_os_feature_count(NULL, 0) == 0);
    CHECK(rr_index_child_os_feature(NULL, 0, 0) == NULL);
    /* Media types by kind: no string comparison in the host. */
    CHECK(rr_media_type_kind(NULL) == RR_MANIFEST_UNKNOWN);
    CHECK(rr_media_type_kind("\xff\xfe") == RR_MANIFEST_UNKNOWN);
    CHECK(rr_media_type_kind("application/vnd.example+json") == RR_MANIFEST_UNKNOWN);
    CHECK(rr_media_type_kind("application/vnd.oci.image.manifest.v1+json") == RR_MANIFEST_IMAGE);
    CHECK(rr_media_type_kind("application/vnd.docker.distribution.manifest.v2+json") ==
          RR_MANIFEST_IMAGE);
    CHECK(rr_media_type_kind("application/vnd.oci.image.index.v1+json") == RR_MANIFEST_INDEX);
    CHECK(rr_media_type_kind("application/vnd.docker.distribution.manifest.list.v2+json") ==
          RR_MANIFEST_INDEX);
    CHECK(rr_media_type_kind("application/vnd.docker.distribution.manifest.v1+prettyjws") ==
          RR_MANIFEST_SCHEMA1);
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

/* ---- write path ---------------------------------------------------------- */

/* A small SHA-256 (FIPS 180-4), to check digests independently of the library. */
struct sha256 {
    uint32_t h[8];
    uint8_t block[64];
    size_t used;
    uint64_t bits;
};

static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
};

static uint32_t ror32(uint32_t x, unsigned n) {
    return (x >> n) | (x << (32 - n));
}

static void sha256_block(struct sha256 *s, const uint8_t *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++) {
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    }
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
    uint32_t e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) + ((e & f) ^ (~e & g)) +
                      sha256_k[i] + w[i];
        uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    s->h[0] += a;
    s->h[1] += b;
    s->h[2] += c;
    s->h[3] += d;
    s->h[4] += e;
    s->h[5] += f;
    s->h[6] += g;
    s->h[7] += h;
}

static void sha256_init(struct sha256 *s) {
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, h0, sizeof h0);
    s->used = 0;
    s->bits = 0;
}

static void sha256_update(struct sha256 *s, const uint8_t *p, size_t len) {
    s->bits += (uint64_t)len * 8;
    while (len > 0) {
        size_t n = 64 - s->used < len ? 64 - s->used : len;
        memcpy(s->block + s->used, p, n);
        s->used += n;
        p += n;
        len -= n;
        if (s->used == 64) {
            sha256_block(s, s->block);
            s->used = 0;
        }
    }
}

/* Finishes into "sha256:" + 64 lower-case hex digits (out: at least 72 bytes). */
static void sha256_digest(struct sha256 *s, char *out) {
    uint64_t bits = s->bits;
    uint8_t pad[72] = {0x80};
    size_t padlen = (s->used < 56 ? 56 : 120) - s->used;
    for (int i = 0; i < 8; i++) {
        pad[padlen + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
    }
    sha256_update(s, pad, padlen + 8);
    strcpy(out, "sha256:");
    for (int i = 0; i < 8; i++) {
        snprintf(out + 7 + 8 * i, 9, "%08x", (unsigned)s->h[i]);
    }
}

/* The digest of the file at `path` into out (72 bytes); false when unreadable. */
static bool sha256_file(const char *path, char *out) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return false;
    }
    struct sha256 s;
    sha256_init(&s);
    uint8_t buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        sha256_update(&s, buf, n);
    }
    bool ok = !ferror(f);
    fclose(f);
    sha256_digest(&s, out);
    return ok;
}

static void test_sha256(void) {
    struct sha256 s;
    char got[72];
    sha256_init(&s);
    sha256_update(&s, (const uint8_t *)"abc", 3);
    sha256_digest(&s, got);
    CHECK(strcmp(got, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") ==
          0);
}

static bool is_sha256_digest(const char *s) {
    if (s == NULL || strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 64) {
        return false;
    }
    for (const char *p = s + 7; *p != '\0'; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return false;
        }
    }
    return true;
}

static bool streq(const char *a, const char *b) {
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/*
 * Writes a minimal ustar archive to `path`: one regular file "hello.txt"
 * holding "hello\n", then the two zero blocks that end an archive. Returns
 * its size, 0 on failure.
 */
static long write_tar(const char *path) {
    static const char content[] = "hello\n";
    uint8_t archive[4 * 512];
    memset(archive, 0, sizeof archive);
    uint8_t *h = archive;
    memcpy(h, "hello.txt", 9);                               /* name */
    memcpy(h + 100, "0000644", 7);                           /* mode */
    memcpy(h + 108, "0000000", 7);                           /* uid */
    memcpy(h + 116, "0000000", 7);                           /* gid */
    snprintf((char *)h + 124, 12, "%011o", (unsigned)(sizeof content - 1)); /* size */
    memcpy(h + 136, "00000000000", 11);                      /* mtime */
    h[156] = '0';                                            /* typeflag: file */
    memcpy(h + 257, "ustar", 6);                             /* magic "ustar\0" */
    memcpy(h + 263, "00", 2);                                /* version */
    memset(h + 148, ' ', 8);                                 /* checksum: spaces first */
    unsigned sum = 0;
    for (int i = 0; i < 512; i++) {
        sum += h[i];
    }
    snprintf((char *)h + 148, 8, "%06o", sum); /* six digits, NUL, then the space */
    h[155] = ' ';
    memcpy(archive + 512, content, sizeof content - 1);

    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        return 0;
    }
    bool ok = fwrite(archive, 1, sizeof archive, f) == sizeof archive;
    ok = fclose(f) == 0 && ok;
    return ok ? (long)sizeof archive : 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes the directory tree at `dir`. */
static void remove_tree(const char *dir) {
    if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        fprintf(stderr, "api_test: could not remove %s\n", dir);
    }
}

/* Progress of a layout write: the calls seen, for checks afterwards. */
struct progress_log {
    int calls;
    bool decreased;
    bool total_changed;
    uint64_t complete;
    uint64_t total;
    int32_t cancel_after; /* return non-zero from this call on (0: never) */
};

static int32_t log_progress(void *userdata, uint64_t complete, uint64_t total) {
    struct progress_log *p = userdata;
    p->calls++;
    if (p->calls > 1 && complete < p->complete) {
        p->decreased = true;
    }
    if (p->calls > 1 && total != p->total) {
        p->total_changed = true;
    }
    p->complete = complete;
    p->total = total;
    return p->cancel_after > 0 && p->calls >= p->cancel_after ? 1 : 0;
}

/* Counts the bytes streamed by rr_image_layer_read and hashes them. */
struct layer_sink {
    size_t bytes;
    struct sha256 hash;
};

static int32_t sink_write(void *userdata, const uint8_t *buf, size_t len) {
    struct layer_sink *sink = userdata;
    sink->bytes += len;
    sha256_update(&sink->hash, buf, len);
    return 0;
}

/* A host sink that refuses the first chunk. */
static int32_t sink_refuse(void *userdata, const uint8_t *buf, size_t len) {
    (void)buf;
    (void)len;
    ++*(int *)userdata;
    return 7;
}

/* The write operations reject bad arguments before any request is made. */
/* A page callback for the argument checks: never called, as they fail first. */
static int32_t count_page(void *userdata, const char *const *entries, size_t count) {
    (void)userdata;
    (void)entries;
    (void)count;
    failures++;
    fprintf(stderr, "count_page: called, but every listing here should fail first\n");
    return 1;
}

/* An rr_blob_progress_fn that counts the events it is given (userdata: a size_t). */
static int32_t count_blob_events(void *userdata, const rr_blob_progress *event) {
    (void)event;
    if (userdata != NULL) {
        (*(size_t *)userdata)++;
    }
    return 0;
}

static void test_write_arguments(rr_client *client, const rr_image *img, const rr_index *idx) {
    static const char ref[] = "localhost:9/rr-api-test/app:v1";
    static const char zero_digest[] =
        "localhost:9/rr-api-test/app@sha256:0000000000000000000000000000000000000000000000000000000000000000";

    CHECK_RC(rr_write(NULL, ref, img), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_write(NULL client)", "client");
    CHECK_RC(rr_write(client, NULL, img), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_write(NULL reference)", "reference");
    CHECK_RC(rr_write(client, ref, NULL), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_write(NULL img)", "img");
    CHECK_RC(rr_write(client, "\xff\xfe", img), RR_ERR_INVALID_ARGUMENT);
    /* Writing needs a tag or a digest; "latest" is not implied. */
    CHECK_RC(rr_write(client, "localhost:9/rr-api-test/app", img), RR_ERR_INVALID_REFERENCE);
    check_error_mentions("rr_write(no tag)", "rr-api-test/app");
    CHECK_RC(rr_write(client, "https://localhost:9/a:b", img), RR_ERR_INVALID_REFERENCE);
    /* A digest reference must be the image's own digest. */
    CHECK_RC(rr_write(client, zero_digest, img), RR_ERR_INVALID_ARGUMENT);

    CHECK_RC(rr_write_index(NULL, ref, idx), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_write_index(client, NULL, idx), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_write_index(client, ref, NULL), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_write_index(NULL idx)", "idx");
    CHECK_RC(rr_write_index(client, "localhost:9/rr-api-test/app", idx), RR_ERR_INVALID_REFERENCE);
    CHECK_RC(rr_write_index(client, zero_digest, idx), RR_ERR_INVALID_ARGUMENT);

    CHECK_RC(rr_copy(NULL, ref, ref), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_copy(client, NULL, ref), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_copy(NULL src)", "src");
    CHECK_RC(rr_copy(client, ref, NULL), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_copy(NULL dst)", "dst");
    CHECK_RC(rr_copy(client, ref, "\xff\xfe"), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_copy(client, "UPPER/case:v1", ref), RR_ERR_INVALID_REFERENCE);
    CHECK_RC(rr_copy(client, ref, "localhost:9/rr-api-test/copy"), RR_ERR_INVALID_REFERENCE);
    {
        char copied[RR_DIGEST_SIZE] = "untouched";
        CHECK_RC(rr_copy_digest(NULL, ref, ref, copied, sizeof copied), RR_ERR_INVALID_ARGUMENT);
        CHECK_RC(rr_copy_digest(client, NULL, ref, copied, sizeof copied), RR_ERR_INVALID_ARGUMENT);
        check_error_mentions("rr_copy_digest(NULL src)", "src");
        CHECK_RC(rr_copy_digest(client, ref, NULL, copied, sizeof copied), RR_ERR_INVALID_ARGUMENT);
        check_error_mentions("rr_copy_digest(NULL dst)", "dst");
        CHECK_RC(rr_copy_digest(client, ref, "\xff\xfe", copied, sizeof copied),
                 RR_ERR_INVALID_ARGUMENT);
        /* Too small a buffer is refused before anything is done. */
        CHECK_RC(rr_copy_digest(client, ref, ref, copied, RR_DIGEST_SIZE - 1),
                 RR_ERR_INVALID_ARGUMENT);
        check_error_mentions("rr_copy_digest(small buffer)", "RR_DIGEST_SIZE");
        CHECK(strcmp(copied, "untouched") == 0);
    }

    CHECK_RC(rr_tag(NULL, ref, "v2"), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_tag(client, NULL, "v2"), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_tag(client, ref, NULL), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_tag(NULL new_tag)", "new_tag");
    /* The new tag is checked before any request. */
    CHECK_RC(rr_tag(client, ref, "bad tag!"), RR_ERR_INVALID_REFERENCE);
    check_error_mentions("rr_tag(bad tag)", "bad tag!");
    CHECK_RC(rr_tag(client, ref, ""), RR_ERR_INVALID_REFERENCE);
    CHECK_RC(rr_tag(client, "https://localhost:9/a:b", "v2"), RR_ERR_INVALID_REFERENCE);

    CHECK_RC(rr_delete(NULL, ref), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_delete(client, NULL), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_delete(client, "\xff\xfe"), RR_ERR_INVALID_ARGUMENT);
    /* Deleting needs a tag or a digest too: never "latest" by default. */
    CHECK_RC(rr_delete(client, "localhost:9/rr-api-test/app"), RR_ERR_INVALID_REFERENCE);

    CHECK_RC(rr_check_push_permission(NULL, ref), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_check_push_permission(client, NULL), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_check_push_permission(client, "\xff\xfe"), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_check_push_permission(client, "https://localhost:9/a:b"),
             RR_ERR_INVALID_REFERENCE);

    /* rr_put_manifest checks everything before any request (localhost:9 answers nothing). */
    static const char *const oci_manifest = "application/vnd.oci.image.manifest.v1+json";
    const uint8_t *manifest = NULL;
    size_t manifest_len = 0;
    CHECK_RC(rr_image_manifest(img, &manifest, &manifest_len), RR_OK);
    rr_descriptor *put = (rr_descriptor *)&put; /* sentinel */
    rr_descriptor *const put_sentinel = put;
    CHECK_RC(rr_put_manifest(NULL, ref, NULL, manifest, manifest_len, &put),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_put_manifest(NULL client)", "client");
    CHECK_RC(rr_put_manifest(client, NULL, NULL, manifest, manifest_len, &put),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_put_manifest(NULL reference)", "reference");
    CHECK_RC(rr_put_manifest(client, ref, NULL, NULL, manifest_len, &put),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_put_manifest(NULL bytes)", "bytes");
    CHECK_RC(rr_put_manifest(client, ref, "\xff\xfe", manifest, manifest_len, &put),
             RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_put_manifest(client, "localhost:9/rr-api-test/app", NULL, manifest, manifest_len,
                             &put),
             RR_ERR_INVALID_REFERENCE);
    CHECK_RC(rr_put_manifest(client, zero_digest, NULL, manifest, manifest_len, &put),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_put_manifest(wrong digest)", "hash to");
    CHECK_RC(rr_put_manifest(client, ref, "application/vnd.oci.image.index.v1+json", manifest,
                             manifest_len, &put),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_put_manifest(another media type)", "the bytes say");
    static const char not_json[] = "{\"schemaVersion\": 2";
    CHECK_RC(rr_put_manifest(client, ref, oci_manifest, (const uint8_t *)not_json,
                             sizeof not_json - 1, &put),
             RR_ERR_INVALID_ARGUMENT);
    static const char no_config[] = "{\"schemaVersion\": 2, \"layers\": []}";
    CHECK_RC(rr_put_manifest(client, ref, oci_manifest, (const uint8_t *)no_config,
                             sizeof no_config - 1, NULL),
             RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_put_manifest(client, ref, NULL, manifest, 0, NULL), RR_ERR_INVALID_ARGUMENT);
    CHECK(put == put_sentinel);

    /* Page-by-page listings: a NULL callback is refused before any request. */
    CHECK_RC(rr_list_pages(NULL, "localhost:9/rr-api-test/app", count_page, NULL),
             RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_list_pages(client, NULL, count_page, NULL), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_list_pages(client, "localhost:9/rr-api-test/app", NULL, NULL),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_list_pages(NULL fn)", "fn");
    CHECK_RC(rr_list_pages(client, "\xff\xfe", count_page, NULL), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_list_pages(client, ref, count_page, NULL), RR_ERR_INVALID_REFERENCE);
    CHECK_RC(rr_catalog_pages(NULL, "localhost:9", count_page, NULL), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_catalog_pages(client, NULL, count_page, NULL), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_catalog_pages(client, "localhost:9", NULL, NULL), RR_ERR_INVALID_ARGUMENT);

    /* Client options of the write path. */
    CHECK_RC(rr_client_set_jobs(NULL, 1), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_set_jobs(client, 0), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_set_jobs(client, 257), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_set_jobs(client, 256), RR_OK);
    CHECK_RC(rr_client_set_jobs(client, 1), RR_OK);
    CHECK_RC(rr_client_set_page_size(NULL, 100), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_set_page_size(client, 1001), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_set_page_size(client, 1000), RR_OK);
    CHECK_RC(rr_client_set_page_size(client, 1), RR_OK);
    CHECK_RC(rr_client_set_page_size(client, 0), RR_OK);
    check_no_error("rr_client_set_jobs");

    /* Upload strategies: per registry or (NULL) for all; values out of range are named. */
    CHECK_RC(rr_client_set_upload_strategy(NULL, "ghcr.io", RR_UPLOAD_CHUNKED, 4 << 20),
             RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_set_upload_strategy(client, "ghcr.io", RR_UPLOAD_CHUNKED, 4 << 20), RR_OK);
    CHECK_RC(rr_client_set_upload_strategy(client, NULL, RR_UPLOAD_AUTO, 0), RR_OK);
    CHECK_RC(rr_client_set_upload_strategy(client, NULL, RR_UPLOAD_MONOLITHIC, 0), RR_OK);
    CHECK_RC(rr_client_set_upload_strategy(client, "localhost:5000", RR_UPLOAD_STREAMED, 65536),
             RR_OK);
    CHECK_RC(rr_client_set_upload_strategy(client, NULL, 4, 0), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("strategy 4", "4");
    CHECK_RC(rr_client_set_upload_strategy(client, NULL, RR_UPLOAD_CHUNKED, 65535),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("chunk size 65535", "65535");
    CHECK_RC(rr_client_set_upload_strategy(client, NULL, RR_UPLOAD_CHUNKED, (1ull << 30) + 1),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("chunk size 1 GiB + 1", "1073741825");
    CHECK_RC(rr_client_set_upload_strategy(client, "\xff\xfe", RR_UPLOAD_AUTO, 0),
             RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_set_upload_strategy(client, "https://ghcr.io", RR_UPLOAD_AUTO, 0),
             RR_ERR_INVALID_REFERENCE);
    CHECK_RC(rr_client_set_monolithic_threshold(NULL, NULL, 1024), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_set_monolithic_threshold(client, NULL, 0), RR_OK);
    CHECK_RC(rr_client_set_monolithic_threshold(client, "ghcr.io", 1ull << 30), RR_OK);
    CHECK_RC(rr_client_set_monolithic_threshold(client, NULL, (1ull << 30) + 1),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("threshold 1 GiB + 1", "1073741825");
    CHECK_RC(rr_client_set_monolithic_threshold(client, "\xff\xfe", 0), RR_ERR_INVALID_ARGUMENT);
    CHECK(rr_upload_default_monolithic_threshold() > 0);
    CHECK_RC(rr_client_set_monolithic_threshold(client, NULL,
                                                rr_upload_default_monolithic_threshold()),
             RR_OK);
    check_no_error("rr_client_set_monolithic_threshold");
    CHECK_RC(rr_client_set_progress_callback(NULL, log_progress, NULL), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_set_progress_callback(client, NULL, NULL), RR_OK); /* removes it */
    CHECK_RC(rr_client_set_blob_progress_callback(NULL, count_blob_events, NULL),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("a NULL client for the blob progress callback", "client");
    CHECK_RC(rr_client_set_blob_progress_callback(client, NULL, NULL), RR_OK);
    check_no_error("rr_client_set_blob_progress_callback");
    /* Every phase has its name; any other number (taken as a plain integer) has none. */
    CHECK(strcmp(rr_blob_phase_name(RR_BLOB_STARTED), "started") == 0);
    CHECK(strcmp(rr_blob_phase_name(RR_BLOB_MOUNTED), "mounted") == 0);
    CHECK(strcmp(rr_blob_phase_name(RR_BLOB_DONE), "done") == 0);
    for (uint32_t phase = RR_BLOB_STARTED; phase <= RR_BLOB_DONE; phase++) {
        CHECK(rr_blob_phase_name(phase) != NULL);
    }
    CHECK(rr_blob_phase_name(RR_BLOB_DONE + 1) == NULL);
    CHECK(rr_blob_phase_name(UINT32_MAX) == NULL);
}

/*
 * Builds an image from a tar file written into `tmp`. Returns it (caller
 * frees) or NULL; *layer_size gets the file's size.
 */
static rr_image *test_image_builder(const char *tmp, long *layer_size) {
    char tar[4096], missing[4096], want[72];
    snprintf(tar, sizeof tar, "%s/layer.tar", tmp);
    snprintf(missing, sizeof missing, "%s/no-such-layer.tar", tmp);
    long size = write_tar(tar);
    CHECK(size > 0);
    CHECK(sha256_file(tar, want));
    *layer_size = size;

    rr_image_builder *b = (rr_image_builder *)&b; /* sentinel */
    rr_image_builder *const b_sentinel = b;
    CHECK_RC(rr_image_builder_new(NULL), RR_ERR_INVALID_ARGUMENT);
    CHECK(b == b_sentinel);
    CHECK_RC(rr_image_builder_new(&b), RR_OK);
    if (b == b_sentinel || b == NULL) {
        return NULL;
    }
    rr_image_builder_free(NULL);

    CHECK_RC(rr_image_builder_set_platform(NULL, "linux/amd64"), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_image_builder_set_platform(b, NULL), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_image_builder_set_platform(b, "linux"), RR_ERR_INVALID_REFERENCE);
    CHECK_RC(rr_image_builder_set_platform(b, "\xff\xfe/amd64"), RR_ERR_INVALID_ARGUMENT);

    static const char not_json[] = "this is not JSON";
    static const char array[] = "[1, 2]";
    static const char config[] = "{\"config\": {\"Env\": [\"API_TEST=1\"]}}";
    CHECK_RC(rr_image_builder_set_config(NULL, (const uint8_t *)config, sizeof config - 1),
             RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_image_builder_set_config(b, (const uint8_t *)not_json, sizeof not_json - 1),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("set_config(not JSON)", NULL);
    CHECK_RC(rr_image_builder_set_config(b, (const uint8_t *)array, sizeof array - 1),
             RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_image_builder_set_config(b, NULL, 5), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_image_builder_set_config(b, NULL, 0), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_image_builder_set_config(b, (const uint8_t *)config, sizeof config - 1), RR_OK);
    check_no_error("rr_image_builder_set_config");

    CHECK_RC(rr_image_builder_add_layer_file(NULL, tar, NULL), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_image_builder_add_layer_file(b, NULL, NULL), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_image_builder_add_layer_file(b, missing, NULL), RR_ERR_IO);
    check_error_mentions("add_layer_file(missing)", "no-such-layer.tar");
    /* A plain tar given as tar+gzip, and a media type that is no layer's. */
    CHECK_RC(rr_image_builder_add_layer_file(b, tar, "application/vnd.oci.image.layer.v1.tar+gzip"),
             RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_image_builder_add_layer_file(b, tar, "text/plain"), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_image_builder_add_layer_file(b, tar, NULL), RR_OK);
    check_no_error("rr_image_builder_add_layer_file");

    rr_image *img = (rr_image *)&img; /* sentinel */
    rr_image *const img_sentinel = img;
    CHECK_RC(rr_image_builder_build(NULL, &img), RR_ERR_INVALID_ARGUMENT);
    CHECK(img == img_sentinel);
    CHECK_RC(rr_image_builder_build(b, NULL), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_image_builder_build(b, &img), RR_OK);
    rr_image_builder_free(b); /* the image does not depend on the builder */
    if (img == img_sentinel || img == NULL) {
        return NULL;
    }

    CHECK(is_sha256_digest(rr_image_digest(img)));
    CHECK(streq(rr_image_media_type(img), "application/vnd.oci.image.manifest.v1+json"));
    CHECK(rr_image_layer_count(img) == 1);
    const char *layer = rr_image_layer_digest(img, 0);
    CHECK(is_sha256_digest(layer));
    if (!streq(layer, want)) {
        fprintf(stderr, "layer digest %s, the file's sha256 is %s\n", safe(layer), want);
        CHECK(streq(layer, want));
    }
    CHECK(rr_image_layer_size(img, 0) == (uint64_t)size);
    CHECK(streq(rr_image_layer_media_type(img, 0), "application/vnd.oci.image.layer.v1.tar"));
    CHECK(rr_image_layer_digest(img, 1) == NULL);

    /* The manifest's fields through getters; a built image has no annotations. */
    CHECK(is_sha256_digest(rr_image_config_digest(img)));
    CHECK(streq(rr_image_config_media_type(img), "application/vnd.oci.image.config.v1+json"));
    CHECK(rr_image_total_size(img) == rr_image_config_size(img) + (uint64_t)size);
    CHECK(rr_image_artifact_type(img) == NULL);
    CHECK(rr_image_annotation_count(img) == 0);
    CHECK(rr_image_annotation(img, "org.opencontainers.image.created") == NULL);
    CHECK(rr_image_annotation(img, NULL) == NULL);
    CHECK(rr_image_annotation_key(img, 0) == NULL);
    CHECK(rr_image_annotation_value(img, 0) == NULL);
    CHECK(rr_image_layer_artifact_type(img, 0) == NULL);
    CHECK(rr_image_layer_annotation_count(img, 0) == 0);
    CHECK(rr_image_layer_annotation(img, 0, "k") == NULL);
    /* Out of range: NULL and 0, no error. */
    CHECK(rr_image_layer_artifact_type(img, 1) == NULL);
    CHECK(rr_image_layer_annotation(img, 1, "k") == NULL);
    CHECK(rr_image_layer_annotation_count(img, 1) == 0);
    CHECK(rr_image_layer_annotation_key(img, 1, 0) == NULL);
    CHECK(rr_image_layer_annotation_value(img, 0, 0) == NULL);
    check_no_error("image getters out of range");

    /* The manifest's digest is the sha256 of its bytes. */
    const uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK_RC(rr_image_manifest(img, &bytes, &len), RR_OK);
    struct sha256 s;
    char got[72];
    sha256_init(&s);
    sha256_update(&s, bytes, len);
    sha256_digest(&s, got);
    CHECK(streq(got, rr_image_digest(img)));

    /* The config keeps the base config and gets the default platform. */
    CHECK_RC(rr_image_config(img, &bytes, &len), RR_OK);
    CHECK(rr_image_config_size(img) == (uint64_t)len);
    char *cfg = malloc(len + 1);
    if (cfg != NULL) {
        memcpy(cfg, bytes, len);
        cfg[len] = '\0';
        CHECK(strstr(cfg, "API_TEST=1") != NULL);
        CHECK(strstr(cfg, "amd64") != NULL);
        CHECK(strstr(cfg, "diff_ids") != NULL);
        free(cfg);
    }

    /* The layer streams back from the file, as it is. */
    struct layer_sink sink = {0};
    sha256_init(&sink.hash);
    CHECK_RC(rr_image_layer_read(img, 0, sink_write, &sink), RR_OK);
    sha256_digest(&sink.hash, got);
    CHECK(sink.bytes == (size_t)size);
    CHECK(streq(got, want));

    /* Bad arguments to the layer readers, and a sink that refuses: no file is left. */
    CHECK_RC(rr_image_layer_read(NULL, 0, sink_write, &sink), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_image_layer_read(img, 0, NULL, &sink), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_image_layer_read(img, 1, sink_write, &sink), RR_ERR_INVALID_ARGUMENT);
    int refusals = 0;
    CHECK_RC(rr_image_layer_read(img, 0, sink_refuse, &refusals), RR_ERR_CALLBACK);
    CHECK(refusals == 1);
    char saved[4096];
    snprintf(saved, sizeof saved, "%s/saved-layer", tmp);
    CHECK_RC(rr_image_layer_save(NULL, 0, saved), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_image_layer_save(img, 0, NULL), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_image_layer_save(img, 1, saved), RR_ERR_INVALID_ARGUMENT);
    CHECK(access(saved, F_OK) != 0);
    CHECK_RC(rr_image_layer_save(img, 0, saved), RR_OK);
    CHECK(sha256_file(saved, got));
    CHECK(streq(got, want));
    return img;
}

static rr_index *test_index_builder(const rr_image *img) {
    rr_index_builder *b = (rr_index_builder *)&b; /* sentinel */
    rr_index_builder *const b_sentinel = b;
    CHECK_RC(rr_index_builder_new(NULL), RR_ERR_INVALID_ARGUMENT);
    CHECK(b == b_sentinel);
    CHECK_RC(rr_index_builder_new(&b), RR_OK);
    if (b == b_sentinel || b == NULL) {
        return NULL;
    }
    rr_index_builder_free(NULL);

    rr_index *idx = (rr_index *)&idx; /* sentinel */
    rr_index *const idx_sentinel = idx;
    CHECK_RC(rr_index_builder_build(b, &idx), RR_ERR_INVALID_ARGUMENT); /* no image yet */
    CHECK(idx == idx_sentinel);
    CHECK_RC(rr_index_builder_add_image(NULL, img, "linux/arm64"), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_index_builder_add_image(b, NULL, "linux/arm64"), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_index_builder_add_image(b, img, "linux"), RR_ERR_INVALID_REFERENCE);
    CHECK_RC(rr_index_builder_add_image(b, img, "a/b/c/d"), RR_ERR_INVALID_REFERENCE);
    CHECK_RC(rr_index_builder_add_image(b, img, "linux/arm64"), RR_OK);
    CHECK_RC(rr_index_builder_build(NULL, &idx), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_index_builder_build(b, NULL), RR_ERR_INVALID_ARGUMENT);
    CHECK(idx == idx_sentinel);
    CHECK_RC(rr_index_builder_build(b, &idx), RR_OK);
    rr_index_builder_free(b);
    if (idx == idx_sentinel || idx == NULL) {
        return NULL;
    }

    CHECK(is_sha256_digest(rr_index_digest(idx)));
    CHECK(streq(rr_index_media_type(idx), "application/vnd.oci.image.index.v1+json"));
    CHECK(rr_index_child_count(idx) == 1);
    CHECK(streq(rr_index_child_platform(idx, 0), "linux/arm64"));
    CHECK(streq(rr_index_child_digest(idx, 0), rr_image_digest(img)));
    CHECK(rr_index_child_platform(idx, 1) == NULL);

    /* Each child's fields through getters, and NULL/0 past the end without an error. */
    const uint8_t *child_manifest = NULL;
    size_t child_len = 0;
    CHECK_RC(rr_image_manifest(img, &child_manifest, &child_len), RR_OK);
    CHECK(rr_index_child_size(idx, 0) == (uint64_t)child_len);
    CHECK(streq(rr_index_child_os(idx, 0), "linux"));
    CHECK(streq(rr_index_child_architecture(idx, 0), "arm64"));
    CHECK(rr_index_child_variant(idx, 0) == NULL);
    CHECK(rr_index_child_os_version(idx, 0) == NULL);
    CHECK(rr_index_child_os_feature_count(idx, 0) == 0);
    CHECK(rr_index_child_os_feature(idx, 0, 0) == NULL);
    CHECK(rr_index_child_artifact_type(idx, 0) == NULL);
    CHECK(rr_index_child_annotation_count(idx, 0) == 0);
    CHECK(rr_index_artifact_type(idx) == NULL);
    CHECK(rr_index_annotation_count(idx) == 0);
    CHECK(rr_index_annotation(idx, "k") == NULL);
    CHECK(rr_index_annotation_key(idx, 0) == NULL);
    CHECK(rr_index_annotation_value(idx, 0) == NULL);
    CHECK(rr_index_child_size(idx, 1) == 0);
    CHECK(rr_index_child_os(idx, 1) == NULL);
    CHECK(rr_index_child_architecture(idx, 1) == NULL);
    CHECK(rr_index_child_variant(idx, 1) == NULL);
    CHECK(rr_index_child_os_version(idx, 1) == NULL);
    CHECK(rr_index_child_os_feature_count(idx, 1) == 0);
    CHECK(rr_index_child_os_feature(idx, 1, 0) == NULL);
    CHECK(rr_index_child_artifact_type(idx, 1) == NULL);
    CHECK(rr_index_child_annotation(idx, 1, "k") == NULL);
    CHECK(rr_index_child_annotation_count(idx, 1) == 0);
    CHECK(rr_index_child_annotation_key(idx, 1, 0) == NULL);
    CHECK(rr_index_child_annotation_value(idx, 1, 0) == NULL);
    CHECK(rr_media_type_kind(rr_index_media_type(idx)) == RR_MANIFEST_INDEX);
    CHECK(rr_media_type_kind(rr_index_child_media_type(idx, 0)) == RR_MANIFEST_IMAGE);
    check_no_error("index getters out of range");

    /* A platform field by field: os.features must be listed by the child. */
    const char *const features[] = {"win32k"};
    rr_platform_spec spec = {0};
    spec.os = "linux";
    spec.architecture = "aarch64"; /* normalised, as in strings */
    rr_image *chosen = NULL;
    CHECK_RC(rr_index_image_for_platform_spec(idx, &spec, &chosen), RR_OK);
    CHECK(chosen != NULL && streq(rr_image_digest(chosen), rr_image_digest(img)));
    rr_image_free(chosen);
    chosen = NULL;
    spec.os_features = features;
    spec.os_feature_count = 1;
    CHECK_RC(rr_index_image_for_platform_spec(idx, &spec, &chosen), RR_ERR_NOT_FOUND);
    check_error_mentions("spec with os.features", "win32k");
    CHECK(chosen == NULL);
    spec.os_features = NULL;
    CHECK_RC(rr_index_image_for_platform_spec(idx, &spec, &chosen), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("spec with a NULL os_features", "os_features");
    spec.os_feature_count = 0;
    spec.variant = "v 8";
    CHECK_RC(rr_index_image_for_platform_spec(idx, &spec, &chosen), RR_ERR_INVALID_REFERENCE);
    spec.variant = NULL;
    spec.os = NULL;
    CHECK_RC(rr_index_image_for_platform_spec(idx, &spec, &chosen), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("spec without os", "platform.os");
    CHECK_RC(rr_index_image_for_platform_spec(NULL, &spec, &chosen), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_index_image_for_platform_spec(idx, NULL, &chosen), RR_ERR_INVALID_ARGUMENT);
    spec.os = "linux";
    CHECK_RC(rr_index_image_for_platform_spec(idx, &spec, NULL), RR_ERR_INVALID_ARGUMENT);
    CHECK(chosen == NULL);

    /* The index keeps its image: no registry needed to open it. */
    rr_image *child = NULL;
    CHECK_RC(rr_index_child_image(idx, 0, &child), RR_OK);
    CHECK(streq(rr_image_digest(child), rr_image_digest(img)));
    rr_image_free(child);
    child = NULL;
    CHECK_RC(rr_index_image_for_platform(idx, "linux/arm64", &child), RR_OK);
    rr_image_free(child);
    child = NULL;
    CHECK_RC(rr_index_image_for_platform(idx, "linux/amd64", &child), RR_ERR_NOT_FOUND);
    CHECK(child == NULL);
    return idx;
}

static void test_layout(rr_client *client, const char *tmp, const rr_image *img,
                        const rr_index *idx, long layer_size) {
    char dir[4096], index_json[4096 + 16], other[4096], want[72];
    snprintf(dir, sizeof dir, "%s/layout", tmp); /* created by the first write */
    snprintf(index_json, sizeof index_json, "%s/index.json", dir);
    snprintf(other, sizeof other, "%s/cancelled", tmp);

    CHECK_RC(rr_layout_write_image(NULL, dir, img, "v1"), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_layout_write_image(client, NULL, img, "v1"), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_layout_write_image(client, dir, NULL, "v1"), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_layout_write_image(client, dir, img, "\xff\xfe"), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_layout_write_index(NULL, dir, idx, "multi"), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_layout_write_index(client, NULL, idx, "multi"), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_layout_write_index(client, dir, NULL, "multi"), RR_ERR_INVALID_ARGUMENT);

    /* Write with progress: total is the config and the layer; complete ends there. */
    struct progress_log progress = {0};
    CHECK_RC(rr_client_set_progress_callback(client, log_progress, &progress), RR_OK);
    CHECK_RC(rr_layout_write_image(client, dir, img, "v1"), RR_OK);
    check_no_error("rr_layout_write_image");
    CHECK(progress.calls > 0);
    CHECK(!progress.decreased);
    CHECK(!progress.total_changed);
    CHECK(progress.complete == progress.total);
    CHECK(progress.total > (uint64_t)layer_size); /* plus the config */

    rr_image *back = (rr_image *)&back; /* sentinel */
    rr_image *const back_sentinel = back;
    CHECK_RC(rr_layout_read_image(NULL, NULL, &back), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_layout_read_image(dir, NULL, NULL), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_layout_read_image(dir, "no-such-name", &back), RR_ERR_NOT_FOUND);
    CHECK(back == back_sentinel);
    /* A layout directory that does not exist is a local path error, like every other. */
    char missing[4096];
    snprintf(missing, sizeof missing, "%s/no-such-layout", tmp);
    CHECK_RC(rr_layout_read_image(missing, NULL, &back), RR_ERR_IO);
    CHECK(strstr(rr_error_message(), "does not exist") != NULL);
    rr_index *no_index = NULL;
    CHECK_RC(rr_layout_read_index(missing, &no_index), RR_ERR_IO);
    CHECK(no_index == NULL);
    CHECK(back == back_sentinel);
    /* Not a layout: the temporary directory itself (it holds layer.tar). */
    CHECK_RC(rr_layout_read_image(tmp, NULL, &back), RR_ERR_INVALID_ARGUMENT);
    CHECK(back == back_sentinel);
    CHECK_RC(rr_layout_read_image(dir, NULL, &back), RR_OK);
    if (back != back_sentinel && back != NULL) {
        CHECK(streq(rr_image_digest(back), rr_image_digest(img)));
        CHECK(rr_image_layer_count(back) == 1);
        CHECK(rr_image_layer_size(back, 0) == (uint64_t)layer_size);
        CHECK(streq(rr_image_layer_digest(back, 0), rr_image_layer_digest(img, 0)));
        const uint8_t *a = NULL, *b = NULL;
        size_t alen = 0, blen = 0;
        CHECK_RC(rr_image_config(back, &a, &alen), RR_OK);
        CHECK_RC(rr_image_config(img, &b, &blen), RR_OK);
        CHECK(alen == blen && alen > 0 && memcmp(a, b, alen) == 0);
        rr_image_free(back);
    }
    back = NULL;
    CHECK_RC(rr_layout_read_image(dir, "v1", &back), RR_OK);
    CHECK(streq(rr_image_digest(back), rr_image_digest(img)));
    rr_image_free(back);

    /* index.json as an index: its digest is the file's sha256. */
    rr_index *layout_index = (rr_index *)&layout_index; /* sentinel */
    rr_index *const index_sentinel = layout_index;
    CHECK_RC(rr_layout_read_index(NULL, &layout_index), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_layout_read_index(dir, NULL), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_layout_read_index(tmp, &layout_index), RR_ERR_INVALID_ARGUMENT);
    CHECK(layout_index == index_sentinel);
    CHECK_RC(rr_layout_read_index(dir, &layout_index), RR_OK);
    if (layout_index != index_sentinel && layout_index != NULL) {
        CHECK(sha256_file(index_json, want));
        CHECK(streq(rr_index_digest(layout_index), want));
        CHECK(rr_index_child_count(layout_index) == 1);
        CHECK(streq(rr_index_child_digest(layout_index, 0), rr_image_digest(img)));
        rr_index_free(layout_index);
    }

    /* A second manifest: NULL as name is then ambiguous; names still work. */
    progress = (struct progress_log){0};
    CHECK_RC(rr_layout_write_index(client, dir, idx, "multi"), RR_OK);
    CHECK(progress.complete == progress.total);
    back = (rr_image *)&back;
    CHECK_RC(rr_layout_read_image(dir, NULL, &back), RR_ERR_INVALID_ARGUMENT);
    CHECK(back == back_sentinel);
    back = NULL;
    CHECK_RC(rr_layout_read_image(dir, "v1", &back), RR_OK);
    CHECK(streq(rr_image_digest(back), rr_image_digest(img)));
    rr_image_free(back);
    layout_index = NULL;
    CHECK_RC(rr_layout_read_index(dir, &layout_index), RR_OK);
    CHECK(rr_index_child_count(layout_index) == 2);
    rr_index_free(layout_index);

    /* A progress callback that cancels: RR_ERR_CANCELLED and no entry (the
       layout may be left without index.json, or not be a layout at all). */
    progress = (struct progress_log){.cancel_after = 1};
    back = (rr_image *)&back;
    CHECK_RC(rr_layout_write_image(client, other, img, "v1"), RR_ERR_CANCELLED);
    check_error_mentions("rr_layout_write_image(cancelled)", NULL);
    CHECK(progress.calls >= 1);
    rr_status rc = rr_layout_read_image(other, "v1", &back);
    CHECK(rc == RR_ERR_NOT_FOUND || rc == RR_ERR_INVALID_ARGUMENT);
    CHECK(back == back_sentinel);
    /* Writing again succeeds, and nothing left behind is corrupt: the layer
       read from the layout verifies against its digest. */
    progress = (struct progress_log){0};
    CHECK_RC(rr_layout_write_image(client, other, img, "v1"), RR_OK);
    CHECK(progress.complete == progress.total);
    back = NULL;
    CHECK_RC(rr_layout_read_image(other, "v1", &back), RR_OK);
    struct layer_sink sink = {0};
    sha256_init(&sink.hash);
    CHECK_RC(rr_image_layer_read(back, 0, sink_write, &sink), RR_OK);
    sha256_digest(&sink.hash, want);
    CHECK(sink.bytes == (size_t)layer_size);
    CHECK(streq(want, rr_image_layer_digest(img, 0)));
    rr_image_free(back);

    CHECK_RC(rr_client_set_progress_callback(client, NULL, NULL), RR_OK);
}

/* rr_image_to_oci and rr_index_to_oci: NULL arguments, and OCI content (what the builders
   make) comes back unchanged, as a new handle of its own. No registry needed. */
static void test_to_oci(const rr_image *img, const rr_index *idx) {
    rr_image *oci_img = (rr_image *)&oci_img; /* sentinel */
    rr_image *const img_sentinel = oci_img;
    CHECK_RC(rr_image_to_oci(NULL, &oci_img), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_image_to_oci(NULL, ...)", "img");
    CHECK(oci_img == img_sentinel);
    CHECK_RC(rr_image_to_oci(img, NULL), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_image_to_oci(img, NULL)", "out");
    CHECK_RC(rr_image_to_oci(img, &oci_img), RR_OK);
    check_no_error("rr_image_to_oci");
    if (oci_img != img_sentinel && oci_img != NULL) {
        CHECK(oci_img != img);
        CHECK(streq(rr_image_digest(oci_img), rr_image_digest(img)));
        CHECK(streq(rr_image_media_type(oci_img), "application/vnd.oci.image.manifest.v1+json"));
        rr_image_free(oci_img);
    }

    rr_index *oci_idx = (rr_index *)&oci_idx; /* sentinel */
    rr_index *const idx_sentinel = oci_idx;
    CHECK_RC(rr_index_to_oci(NULL, &oci_idx), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_index_to_oci(NULL, ...)", "idx");
    CHECK(oci_idx == idx_sentinel);
    CHECK_RC(rr_index_to_oci(idx, NULL), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_index_to_oci(idx, NULL)", "out");
    CHECK_RC(rr_index_to_oci(idx, &oci_idx), RR_OK);
    if (oci_idx != idx_sentinel && oci_idx != NULL) {
        CHECK(oci_idx != idx);
        CHECK(streq(rr_index_digest(oci_idx), rr_index_digest(idx)));
        CHECK(rr_index_child_count(oci_idx) == rr_index_child_count(idx));
        rr_index_free(oci_idx);
    }
}

/* A blob reader for the argument checks: never called, as they fail first. */
static int64_t never_read(void *userdata, uint8_t *buf, size_t cap) {
    (void)buf;
    (void)cap;
    ++*(int *)userdata;
    return -1;
}

/* The rr_blob_* functions refuse bad input with a status and a message, before any
 * request (the registry, port 9, would not answer), and leave out-parameters alone. */
static void test_blob_arguments(const char *tmp) {
    static const char blob[] =
        "localhost:9/rr-api-test/blob@sha256:0000000000000000000000000000000000000000000000000000000000000000";
    static const char repo[] = "localhost:9/rr-api-test/blob";
    rr_client *c = NULL;
    CHECK_RC(rr_client_new(&c), RR_OK);
    if (c == NULL) {
        return;
    }
    CHECK_RC(rr_client_set_keychain(c, false), RR_OK);
    uint64_t size = 7;
    int calls = 0;
    char digest[RR_DIGEST_SIZE] = "untouched";
    char path[4200];
    snprintf(path, sizeof path, "%s/blob-out", tmp);

    CHECK_RC(rr_blob_stat(NULL, blob, &size), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_blob_stat(NULL client)", "client");
    CHECK_RC(rr_blob_stat(c, NULL, &size), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_blob_stat(NULL reference)", "reference");
    CHECK_RC(rr_blob_stat(c, blob, NULL), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_blob_stat(NULL size)", "size");
    CHECK_RC(rr_blob_stat(c, "\xff\xfe", &size), RR_ERR_INVALID_ARGUMENT);
    /* A blob is named by its digest: a tag (or an implied latest) is refused. */
    CHECK_RC(rr_blob_stat(c, "localhost:9/rr-api-test/blob:v1", &size), RR_ERR_INVALID_REFERENCE);
    check_error_mentions("rr_blob_stat(a tag)", "digest");
    CHECK_RC(rr_blob_stat(c, repo, &size), RR_ERR_INVALID_REFERENCE);
    CHECK_RC(rr_blob_stat(c, "localhost:9/rr-api-test/blob@sha256:12", &size),
             RR_ERR_INVALID_REFERENCE);
    CHECK(size == 7);

    CHECK_RC(rr_blob_read(NULL, blob, sink_refuse, &calls), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_blob_read(c, blob, NULL, NULL), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_blob_read(NULL fn)", "fn");
    CHECK_RC(rr_blob_read(c, "localhost:9/rr-api-test/blob:v1", sink_refuse, &calls),
             RR_ERR_INVALID_REFERENCE);
    CHECK(calls == 0);

    CHECK_RC(rr_blob_save(c, blob, NULL), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_blob_save(NULL path)", "path");
    CHECK_RC(rr_blob_save(c, NULL, path), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_blob_save(c, "localhost:9/rr-api-test/blob:v1", path), RR_ERR_INVALID_REFERENCE);
    CHECK(access(path, F_OK) != 0);

    /* Pushes go to a bare repository; the file must be there. */
    CHECK_RC(rr_blob_write_file(NULL, repo, path, NULL, digest, sizeof digest, &size),
             RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_blob_write_file(c, NULL, path, NULL, digest, sizeof digest, &size),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_blob_write_file(NULL repository)", "repository");
    CHECK_RC(rr_blob_write_file(c, repo, NULL, NULL, digest, sizeof digest, &size),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_blob_write_file(NULL path)", "path");
    CHECK_RC(rr_blob_write_file(c, "localhost:9/rr-api-test/blob:v1", path, NULL, digest,
                                sizeof digest, &size),
             RR_ERR_INVALID_REFERENCE);
    check_error_mentions("rr_blob_write_file(a tag)", "tag");
    CHECK_RC(rr_blob_write_file(c, blob, path, NULL, digest, sizeof digest, &size),
             RR_ERR_INVALID_REFERENCE);
    CHECK_RC(rr_blob_write_file(c, repo, "\xff\xfe", NULL, digest, sizeof digest, &size),
             RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_blob_write_file(c, repo, path, NULL, digest, sizeof digest, &size), RR_ERR_IO);
    check_error_mentions("rr_blob_write_file(a missing file)", "blob-out");
    CHECK_RC(rr_blob_write_file(c, repo, path, "localhost:8/other", digest, sizeof digest, &size),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_blob_write_file(from another registry)", "registry");
    CHECK_RC(rr_blob_write_file(c, repo, path, "\xff", digest, sizeof digest, &size),
             RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_blob_write_file(c, repo, path, NULL, digest, RR_DIGEST_SIZE - 1, &size),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_blob_write_file(a short digest buffer)", "RR_DIGEST_SIZE");

    CHECK_RC(rr_blob_write_reader(c, repo, NULL, NULL, NULL, NULL, digest, sizeof digest, &size),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_blob_write_reader(NULL fn)", "fn");
    CHECK_RC(rr_blob_write_reader(NULL, repo, never_read, &calls, NULL, NULL, digest,
                                  sizeof digest, &size),
             RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_blob_write_reader(c, blob, never_read, &calls, NULL, NULL, digest, sizeof digest,
                                  &size),
             RR_ERR_INVALID_REFERENCE);
    CHECK_RC(rr_blob_write_reader(c, repo, never_read, &calls, "sha256:12", NULL, digest,
                                  sizeof digest, &size),
             RR_ERR_INVALID_REFERENCE);
    CHECK_RC(rr_blob_write_reader(c, repo, never_read, &calls, "\xff", NULL, digest, sizeof digest,
                                  &size),
             RR_ERR_INVALID_ARGUMENT);
    /* A mount needs the digest. */
    CHECK_RC(rr_blob_write_reader(c, repo, never_read, &calls, NULL, "localhost:9/other", digest,
                                  sizeof digest, &size),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_blob_write_reader(from, no digest)", "digest");
    CHECK_RC(rr_blob_write_reader(c, repo, never_read, &calls, NULL, NULL, digest, 10, &size),
             RR_ERR_INVALID_ARGUMENT);
    CHECK(calls == 0);
    CHECK(size == 7 && strcmp(digest, "untouched") == 0);
    rr_client_free(c);
}

/*
 * The artifact builder's bad input: NULLs, bad UTF-8, media types that are not
 * type/subtype, an empty annotation key, a missing file, a subject that is no digest.
 * Then a good artifact of one file, read through the image getters (no registry).
 */
static void test_artifact_builder(const char *tmp) {
    char file[4096], missing[4096];
    snprintf(file, sizeof file, "%s/notes.txt", tmp);
    snprintf(missing, sizeof missing, "%s/no-such-notes.txt", tmp);
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    if (f == NULL) {
        return;
    }
    fputs("notes\n", f);
    fclose(f);

    const char *type = "application/vnd.example.notes+json";
    rr_artifact_builder *b = (rr_artifact_builder *)&b; /* sentinel */
    rr_artifact_builder *const b_sentinel = b;
    CHECK_RC(rr_artifact_builder_new(NULL, &b), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_artifact_builder_new(NULL)", "artifact_type");
    CHECK_RC(rr_artifact_builder_new(type, NULL), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_artifact_builder_new("notes", &b), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_artifact_builder_new(\"notes\")", "\"notes\"");
    CHECK_RC(rr_artifact_builder_new("text/plain; charset=utf-8", &b), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_artifact_builder_new("\xff/x", &b), RR_ERR_INVALID_ARGUMENT);
    CHECK(b == b_sentinel);
    CHECK_RC(rr_artifact_builder_new(type, &b), RR_OK);
    if (b == b_sentinel || b == NULL) {
        return;
    }
    rr_artifact_builder_free(NULL);

    CHECK_RC(rr_artifact_builder_add_file(NULL, file, "text/plain"), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_artifact_builder_add_file(b, NULL, "text/plain"), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_artifact_builder_add_file(b, file, NULL), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_artifact_builder_add_file(b, file, "text"), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("add_file(\"text\")", "\"text\"");
    CHECK_RC(rr_artifact_builder_add_file(b, missing, "text/plain"), RR_ERR_IO);
    check_error_mentions("add_file(missing)", "no-such-notes.txt");
    CHECK_RC(rr_artifact_builder_add_file(b, file, "text/plain"), RR_OK);
    check_no_error("rr_artifact_builder_add_file");

    static const uint8_t config[] = "{}";
    CHECK_RC(rr_artifact_builder_set_config(NULL, "application/json", config, 2),
             RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_artifact_builder_set_config(b, NULL, config, 2), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_artifact_builder_set_config(b, "json", config, 2), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_artifact_builder_set_config(b, "application/json", NULL, 2), RR_ERR_INVALID_ARGUMENT);

    CHECK_RC(rr_artifact_builder_add_annotation(NULL, "k", "v"), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_artifact_builder_add_annotation(b, NULL, "v"), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_artifact_builder_add_annotation(b, "k", NULL), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_artifact_builder_add_annotation(b, "", "v"), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_artifact_builder_add_annotation(b, "com.example.k", "v"), RR_OK);

    const char *manifest = "application/vnd.oci.image.manifest.v1+json";
    const char *digest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    CHECK_RC(rr_artifact_builder_set_subject(NULL, manifest, digest, 2), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_artifact_builder_set_subject(b, NULL, digest, 2), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_artifact_builder_set_subject(b, manifest, NULL, 2), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_artifact_builder_set_subject(b, "manifest", digest, 2), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_artifact_builder_set_subject(b, manifest, "sha256:abc", 2), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_artifact_builder_set_subject_ref(b, NULL, "localhost/x:y"), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("set_subject_ref(NULL client)", "client");
    CHECK_RC(rr_artifact_builder_set_subject(b, manifest, digest, 2), RR_OK);

    rr_image *img = (rr_image *)&img; /* sentinel */
    rr_image *const img_sentinel = img;
    CHECK_RC(rr_artifact_builder_build(NULL, &img), RR_ERR_INVALID_ARGUMENT);
    CHECK(img == img_sentinel);
    CHECK_RC(rr_artifact_builder_build(b, NULL), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_artifact_builder_build(b, &img), RR_OK);
    rr_artifact_builder_free(b); /* the image does not depend on the builder */
    if (img == img_sentinel || img == NULL) {
        return;
    }
    CHECK(streq(rr_image_media_type(img), manifest));
    CHECK(streq(rr_image_artifact_type(img), type));
    CHECK(streq(rr_image_config_media_type(img), "application/vnd.oci.empty.v1+json"));
    CHECK(streq(rr_image_config_digest(img), digest));
    CHECK(rr_image_layer_count(img) == 1);
    CHECK(streq(rr_image_layer_media_type(img, 0), "text/plain"));
    CHECK(streq(rr_image_layer_annotation(img, 0, "org.opencontainers.image.title"), "notes.txt"));
    CHECK(streq(rr_image_annotation(img, "com.example.k"), "v"));
    CHECK(streq(rr_image_subject_digest(img), digest));
    CHECK(streq(rr_image_subject_media_type(img), manifest));
    CHECK(rr_image_subject_size(img) == 2);

    /* Its files saved under their titles, from the builder's own files (no registry). */
    char saved_dir[4200], saved[4300];
    snprintf(saved_dir, sizeof saved_dir, "%s/saved/files", tmp);
    snprintf(saved, sizeof saved, "%s/notes.txt", saved_dir);
    size_t files = 99;
    CHECK_RC(rr_image_save_files(img, saved_dir, &files), RR_OK);
    CHECK(files == 1);
    FILE *back = fopen(saved, "r");
    char line[16] = "";
    CHECK(back != NULL && fgets(line, sizeof line, back) != NULL && streq(line, "notes\n"));
    if (back != NULL) {
        fclose(back);
    }
    CHECK_RC(rr_image_save_files(img, saved_dir, NULL), RR_OK);
    CHECK_RC(rr_image_save_files(NULL, saved_dir, &files), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_image_save_files(NULL image)", "img");
    CHECK_RC(rr_image_save_files(img, NULL, &files), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_image_save_files(NULL dir)", "dir");
    CHECK_RC(rr_image_save_files(img, "\xff\xfe", &files), RR_ERR_INVALID_ARGUMENT);
    rr_image_free(img);

    /* Referrers and copies with them: bad arguments, before any request. */
    rr_client *c = NULL;
    CHECK_RC(rr_client_new(&c), RR_OK);
    rr_index *idx = (rr_index *)&idx; /* sentinel */
    rr_index *const idx_sentinel = idx;
    const char *ref = "localhost:9/rr-api-test/app:v1";
    CHECK_RC(rr_referrers(NULL, ref, NULL, &idx), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_referrers(NULL client)", "client");
    CHECK_RC(rr_referrers(c, NULL, NULL, &idx), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_referrers(NULL reference)", "reference");
    CHECK_RC(rr_referrers(c, ref, NULL, NULL), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_referrers(NULL out)", "out");
    CHECK_RC(rr_referrers(c, ref, "\xff", &idx), RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_referrers(c, ref, "not a type", &idx), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_referrers(bad artifact type)", "media type");
    CHECK_RC(rr_referrers(c, "UPPER/case:v1", NULL, &idx), RR_ERR_INVALID_REFERENCE);
    CHECK(idx == idx_sentinel);
    CHECK_RC(rr_copy_with_referrers(NULL, ref, ref), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_copy_with_referrers(NULL client)", "client");
    CHECK_RC(rr_copy_with_referrers(c, NULL, ref), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_copy_with_referrers(NULL src)", "src_reference");
    CHECK_RC(rr_copy_with_referrers(c, ref, NULL), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_copy_with_referrers(NULL dst)", "dst_reference");
    CHECK_RC(rr_copy_with_referrers(c, ref, "localhost:9/x@sha256:1"), RR_ERR_INVALID_REFERENCE);
    rr_client_free(c);
    CHECK(rr_image_subject_digest(NULL) == NULL);
    CHECK(rr_image_subject_media_type(NULL) == NULL);
    CHECK(rr_image_subject_size(NULL) == 0);
}

static void test_write_path(void) {
    char tmp[4096];
    const char *base = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/rr-api-test.XXXXXX", base != NULL && base[0] != '\0' ? base : "/tmp");
    if (mkdtemp(tmp) == NULL) {
        perror("api_test: mkdtemp");
        CHECK(!"mkdtemp failed");
        return;
    }

    rr_client *client = NULL;
    CHECK_RC(rr_client_new(&client), RR_OK);
    CHECK_RC(rr_client_set_keychain(client, false), RR_OK);

    long layer_size = 0;
    rr_image *img = test_image_builder(tmp, &layer_size);
    rr_index *idx = img != NULL ? test_index_builder(img) : NULL;
    test_blob_arguments(tmp);
    test_artifact_builder(tmp);
    if (client != NULL && img != NULL && idx != NULL) {
        test_write_arguments(client, img, idx);
        test_layout(client, tmp, img, idx, layer_size);
        test_to_oci(img, idx);
        /* Copies read through another client: the same image and index, owned apart. */
        rr_image *bound = NULL;
        CHECK_RC(rr_image_with_client(img, NULL, &bound), RR_ERR_INVALID_ARGUMENT);
        check_error_mentions("rr_image_with_client(NULL client)", "client");
        CHECK_RC(rr_image_with_client(img, client, NULL), RR_ERR_INVALID_ARGUMENT);
        CHECK_RC(rr_image_with_client(img, client, &bound), RR_OK);
        CHECK(bound != NULL && bound != img &&
              strcmp(rr_image_digest(bound), rr_image_digest(img)) == 0 &&
              rr_image_layer_count(bound) == rr_image_layer_count(img));
        rr_image_free(bound);
        rr_index *bound_idx = NULL;
        CHECK_RC(rr_index_with_client(idx, NULL, &bound_idx), RR_ERR_INVALID_ARGUMENT);
        check_error_mentions("rr_index_with_client(NULL client)", "client");
        CHECK_RC(rr_index_with_client(idx, client, NULL), RR_ERR_INVALID_ARGUMENT);
        CHECK(bound_idx == NULL);
        CHECK_RC(rr_index_with_client(idx, client, &bound_idx), RR_OK);
        CHECK(bound_idx != NULL && strcmp(rr_index_digest(bound_idx), rr_index_digest(idx)) == 0);
        rr_index_free(bound_idx);
    }

    rr_index_free(idx);
    rr_image_free(img);
    rr_client_free(client);
    remove_tree(tmp);
}

/* Writes `text` to DIR/NAME; returns the path (static buffer) or NULL. */
static const char *write_conf(const char *dir, const char *name, const char *text) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return NULL;
    }
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_mirrors_and_rate_limits(void) {
    int64_t limit = 7, remaining = 7, window = 7;
    rr_string_list *list = NULL;
    CHECK_RC(rr_client_load_registries_conf(NULL, NULL), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_client_load_registries_conf(NULL client)", "client");
    CHECK_RC(rr_client_add_mirror(NULL, "r.example", "m.example", RR_MIRROR_PULL_ALL),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_client_add_mirror(NULL client)", "client");
    CHECK_RC(rr_client_rate_limit(NULL, "r.example", &limit, &remaining, &window),
             RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_rate_limit_registries(NULL, &list), RR_ERR_INVALID_ARGUMENT);
    CHECK(list == NULL);

    rr_client *client = NULL;
    CHECK_RC(rr_client_new(&client), RR_OK);
    if (client == NULL) {
        return;
    }
    CHECK_RC(rr_client_add_mirror(client, NULL, "m.example", RR_MIRROR_PULL_ALL),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_client_add_mirror(NULL registry)", "registry");
    CHECK_RC(rr_client_add_mirror(client, "r.example", NULL, RR_MIRROR_PULL_ALL),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_client_add_mirror(NULL mirror)", "mirror");
    CHECK_RC(rr_client_add_mirror(client, "r.example", "\xff\xfe", RR_MIRROR_PULL_ALL),
             RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_add_mirror(client, "r.example", "m.example", 3), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_client_add_mirror(pull_from 3)", "pull_from");
    CHECK_RC(rr_client_add_mirror(client, "r.example", "https://m.example", RR_MIRROR_PULL_ALL),
             RR_ERR_INVALID_ARGUMENT);
    CHECK_RC(rr_client_add_mirror(client, "r.example", "m.example/cache",
                                  RR_MIRROR_PULL_DIGEST_ONLY),
             RR_OK);
    check_no_error("rr_client_add_mirror");

    CHECK_RC(rr_client_load_registries_conf(client, "\xff\xfe"), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_client_load_registries_conf(invalid UTF-8)", "path");
    CHECK_RC(rr_client_load_registries_conf(client, "/nonexistent/registries.conf"), RR_ERR_IO);
    check_error_mentions("rr_client_load_registries_conf(missing file)",
                         "/nonexistent/registries.conf");
    char dir[] = "/tmp/rr-api-conf-XXXXXX";
    if (mkdtemp(dir) != NULL) {
        const char *v1 = write_conf(dir, "v1.conf", "[registries.search]\nregistries = ['r.io']\n");
        CHECK(v1 != NULL);
        if (v1 != NULL) {
            CHECK_RC(rr_client_load_registries_conf(client, v1), RR_ERR_INVALID_ARGUMENT);
            check_error_mentions("rr_client_load_registries_conf(v1)", "v1 format");
            remove(v1);
        }
        const char *v2 = write_conf(dir, "v2.conf",
                                    "[[registry]]\nlocation = \"docker.io\"\n"
                                    "[[registry.mirror]]\nlocation = \"mirror.example/hub\"\n"
                                    "pull-from-mirror = \"tag-only\"\n");
        CHECK(v2 != NULL);
        if (v2 != NULL) {
            CHECK_RC(rr_client_load_registries_conf(client, v2), RR_OK);
            check_no_error("rr_client_load_registries_conf");
            remove(v2);
        }
        rmdir(dir);
    }

    CHECK_RC(rr_client_rate_limit(client, NULL, &limit, &remaining, &window),
             RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_client_rate_limit(NULL registry)", "registry");
    CHECK_RC(rr_client_rate_limit(client, "not a registry", &limit, &remaining, &window),
             RR_ERR_INVALID_REFERENCE);
    /* Nothing seen yet: not found, and the out-parameters are left alone. */
    CHECK_RC(rr_client_rate_limit(client, "r.example", &limit, &remaining, &window),
             RR_ERR_NOT_FOUND);
    CHECK(limit == 7 && remaining == 7 && window == 7);
    CHECK_RC(rr_client_rate_limit_registries(client, NULL), RR_ERR_INVALID_ARGUMENT);
    check_error_mentions("rr_client_rate_limit_registries(NULL out)", "out");
    CHECK_RC(rr_client_rate_limit_registries(client, &list), RR_OK);
    CHECK(list != NULL && rr_string_list_len(list) == 0);
    rr_string_list_free(list);
    rr_client_free(client);
}

int main(void) {
    test_version();
    test_status_names();
    test_null_arguments();
    test_host_control();
    test_tls_and_proxy_setters();
    test_mirrors_and_rate_limits();
    test_normalize();
    test_null_getters();
    test_sha256();
    test_write_path();
    printf("api_test: %d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
