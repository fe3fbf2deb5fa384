// cpp_copy: librr from C++17 with RAII wrappers and exceptions.
//
//   cpp_copy [-j N] [--insecure HOST] [-u USER -p PASS] [--no-keychain] SRC DST
//
// Copies SRC to DST (rr_copy), then prints what DST names (`digest: sha256:...`,
// rr_head), its image's layer count (`layers: N`, rr_image_open) and the tags of DST's
// repository (`repository: REPO`, `tags: N`, one tag per line, rr_list).
// Exit status: 0, 2 not found, 3 unauthorized or denied, 1 other, 64 usage.
//
// The pattern: every handle lives in a std::unique_ptr whose deleter calls its
// rr_*_free, and every rr_status goes through check(), which throws rr::Error
// built from the error getters right after the failing call (they describe the
// calling thread's last failure until its next rr_ call, and the deleters that
// run while the exception unwinds make such calls). No exception may leave a
// callback given to the library: catch inside and return non-zero.
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common.h"
#include "rr.h"

namespace rr {

// A failed rr_ call: its status, message, HTTP status and registry error code.
class Error : public std::runtime_error {
public:
    Error(rr_status status, const std::string &message, std::uint16_t http_status,
          std::string registry_code)
        : std::runtime_error(message), status_(status), http_status_(http_status),
          registry_code_(std::move(registry_code)) {}

    // The calling thread's last error; call before any other rr_ function.
    static Error last(rr_status status) {
        const char *code = rr_error_registry_code();
        return Error(status, rr_error_message(), rr_error_http_status(), code ? code : "");
    }

    rr_status status() const noexcept { return status_; }
    const char *status_name() const noexcept { return rr_status_name(status_); }
    std::uint16_t http_status() const noexcept { return http_status_; }
    const std::string &registry_code() const noexcept { return registry_code_; }

private:
    rr_status status_;
    std::uint16_t http_status_;
    std::string registry_code_;
};

// Throws rr::Error for anything but RR_OK.
inline void check(rr_status rc) {
    if (rc != RR_OK) {
        throw Error::last(rc);
    }
}

// A deleter calling the handle's own free function (each accepts NULL).
template <auto Free> struct Deleter {
    template <typename T> void operator()(T *p) const noexcept { Free(p); }
};

using Client = std::unique_ptr<rr_client, Deleter<rr_client_free>>;
using Image = std::unique_ptr<rr_image, Deleter<rr_image_free>>;
using Descriptor = std::unique_ptr<rr_descriptor, Deleter<rr_descriptor_free>>;
using StringList = std::unique_ptr<rr_string_list, Deleter<rr_string_list_free>>;

// Out-parameters are written only on RR_OK: wrap them after check().
inline Image open_image(rr_client *c, const std::string &reference) {
    rr_image *img = nullptr;
    check(rr_image_open(c, reference.c_str(), &img));
    return Image(img);
}

inline Descriptor head(rr_client *c, const std::string &reference) {
    rr_descriptor *d = nullptr;
    check(rr_head(c, reference.c_str(), &d));
    return Descriptor(d);
}

inline std::vector<std::string> list_tags(rr_client *c, const std::string &repository) {
    rr_string_list *raw = nullptr;
    check(rr_list(c, repository.c_str(), &raw));
    StringList list(raw);
    std::vector<std::string> tags;
    for (std::size_t i = 0; i < rr_string_list_len(list.get()); i++) {
        tags.emplace_back(rr_string_list_get(list.get(), i));
    }
    return tags;
}

} // namespace rr

namespace {

const char usage[] =
    "usage: cpp_copy [-j N] [--insecure HOST] [-u USER -p PASS] [--no-keychain] SRC DST\n";

// "registry/repository" of a reference as given, without its tag or digest.
std::string repository_of(const std::string &reference) {
    std::string repo = reference.substr(0, reference.find('@'));
    std::size_t slash = repo.rfind('/');
    std::size_t colon = repo.rfind(':');
    if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
        repo.resize(colon);
    }
    return repo;
}

void copy_and_show(rr_client *client, const std::string &src, const std::string &dst) {
    rr::check(rr_copy(client, src.c_str(), dst.c_str()));
    rr::Descriptor desc = rr::head(client, dst);
    std::cout << "digest: " << rr_descriptor_digest(desc.get()) << "\n";
    rr::Image img = rr::open_image(client, dst);
    // The image keeps what it needs alive: the client could be released here.
    std::cout << "layers: " << rr_image_layer_count(img.get()) << "\n";
    std::string repository = repository_of(dst);
    std::vector<std::string> tags = rr::list_tags(client, repository);
    std::cout << "repository: " << repository << "\n"
              << "tags: " << tags.size() << "\n";
    for (const std::string &tag : tags) {
        std::cout << tag << "\n";
    }
}

} // namespace

int main(int argc, char **argv) {
    example_init("cpp_copy", usage);
    common_options o{};
    std::vector<std::string> refs;
    for (int i = 1; i < argc; i++) {
        if (common_option(&o, argc, argv, &i)) {
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            usage_error("unknown option %s", argv[i]);
        }
        refs.emplace_back(argv[i]);
    }
    if (refs.size() != 2) {
        usage_error("a source and a destination reference are needed");
    }
    common_options_check(&o);

    rr_client *raw = nullptr;
    int status = common_client(&o, &raw); // -u/-p through a C callback (common.c)
    if (status != EXIT_SUCCESS) {
        return status;
    }
    rr::Client client(raw);
    try {
        copy_and_show(client.get(), refs[0], refs[1]);
        return EXIT_SUCCESS;
    } catch (const rr::Error &e) {
        std::cerr << "cpp_copy: " << e.what() << " (" << e.status_name() << ", HTTP "
                  << e.http_status() << ", code "
                  << (e.registry_code().empty() ? "-" : e.registry_code()) << ")\n";
        return exit_status_for(e.status());
    } catch (const std::exception &e) {
        std::cerr << "cpp_copy: " << e.what() << "\n";
        return EXIT_FAILURE;
    }
}
