// Header test (C++17): rr.h alone must compile with -Wall -Wextra -Wpedantic
// -Werror, give C linkage to its functions, and link against librr.
#include "rr.h"

#if !defined(RR_VERSION_MAJOR) || !defined(RR_VERSION_MINOR) || !defined(RR_VERSION_PATCH)
#error "rr.h must define RR_VERSION_MAJOR, RR_VERSION_MINOR and RR_VERSION_PATCH"
#endif

static_assert(RR_OK == 0, "RR_OK is 0");
static_assert(RR_ERR_INVALID_ARGUMENT == 1 && RR_ERR_PANIC == 15, "status values are fixed");
static_assert(RR_VERSION_MAJOR >= 0 && RR_VERSION_MINOR >= 0 && RR_VERSION_PATCH >= 0,
              "version macros are integer constants");

// Callbacks written in C++ must match the C typedefs (userdata first); they
// get C language linkage, as callbacks handed to a C library should.
extern "C" {
static int32_t on_auth(void *userdata, const char *registry, rr_credential *cred) {
    static_cast<void>(userdata);
    static_cast<void>(registry);
    return cred == nullptr ? 1 : 0;
}

static int32_t on_progress(void *, uint64_t complete, uint64_t total) {
    return complete > total ? 1 : 0;
}
}

namespace {

// RAII ownership as a C++ host would write it.
struct ClientDeleter {
    void operator()(rr_client *c) const noexcept { rr_client_free(c); }
};

}  // namespace

int main() {
    // Function pointers of the exact declared types; the linker must resolve
    // the unmangled names, which proves the extern "C" guard works.
    decltype(&rr_client_new) client_new = &rr_client_new;
    decltype(&rr_get) get = &rr_get;
    decltype(&rr_head) head = &rr_head;
    decltype(&rr_image_config) image_config = &rr_image_config;
    decltype(&rr_index_image_for_platform) for_platform = &rr_index_image_for_platform;
    decltype(&rr_string_list_get) list_get = &rr_string_list_get;
    decltype(&rr_reference_normalize) normalize = &rr_reference_normalize;
    decltype(&rr_error_registry_code) registry_code = &rr_error_registry_code;
    decltype(&rr_client_set_auth_callback) set_auth = &rr_client_set_auth_callback;
    rr_auth_fn auth = &on_auth;
    rr_progress_fn progress = &on_progress;

    int failures = 0;
    failures += client_new == nullptr || get == nullptr || head == nullptr;
    failures += image_config == nullptr || for_platform == nullptr || list_get == nullptr;
    failures += normalize == nullptr || registry_code == nullptr || set_auth == nullptr;
    failures += auth == nullptr || progress == nullptr;

    rr_status rc = RR_ERR_NOT_FOUND;
    failures += static_cast<int>(rc) != 3;
    failures += rr_version() == nullptr;

    ClientDeleter del;
    del(nullptr);  // rr_client_free(NULL) is fine
    return failures == 0 ? 0 : 1;
}
