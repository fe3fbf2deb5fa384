// cpp_copy: librr from C++17 with RAII wrappers and exceptions.
//
//   cpp_copy [OPTIONS] SRC DST      copy SRC to DST (rr_copy), print DST's digest and
//                                   layers, then the tags of DST's repository
//   cpp_copy [OPTIONS] --tags REPO  list the tags of REPO (rr_list)
//
// Options: -u USER -p PASS (basic credentials for the registries involved),
// --no-keychain, --jobs N.
//
// Output: `digest: sha256:...`, `layers: N`, `tags: N` and one tag per line.
// Exit status: 0 on success, 2 when not found, 3 when unauthorized or denied,
// 1 for other failures, 64 for usage errors.
//
// The pattern: every handle lives in a std::unique_ptr whose deleter calls its
// rr_*_free, and every rr_status goes through check(), which throws rr::Error
// built from the error getters right after the failing call (they describe the
// calling thread's last failure until its next rr_ call). No exception may
// leave a callback given to the library: catch inside and return non-zero.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

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

inline Client new_client() {
    rr_client *c = nullptr;
    check(rr_client_new(&c));
    return Client(c);
}

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
    tags.reserve(rr_string_list_len(list.get()));
    for (std::size_t i = 0; i < rr_string_list_len(list.get()); i++) {
        tags.emplace_back(rr_string_list_get(list.get(), i));
    }
    return tags;
}

// The normalised form of `reference` (`registry/repository:tag` or `@digest`).
inline std::string normalize(const std::string &reference) {
    std::size_t needed = 0;
    rr_status rc = rr_reference_normalize(reference.c_str(), nullptr, 0, &needed);
    if (rc != RR_OK && !(rc == RR_ERR_INVALID_ARGUMENT && needed > 0)) {
        throw Error::last(rc);
    }
    std::string buf(needed, '\0');
    check(rr_reference_normalize(reference.c_str(), buf.data(), buf.size(), &needed));
    buf.resize(needed - 1); // without the NUL
    return buf;
}

} // namespace rr

namespace {

constexpr int kExitNotFound = 2;
constexpr int kExitAuth = 3;
constexpr int kExitUsage = 64;

struct Options {
    const char *user = nullptr;
    const char *password = nullptr;
    const char *jobs = nullptr;
    bool no_keychain = false;
    const char *tags = nullptr;
    std::vector<std::string> positional;
};

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

void usage(std::ostream &to) {
    to << "usage: cpp_copy [-u USER -p PASS] [--no-keychain] [--jobs N] SRC DST\n"
          "       cpp_copy [same options] --tags REPOSITORY\n";
}

Options parse_args(int argc, char **argv) {
    Options o;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        const char **value = nullptr;
        if (a == "-u") {
            value = &o.user;
        } else if (a == "-p") {
            value = &o.password;
        } else if (a == "--jobs") {
            value = &o.jobs;
        } else if (a == "--tags") {
            value = &o.tags;
        } else if (a == "--no-keychain") {
            o.no_keychain = true;
            continue;
        } else if (a == "-h" || a == "--help") {
            usage(std::cout);
            std::exit(EXIT_SUCCESS);
        } else if (a.size() > 1 && a[0] == '-') {
            throw UsageError("unknown option " + a);
        } else {
            o.positional.push_back(a);
            continue;
        }
        if (i + 1 >= argc) {
            throw UsageError(a + " needs a value");
        }
        *value = argv[++i];
    }
    if (o.tags != nullptr ? !o.positional.empty() : o.positional.size() != 2) {
        throw UsageError(o.tags != nullptr ? "--tags takes no other argument"
                                           : "a source and a destination reference are needed");
    }
    if ((o.user == nullptr) != (o.password == nullptr)) {
        throw UsageError("-u and -p go together");
    }
    return o;
}

// "registry/repository" of a normalised reference (its tag or digest cut off).
std::string repository_of(const std::string &normalized) {
    std::string repo = normalized.substr(0, normalized.find('@'));
    std::size_t slash = repo.find('/');
    std::size_t colon = repo.rfind(':');
    if (colon != std::string::npos && colon > slash) {
        repo.resize(colon);
    }
    return repo;
}

std::string registry_of(const std::string &normalized) {
    return normalized.substr(0, normalized.find('/'));
}

rr::Client make_client(const Options &o, const std::vector<std::string> &references) {
    rr::Client client = rr::new_client();
    if (o.no_keychain) {
        rr::check(rr_client_set_keychain(client.get(), false));
    }
    if (o.jobs != nullptr) {
        char *end = nullptr;
        unsigned long jobs = std::strtoul(o.jobs, &end, 10);
        if (*end != '\0' || jobs == 0 || jobs > 256) {
            throw UsageError(std::string("--jobs needs a number from 1 to 256, not ") + o.jobs);
        }
        rr::check(rr_client_set_jobs(client.get(), static_cast<std::uint32_t>(jobs)));
    }
    if (o.user != nullptr) {
        for (const std::string &reference : references) {
            std::string registry = registry_of(reference);
            rr::check(rr_client_set_basic_auth(client.get(), registry.c_str(), o.user, o.password));
        }
    }
    return client;
}

void print_tags(rr_client *client, const std::string &repository) {
    std::vector<std::string> tags = rr::list_tags(client, repository);
    std::cout << "repository: " << repository << "\n"
              << "tags: " << tags.size() << "\n";
    for (const std::string &tag : tags) {
        std::cout << tag << "\n";
    }
}

int run(const Options &o) {
    if (o.tags != nullptr) {
        // rr_list takes registry/repository; normalising a tagless name adds ":latest".
        std::string repository = repository_of(rr::normalize(o.tags));
        rr::Client client = make_client(o, {repository});
        print_tags(client.get(), repository);
        return EXIT_SUCCESS;
    }
    const std::string &src = o.positional[0];
    const std::string &dst = o.positional[1];
    std::string dst_normalized = rr::normalize(dst);
    rr::Client client = make_client(o, {rr::normalize(src), dst_normalized});

    rr::check(rr_copy(client.get(), src.c_str(), dst.c_str()));
    rr::Descriptor desc = rr::head(client.get(), dst_normalized);
    std::cout << "digest: " << rr_descriptor_digest(desc.get()) << "\n";
    rr::Image img = rr::open_image(client.get(), dst_normalized);
    // The image keeps what it needs alive: the client could be released here.
    std::cout << "layers: " << rr_image_layer_count(img.get()) << "\n";
    print_tags(client.get(), repository_of(dst_normalized));
    return EXIT_SUCCESS;
}

} // namespace

int main(int argc, char **argv) {
    try {
        Options o = parse_args(argc, argv);
        return run(o);
    } catch (const UsageError &e) {
        std::cerr << "cpp_copy: " << e.what() << "\n";
        usage(std::cerr);
        return kExitUsage;
    } catch (const rr::Error &e) {
        std::cerr << "cpp_copy: " << e.what() << " (" << e.status_name() << ", HTTP "
                  << e.http_status() << ", code "
                  << (e.registry_code().empty() ? "-" : e.registry_code()) << ")\n";
        switch (e.status()) {
        case RR_ERR_NOT_FOUND:
            return kExitNotFound;
        case RR_ERR_UNAUTHORIZED:
        case RR_ERR_DENIED:
            return kExitAuth;
        default:
            return EXIT_FAILURE;
        }
    } catch (const std::exception &e) {
        std::cerr << "cpp_copy: " << e.what() << "\n";
        return EXIT_FAILURE;
    }
}
