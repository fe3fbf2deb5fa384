/*
 * Header test (C11): rr.h alone must compile with -Wall -Wextra -Wpedantic
 * -Werror, declare what the contract names, and link against librr.
 */
#include "rr.h"

#if !defined(RR_VERSION_MAJOR) || !defined(RR_VERSION_MINOR) || !defined(RR_VERSION_PATCH)
#error "rr.h must define RR_VERSION_MAJOR, RR_VERSION_MINOR and RR_VERSION_PATCH"
#endif

_Static_assert(RR_OK == 0, "RR_OK is 0");
_Static_assert(RR_ERR_NOT_FOUND == 3, "status values are fixed");
_Static_assert(RR_ERR_PANIC == 15, "status values are fixed");
_Static_assert(RR_VERSION_MAJOR >= 0 && RR_VERSION_MINOR >= 0 && RR_VERSION_PATCH >= 0,
               "version macros are integer constants");

/* Callback types take userdata first and can be implemented in C. */
static int32_t on_auth(void *userdata, const char *registry, rr_credential *cred) {
    (void)userdata;
    (void)registry;
    (void)cred;
    return 0;
}

static int32_t on_progress(void *userdata, uint64_t complete, uint64_t total) {
    (void)userdata;
    return complete > total;
}

static int32_t on_write(void *userdata, const uint8_t *buf, size_t len) {
    (void)userdata;
    (void)buf;
    (void)len;
    return 0;
}

int main(void) {
    /* Taking addresses checks the prototypes and makes the linker resolve them. */
    rr_status (*const client_new)(rr_client **) = rr_client_new;
    void (*const client_free)(rr_client *) = rr_client_free;
    rr_status (*const get)(rr_client *, const char *, rr_descriptor **) = rr_get;
    rr_status (*const image_open)(rr_client *, const char *, rr_image **) = rr_image_open;
    rr_status (*const index_open)(rr_client *, const char *, rr_index **) = rr_index_open;
    rr_status (*const list)(rr_client *, const char *, rr_string_list **) = rr_list;
    rr_status (*const normalize)(const char *, char *, size_t, size_t *) = rr_reference_normalize;
    const char *(*const message)(void) = rr_error_message;
    uint16_t (*const http_status)(void) = rr_error_http_status;
    rr_status (*const set_keychain)(rr_client *, bool) = rr_client_set_keychain;
    rr_auth_fn auth = on_auth;
    rr_progress_fn progress = on_progress;
    rr_write_fn write = on_write;

    const void *const used[] = {
        (const void *)&client_new, (const void *)&client_free, (const void *)&get,
        (const void *)&image_open, (const void *)&index_open,  (const void *)&list,
        (const void *)&normalize,  (const void *)&message,     (const void *)&http_status,
        (const void *)&set_keychain, (const void *)&auth,      (const void *)&progress,
        (const void *)&write,
    };
    int failures = 0;
    for (size_t i = 0; i < sizeof used / sizeof used[0]; i++) {
        failures += used[i] == NULL;
    }
    failures += client_new == NULL || get == NULL || normalize == NULL;

    rr_status rc = RR_OK;
    failures += rc != 0;
    failures += rr_version() == NULL;
    failures += rr_status_name(RR_ERR_NOT_FOUND) == NULL;
    return failures == 0 ? 0 : 1;
}
