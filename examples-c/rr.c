/*
 * rr: a command-line registry client on librr's C API.
 *
 *   rr [OPTIONS] COMMAND [ARGS...]      (options may also follow the command)
 *
 * Commands: ls, catalog, digest, manifest, config, pull, push, build, append,
 * copy, tag, delete, auth check, version, help. `rr help` and `rr help COMMAND`
 * describe them; rr.1 is the manual page.
 *
 * Output for scripts: digests and lists on stdout, one per line; `manifest`
 * and `config` print the exact bytes. Progress, notes and errors go to stderr;
 * an error is one line `rr: MESSAGE (RR_STATUS_NAME[, HTTP n][, CODE])`.
 *
 * Exit status: 0 success, 1 other failure, 2 not found, 3 unauthorized or
 * denied, 4 unsupported by the registry or for this content, 64 usage error,
 * 130 interrupted (SIGINT/SIGTERM during a transfer, which is then cancelled
 * cleanly: upload sessions cancelled, no manifest written, no partial file).
 */
#define _POSIX_C_SOURCE 200809L /* getline, mkdtemp, sigaction */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rr.h"
#include "rr_json.h"
#include "rr_progress.h"

/* The tool's version is the version of the header it is built with. */
#define RR_TOOL_STR2(x) #x
#define RR_TOOL_STR(x) RR_TOOL_STR2(x)
#define RR_TOOL_VERSION                                                                    \
    RR_TOOL_STR(RR_VERSION_MAJOR) "." RR_TOOL_STR(RR_VERSION_MINOR) "." RR_TOOL_STR(         \
        RR_VERSION_PATCH)

enum {
    EXIT_FAILED = 1,
    EXIT_NOT_FOUND = 2,
    EXIT_AUTH = 3,
    EXIT_UNSUPPORTED = 4,
    EXIT_USAGE = 64,
    EXIT_INTERRUPTED = 130,
};

/* The largest --config file and index.json read; both are a few KiB. */
#define MAX_JSON_FILE (16u << 20)
#define REF_NAME_ANNOTATION "org.opencontainers.image.ref.name"

/* ---- options -------------------------------------------------------------- */

/* Options that only some commands take (the others are global). */
enum {
    OPT_ALL = 1u << 0,    /* pull */
    OPT_NAME = 1u << 1,   /* pull, push */
    OPT_CONFIG = 1u << 2, /* build */
    OPT_OCI = 1u << 3,    /* pull */
};

enum option_id {
    O_PLATFORM,
    O_JOBS,
    O_INSECURE,
    O_CA,
    O_USER,
    O_PASSWORD,
    O_PASSWORD_STDIN,
    O_NO_KEYCHAIN,
    O_VERBOSE,
    O_QUIET,
    O_PROGRESS,
    O_HELP,
    O_ALL,
    O_NAME,
    O_CONFIG,
    O_OCI,
};

struct option_spec {
    const char *long_name;
    const char *short_name;
    enum option_id id;
    bool takes_value;
    unsigned command_bit; /* 0: global */
};

static const struct option_spec option_specs[] = {
    {"--platform", NULL, O_PLATFORM, true, 0},
    {"--jobs", "-j", O_JOBS, true, 0},
    {"--insecure", NULL, O_INSECURE, true, 0},
    {"--ca", NULL, O_CA, true, 0},
    {"--username", "-u", O_USER, true, 0},
    {"--password", "-p", O_PASSWORD, true, 0},
    {"--password-stdin", NULL, O_PASSWORD_STDIN, false, 0},
    {"--no-keychain", NULL, O_NO_KEYCHAIN, false, 0},
    {"--verbose", "-v", O_VERBOSE, false, 0},
    {"--quiet", "-q", O_QUIET, false, 0},
    {"--progress", NULL, O_PROGRESS, true, 0},
    {"--help", "-h", O_HELP, false, 0},
    {"--all", NULL, O_ALL, false, OPT_ALL},
    {"--name", NULL, O_NAME, true, OPT_NAME},
    {"--config", NULL, O_CONFIG, true, OPT_CONFIG},
    {"--oci", NULL, O_OCI, false, OPT_OCI},
};

struct cli;
typedef int (*command_fn)(struct cli *c, rr_client *client);

struct command {
    const char *name;
    command_fn run;
    int min_args;
    int max_args; /* -1: no limit */
    unsigned options;
    bool transfer; /* reports progress; SIGINT cancels it cleanly */
    const char *synopsis;
    const char *summary;
    const char *help;
};

struct cli {
    const struct command *cmd;
    const char *cmd_name; /* as typed, for an unknown command */
    const char **args;    /* positional arguments after the command */
    int nargs;
    const char *platform;
    uint32_t jobs;
    const char **insecure;
    int ninsecure;
    const char **ca_files;
    int nca;
    const char *user;
    const char *password;
    char *password_buf; /* from --password-stdin */
    bool password_stdin;
    bool no_keychain;
    bool verbose;
    bool quiet;
    bool help;
    enum progress_mode progress;
    bool progress_set;
    bool all;
    bool oci;
    const char *name;
    const char *config_file;
    unsigned given; /* command-specific options given (OPT_*) */
    const char *first_specific; /* the first of those, for the error message */
    struct progress prog;
};

static volatile sig_atomic_t interrupted;

/* ---- errors and notes ----------------------------------------------------- */

static int exit_status_for(rr_status rc) {
    switch (rc) {
    case RR_OK:
        return EXIT_SUCCESS;
    case RR_ERR_NOT_FOUND:
        return EXIT_NOT_FOUND;
    case RR_ERR_UNAUTHORIZED:
    case RR_ERR_DENIED:
        return EXIT_AUTH;
    case RR_ERR_UNSUPPORTED:
        return EXIT_UNSUPPORTED;
    case RR_ERR_CANCELLED:
        return EXIT_INTERRUPTED;
    default:
        return EXIT_FAILED;
    }
}

/*
 * Prints the calling thread's last error for `rc` and returns the exit status.
 * Must run right after the failing call: another rr_ call may clear the error.
 */
static int report(rr_status rc) {
    const char *message = rr_error_message();
    unsigned http = rr_error_http_status();
    const char *code = rr_error_registry_code();
    char detail[160];
    int n = snprintf(detail, sizeof detail, "%s", rr_status_name((int32_t)rc));
    if (http != 0 && n > 0 && (size_t)n < sizeof detail) {
        n += snprintf(detail + n, sizeof detail - (size_t)n, ", HTTP %u", http);
    }
    if (code != NULL && n > 0 && (size_t)n < sizeof detail) {
        snprintf(detail + n, sizeof detail - (size_t)n, ", %s", code);
    }
    if (rc == RR_ERR_CANCELLED && interrupted) {
        console_line("interrupted: %s (%s)", message[0] != '\0' ? message : "cancelled", detail);
    } else {
        console_line("%s (%s)", message[0] != '\0' ? message : "failed", detail);
    }
    return exit_status_for(rc);
}

/* An error of the tool itself (not of a library call). */
static int fail_with(int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int fail_with(int status, const char *fmt, ...) {
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    console_line("%s", text);
    return status;
}

/* A note on stderr, not with --quiet. */
static void note(const struct cli *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void note(const struct cli *c, const char *fmt, ...) {
    if (c->quiet) {
        return;
    }
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    console_line("%s", text);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n > 0 ? n : 1);
    if (p == NULL) {
        fputs("rr: out of memory\n", stderr);
        exit(EXIT_FAILED);
    }
    return p;
}

static char *xstrndup(const char *s, size_t n) {
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* ---- steps (-v) ----------------------------------------------------------- */

struct step {
    char what[512];
    double started;
    bool verbose;
};

static void step_begin(struct step *s, const struct cli *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void step_begin(struct step *s, const struct cli *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->what, sizeof s->what, fmt, ap);
    va_end(ap);
    s->verbose = c->verbose;
    s->started = console_now();
    if (s->verbose) {
        console_line("step: %s", s->what);
    }
}

/* Prints the step's outcome and time; calls no rr_ function that touches the last error. */
static void step_end(const struct step *s, rr_status rc) {
    if (!s->verbose) {
        return;
    }
    double ms = (console_now() - s->started) * 1000.0;
    if (rc == RR_OK) {
        console_line("step: %s: ok (%.0f ms)", s->what, ms);
    } else {
        console_line("step: %s: %s (%.0f ms)", s->what, rr_status_name((int32_t)rc), ms);
    }
}

/* ---- small helpers -------------------------------------------------------- */

/* Normalises `reference` into a malloc'd string; on failure returns the status. */
static rr_status normalize(const char *reference, char **out) {
    size_t needed = 0;
    rr_status rc = rr_reference_normalize(reference, NULL, 0, &needed);
    /* With cap 0 a valid reference reports "too small" and sets needed. */
    if (rc != RR_OK && !(rc == RR_ERR_INVALID_ARGUMENT && needed > 0)) {
        return rc;
    }
    char *buf = xmalloc(needed);
    rc = rr_reference_normalize(reference, buf, needed, &needed);
    if (rc != RR_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    return RR_OK;
}

/* The registry (host[:port]) of a normalised reference, malloc'd. */
static char *registry_of(const char *normalized) {
    return xstrndup(normalized, strcspn(normalized, "/"));
}

/* The tag of a normalised reference (malloc'd), or NULL for a digest reference. */
static char *tag_of(const char *normalized) {
    if (strchr(normalized, '@') != NULL) {
        return NULL;
    }
    const char *slash = strrchr(normalized, '/');
    const char *colon = strrchr(slash != NULL ? slash : normalized, ':');
    return colon != NULL ? xstrndup(colon + 1, strlen(colon + 1)) : NULL;
}

static bool is_index_media_type(const char *media_type) {
    return media_type != NULL && (strstr(media_type, "image.index") != NULL ||
                                  strstr(media_type, "manifest.list") != NULL);
}

static bool parse_jobs(const char *s, uint32_t *out) {
    if (s[0] < '0' || s[0] > '9') {
        return false;
    }
    errno = 0;
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 1 || v > 256) {
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

/* Reads a whole (small) file into a malloc'd buffer. Prints why and returns false on failure. */
static bool read_small_file(const char *path, uint8_t **out, size_t *out_len) {
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
            if (cap >= MAX_JSON_FILE) {
                console_line("%s: larger than %u bytes", path, MAX_JSON_FILE);
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

/* Prints one line on stdout ("-" for a NULL the library should never give). */
static void print_line(const char *s) {
    puts(s != NULL ? s : "-");
}

/* Writes bytes to stdout; false (after a message) on failure. */
static bool write_stdout(const uint8_t *bytes, size_t len) {
    if (len > 0 && fwrite(bytes, 1, len, stdout) != len) {
        console_line("stdout: %s", strerror(errno));
        return false;
    }
    return true;
}

/* ---- signals -------------------------------------------------------------- */

static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

/*
 * During a transfer the first SIGINT or SIGTERM makes the progress callback
 * cancel the operation (the library then cancels its upload sessions and
 * leaves no partial file); a second one ends the process as usual.
 */
static void catch_interrupts(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND | SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ---- the client ----------------------------------------------------------- */

static void on_log(void *userdata, const char *line) {
    (void)userdata;
    console_line("%s", line);
}

/* Sets -u/-p for the registry of `reference` (a reference or a repository). */
static int auth_for(const struct cli *c, rr_client *client, const char *reference) {
    if (c->user == NULL) {
        return EXIT_SUCCESS;
    }
    char *normalized = NULL;
    rr_status rc = normalize(reference, &normalized);
    if (rc != RR_OK) {
        return report(rc);
    }
    char *registry = registry_of(normalized);
    rc = rr_client_set_basic_auth(client, registry, c->user, c->password);
    free(registry);
    free(normalized);
    return rc == RR_OK ? EXIT_SUCCESS : report(rc);
}

static int configure_client(struct cli *c, rr_client *client) {
    rr_status rc = rr_client_set_user_agent(client, "rr-cli/" RR_TOOL_VERSION);
    if (rc == RR_OK && c->platform != NULL) {
        rc = rr_client_set_platform(client, c->platform);
    }
    if (rc == RR_OK && c->jobs != 0) {
        rc = rr_client_set_jobs(client, c->jobs);
    }
    for (int i = 0; rc == RR_OK && i < c->ninsecure; i++) {
        rc = rr_client_set_insecure(client, c->insecure[i]);
    }
    for (int i = 0; rc == RR_OK && i < c->nca; i++) {
        rc = rr_client_add_ca_file(client, c->ca_files[i]);
    }
    if (rc == RR_OK && c->no_keychain) {
        rc = rr_client_set_keychain(client, false);
    }
    if (rc == RR_OK && c->verbose) {
        rc = rr_client_set_log_callback(client, on_log, NULL);
    }
    if (rc == RR_OK) {
        c->prog.cancel = &interrupted;
        rc = rr_client_set_progress_callback(client, progress_callback, &c->prog);
    }
    return rc == RR_OK ? EXIT_SUCCESS : report(rc);
}

/* ---- read commands -------------------------------------------------------- */

static int print_list(rr_string_list *list) {
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

static int cmd_ls(struct cli *c, rr_client *client) {
    const char *repo = c->args[0];
    int status = auth_for(c, client, repo);
    if (status != EXIT_SUCCESS) {
        return status;
    }
    struct step s;
    rr_string_list *tags = NULL;
    step_begin(&s, c, "list the tags of %s", repo);
    rr_status rc = rr_list(client, repo, &tags);
    step_end(&s, rc);
    return rc == RR_OK ? print_list(tags) : report(rc);
}

static int cmd_catalog(struct cli *c, rr_client *client) {
    const char *registry = c->args[0];
    if (c->user != NULL) {
        rr_status rc = rr_client_set_basic_auth(client, registry, c->user, c->password);
        if (rc != RR_OK) {
            return report(rc);
        }
    }
    struct step s;
    rr_string_list *repos = NULL;
    step_begin(&s, c, "list the repositories of %s", registry);
    rr_status rc = rr_catalog(client, registry, &repos);
    step_end(&s, rc);
    return rc == RR_OK ? print_list(repos) : report(rc);
}

/*
 * GETs `reference` into *desc_out; with --platform, when it is an index, also
 * resolves it to that platform's image (*img, else left NULL). Returns an
 * exit status; on failure nothing is left to free.
 */
static int get_resolved(struct cli *c, rr_client *client, const char *reference,
                        rr_descriptor **desc_out, rr_image **img) {
    struct step s;
    rr_descriptor *desc = NULL;
    step_begin(&s, c, "get the manifest of %s", reference);
    rr_status rc = rr_get(client, reference, &desc);
    step_end(&s, rc);
    if (rc != RR_OK) {
        return report(rc);
    }
    if (c->platform != NULL && is_index_media_type(rr_descriptor_media_type(desc))) {
        step_begin(&s, c, "resolve the index for %s", c->platform);
        rc = rr_descriptor_image(desc, img);
        step_end(&s, rc);
        if (rc != RR_OK) {
            int status = report(rc);
            rr_descriptor_free(desc);
            return status;
        }
    }
    *desc_out = desc;
    return EXIT_SUCCESS;
}

static int cmd_digest(struct cli *c, rr_client *client) {
    const char *ref = c->args[0];
    int status = auth_for(c, client, ref);
    if (status != EXIT_SUCCESS) {
        return status;
    }
    if (c->platform == NULL) {
        /* A HEAD is enough: the digest of what the reference names. */
        struct step s;
        rr_descriptor *desc = NULL;
        step_begin(&s, c, "head %s", ref);
        rr_status rc = rr_head(client, ref, &desc);
        step_end(&s, rc);
        if (rc != RR_OK) {
            return report(rc);
        }
        print_line(rr_descriptor_digest(desc));
        rr_descriptor_free(desc);
        return EXIT_SUCCESS;
    }
    rr_descriptor *desc = NULL;
    rr_image *img = NULL;
    status = get_resolved(c, client, ref, &desc, &img);
    if (status == EXIT_SUCCESS) {
        print_line(img != NULL ? rr_image_digest(img) : rr_descriptor_digest(desc));
    }
    rr_image_free(img);
    rr_descriptor_free(desc);
    return status;
}

static int cmd_manifest(struct cli *c, rr_client *client) {
    const char *ref = c->args[0];
    int status = auth_for(c, client, ref);
    if (status != EXIT_SUCCESS) {
        return status;
    }
    rr_descriptor *desc = NULL;
    rr_image *img = NULL;
    status = get_resolved(c, client, ref, &desc, &img);
    if (status != EXIT_SUCCESS) {
        return status;
    }
    const uint8_t *bytes = NULL;
    size_t len = 0;
    rr_status rc = img != NULL ? rr_image_manifest(img, &bytes, &len)
                               : rr_descriptor_manifest(desc, &bytes, &len);
    if (rc != RR_OK) {
        status = report(rc);
    } else if (!write_stdout(bytes, len)) {
        status = EXIT_FAILED;
    }
    rr_image_free(img);
    rr_descriptor_free(desc);
    return status;
}

static int cmd_config(struct cli *c, rr_client *client) {
    const char *ref = c->args[0];
    int status = auth_for(c, client, ref);
    if (status != EXIT_SUCCESS) {
        return status;
    }
    struct step s;
    rr_image *img = NULL;
    step_begin(&s, c, "open the image %s", ref);
    rr_status rc = rr_image_open(client, ref, &img);
    step_end(&s, rc);
    if (rc != RR_OK) {
        return report(rc);
    }
    const uint8_t *bytes = NULL;
    size_t len = 0;
    step_begin(&s, c, "fetch the config of %s", rr_image_digest(img));
    rc = rr_image_config(img, &bytes, &len);
    step_end(&s, rc);
    if (rc != RR_OK) {
        status = report(rc);
    } else if (!write_stdout(bytes, len)) {
        status = EXIT_FAILED;
    }
    rr_image_free(img);
    return status;
}

/* ---- pull ----------------------------------------------------------------- */

static int cmd_pull(struct cli *c, rr_client *client) {
    const char *ref = c->args[0];
    const char *dir = c->args[1];
    int status = auth_for(c, client, ref);
    if (status != EXIT_SUCCESS) {
        return status;
    }
    char *normalized = NULL;
    rr_status rc = normalize(ref, &normalized);
    if (rc != RR_OK) {
        return report(rc);
    }
    char *default_name = c->name == NULL ? tag_of(normalized) : NULL;
    const char *name = c->name != NULL ? c->name : default_name;
    free(normalized);

    struct step s;
    rr_descriptor *desc = NULL;
    rr_index *idx = NULL;
    rr_image *img = NULL;
    /* With --oci: what the registry has, kept for its digest; idx or img is converted. */
    rr_index *docker_idx = NULL;
    rr_image *docker_img = NULL;
    step_begin(&s, c, "get the manifest of %s", ref);
    rc = rr_get(client, ref, &desc);
    step_end(&s, rc);
    if (rc != RR_OK) {
        status = report(rc);
        goto out;
    }
    bool index = is_index_media_type(rr_descriptor_media_type(desc));
    if (c->all && !index) {
        note(c, "%s is an image, not an index: pulling the image", ref);
    }
    if (c->all && index) {
        rc = rr_descriptor_index(desc, &idx);
        if (rc != RR_OK) {
            status = report(rc);
            goto out;
        }
        if (c->oci) {
            docker_idx = idx;
            idx = NULL;
            step_begin(&s, c, "convert the index %s to OCI media types",
                       rr_index_digest(docker_idx));
            rc = rr_index_to_oci(docker_idx, &idx);
            step_end(&s, rc);
            if (rc != RR_OK) {
                status = report(rc);
                goto out;
            }
        }
        step_begin(&s, c, "write the index %s (%zu children) into %s", rr_index_digest(idx),
                   rr_index_child_count(idx), dir);
        progress_begin(&c->prog, "pull", 0);
        rc = rr_layout_write_index(client, dir, idx, name);
        progress_end(&c->prog, rc == RR_OK);
        step_end(&s, rc);
        if (rc != RR_OK) {
            status = report(rc);
            goto out;
        }
        print_line(rr_index_digest(idx));
    } else {
        if (index) {
            step_begin(&s, c, "resolve the index for %s", c->platform != NULL ? c->platform
                                                                               : "linux/amd64");
        } else {
            step_begin(&s, c, "open the image");
        }
        rc = rr_descriptor_image(desc, &img);
        step_end(&s, rc);
        if (rc != RR_OK) {
            status = report(rc);
            goto out;
        }
        if (c->oci) {
            docker_img = img;
            img = NULL;
            step_begin(&s, c, "convert the image %s to OCI media types",
                       rr_image_digest(docker_img));
            rc = rr_image_to_oci(docker_img, &img);
            step_end(&s, rc);
            if (rc != RR_OK) {
                status = report(rc);
                goto out;
            }
        }
        step_begin(&s, c, "write the image %s into %s", rr_image_digest(img), dir);
        progress_begin(&c->prog, "pull", 0);
        rc = rr_layout_write_image(client, dir, img, name);
        progress_end(&c->prog, rc == RR_OK);
        step_end(&s, rc);
        if (rc != RR_OK) {
            status = report(rc);
            goto out;
        }
        print_line(rr_image_digest(img));
    }
    if (c->oci) {
        const char *before =
            docker_idx != NULL ? rr_index_digest(docker_idx) : rr_image_digest(docker_img);
        const char *after = idx != NULL ? rr_index_digest(idx) : rr_image_digest(img);
        if (strcmp(before, after) != 0) {
            note(c, "converted to OCI media types: the digest changed from %s to %s", before,
                 after);
        } else {
            note(c, "nothing to convert: %s has OCI media types already", before);
        }
    }
    if (name != NULL) {
        note(c, "saved as %s in %s (oci:%s:%s)", name, dir, dir, name);
    }
out:
    rr_image_free(img);
    rr_index_free(idx);
    rr_image_free(docker_img);
    rr_index_free(docker_idx);
    rr_descriptor_free(desc);
    free(default_name);
    return status;
}

/* ---- push ----------------------------------------------------------------- */

/* An entry of a layout's index.json. */
struct layout_entry {
    const char *name; /* may be NULL */
    const char *digest;
    const char *media_type;
};

/* Reads DIR/index.json; returns the parsed tree (json_free) or NULL after a message. */
static json_value *read_layout_index(const char *dir) {
    size_t dlen = strlen(dir);
    char *path = xmalloc(dlen + sizeof "/index.json");
    memcpy(path, dir, dlen);
    memcpy(path + dlen, "/index.json", sizeof "/index.json");
    uint8_t *bytes = NULL;
    size_t len = 0;
    json_value *root = NULL;
    if (read_small_file(path, &bytes, &len)) {
        char err[200];
        root = json_parse((const char *)bytes, len, err, sizeof err);
        if (root == NULL) {
            console_line("%s: not JSON: %s", path, err);
        } else if (json_get(root, "manifests") == NULL ||
                   json_get(root, "manifests")->type != JSON_ARRAY) {
            console_line("%s: no \"manifests\" array", path);
            json_free(root);
            root = NULL;
        }
        free(bytes);
    }
    free(path);
    return root;
}

static struct layout_entry entry_at(const json_value *root, size_t i) {
    const json_value *m = json_get(root, "manifests")->items[i];
    struct layout_entry e = {
        .name = json_string(json_get(json_get(m, "annotations"), REF_NAME_ANNOTATION)),
        .digest = json_string(json_get(m, "digest")),
        .media_type = json_string(json_get(m, "mediaType")),
    };
    return e;
}

/* "v1, v2, (unnamed)" into buf. */
static void entry_names(const json_value *root, char *buf, size_t cap) {
    size_t n = json_get(root, "manifests")->count;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        struct layout_entry e = entry_at(root, i);
        size_t used = strlen(buf);
        snprintf(buf + used, cap - used, "%s%s", i > 0 ? ", " : "",
                 e.name != NULL ? e.name : "(unnamed)");
    }
}

/* The child of `layout` (from rr_layout_read_index) with `digest`, or SIZE_MAX. */
static size_t child_with_digest(const rr_index *layout, const char *digest) {
    size_t n = rr_index_child_count(layout);
    for (size_t i = 0; digest != NULL && i < n; i++) {
        const char *d = rr_index_child_digest(layout, i);
        if (d != NULL && strcmp(d, digest) == 0) {
            return i;
        }
    }
    return SIZE_MAX;
}

/* Pushes child `i` of the layout: an image, or an index (whole, or one platform's image). */
static int push_child(struct cli *c, rr_client *client, const rr_index *layout, size_t i,
                      const char *ref) {
    struct step s;
    rr_status rc;
    rr_image *img = NULL;
    rr_index *idx = NULL;
    int status = EXIT_SUCCESS;
    if (is_index_media_type(rr_index_child_media_type(layout, i))) {
        rc = rr_index_child_index(layout, i, &idx);
        if (rc != RR_OK) {
            return report(rc);
        }
        if (c->platform != NULL) {
            step_begin(&s, c, "resolve the index for %s", c->platform);
            rc = rr_index_image_for_platform(idx, c->platform, &img);
            step_end(&s, rc);
            if (rc != RR_OK) {
                status = report(rc);
                goto out;
            }
        } else {
            step_begin(&s, c, "push the index %s (%zu children) to %s", rr_index_digest(idx),
                       rr_index_child_count(idx), ref);
            progress_begin(&c->prog, "push", 0);
            rc = rr_write_index(client, ref, idx);
            progress_end(&c->prog, rc == RR_OK);
            step_end(&s, rc);
            if (rc != RR_OK) {
                status = report(rc);
                goto out;
            }
            print_line(rr_index_digest(idx));
            goto out;
        }
    } else {
        rc = rr_index_child_image(layout, i, &img);
        if (rc != RR_OK) {
            return report(rc);
        }
    }
    step_begin(&s, c, "push the image %s to %s", rr_image_digest(img), ref);
    progress_begin(&c->prog, "push", 0);
    rc = rr_write(client, ref, img);
    progress_end(&c->prog, rc == RR_OK);
    step_end(&s, rc);
    if (rc != RR_OK) {
        status = report(rc);
        goto out;
    }
    print_line(rr_image_digest(img));
out:
    rr_image_free(img);
    rr_index_free(idx);
    return status;
}

static int cmd_push(struct cli *c, rr_client *client) {
    const char *dir = c->args[0];
    const char *ref = c->args[1];
    int status = auth_for(c, client, ref);
    if (status != EXIT_SUCCESS) {
        return status;
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        return fail_with(EXIT_FAILED, "%s: %s", dir, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) {
        return fail_with(EXIT_FAILED, "%s is not a directory (an OCI layout is)", dir);
    }

    struct step s;
    rr_index *layout = NULL;
    json_value *root = NULL;
    step_begin(&s, c, "read the OCI layout %s", dir);
    rr_status rc = rr_layout_read_index(dir, &layout);
    step_end(&s, rc);
    if (rc != RR_OK) {
        status = report(rc);
        goto out;
    }
    root = read_layout_index(dir);
    if (root == NULL) {
        status = EXIT_FAILED;
        goto out;
    }
    size_t entries = json_get(root, "manifests")->count;
    size_t pick = SIZE_MAX;
    if (c->name != NULL) {
        for (size_t i = 0; i < entries && pick == SIZE_MAX; i++) {
            struct layout_entry e = entry_at(root, i);
            if (e.name != NULL && strcmp(e.name, c->name) == 0) {
                pick = child_with_digest(layout, e.digest);
                if (pick == SIZE_MAX) {
                    status = fail_with(EXIT_FAILED, "%s: the entry %s (%s) is not in the layout",
                                       dir, c->name, e.digest != NULL ? e.digest : "no digest");
                    goto out;
                }
            }
        }
        if (pick == SIZE_MAX) {
            char names[1024];
            entry_names(root, names, sizeof names);
            status = fail_with(EXIT_NOT_FOUND, "%s has no entry named %s (entries: %s)", dir,
                               c->name, entries > 0 ? names : "none");
            goto out;
        }
    } else if (entries == 0 || rr_index_child_count(layout) == 0) {
        status = fail_with(EXIT_FAILED, "%s is an OCI layout without any image", dir);
        goto out;
    } else if (entries > 1) {
        char names[1024];
        entry_names(root, names, sizeof names);
        status = fail_with(EXIT_USAGE, "%s holds %zu entries (%s): pick one with --name NAME", dir,
                           entries, names);
        goto out;
    } else {
        pick = child_with_digest(layout, entry_at(root, 0).digest);
        if (pick == SIZE_MAX) {
            pick = 0;
        }
    }
    status = push_child(c, client, layout, pick, ref);
out:
    json_free(root);
    rr_index_free(layout);
    return status;
}

/* ---- build and append ----------------------------------------------------- */

/* Adds the layer files; returns an exit status. */
static int add_layers(const struct cli *c, rr_image_builder *b, const char *const *paths, int n) {
    for (int i = 0; i < n; i++) {
        if (interrupted) {
            return fail_with(EXIT_INTERRUPTED, "interrupted");
        }
        struct step s;
        step_begin(&s, c, "add the layer file %s", paths[i]);
        /* NULL media type: detected from the content (tar, gzip or zstd). */
        rr_status rc = rr_image_builder_add_layer_file(b, paths[i], NULL);
        step_end(&s, rc);
        if (rc != RR_OK) {
            return report(rc);
        }
    }
    return EXIT_SUCCESS;
}

/* Pushes a built image to `ref` and prints its digest. */
static int push_built(struct cli *c, rr_client *client, const rr_image *img, const char *ref,
                      const char *label) {
    struct step s;
    step_begin(&s, c, "push the image %s (%zu layers) to %s", rr_image_digest(img),
               rr_image_layer_count(img), ref);
    progress_begin(&c->prog, label, 0);
    rr_status rc = rr_write(client, ref, img);
    progress_end(&c->prog, rc == RR_OK);
    step_end(&s, rc);
    if (rc != RR_OK) {
        return report(rc);
    }
    print_line(rr_image_digest(img));
    return EXIT_SUCCESS;
}

/* Adds the layer files to `b`, builds the image and pushes it to `ref`; returns an exit
   status. */
static int add_build_push(struct cli *c, rr_client *client, rr_image_builder *b,
                          const char *const *paths, int n, const char *ref, const char *label) {
    int status = add_layers(c, b, paths, n);
    if (status != EXIT_SUCCESS) {
        return status;
    }
    rr_image *img = NULL;
    struct step s;
    step_begin(&s, c, "build the image");
    rr_status rc = rr_image_builder_build(b, &img);
    step_end(&s, rc);
    if (rc != RR_OK) {
        return report(rc);
    }
    status = push_built(c, client, img, ref, label);
    rr_image_free(img);
    return status;
}

static int cmd_build(struct cli *c, rr_client *client) {
    const char *ref = c->args[0];
    int status = auth_for(c, client, ref);
    if (status != EXIT_SUCCESS) {
        return status;
    }
    /* Fails early, before the layers are read, when ref names no tag or digest. */
    char *normalized = NULL;
    rr_status rc = normalize(ref, &normalized);
    if (rc != RR_OK) {
        return report(rc);
    }
    free(normalized);

    rr_image_builder *b = NULL;
    rc = rr_image_builder_new(&b);
    if (rc != RR_OK) {
        return report(rc);
    }
    if (c->platform != NULL && (rc = rr_image_builder_set_platform(b, c->platform)) != RR_OK) {
        status = report(rc);
        goto out;
    }
    if (c->config_file != NULL) {
        uint8_t *json = NULL;
        size_t len = 0;
        if (!read_small_file(c->config_file, &json, &len)) {
            status = EXIT_FAILED;
            goto out;
        }
        rc = rr_image_builder_set_config(b, json, len);
        free(json);
        if (rc != RR_OK) {
            status = report(rc);
            goto out;
        }
    }
    status = add_build_push(c, client, b, c->args + 1, c->nargs - 1, ref, "build");
out:
    rr_image_builder_free(b);
    return status;
}

/*
 * append BASE NEWREF LAYER...: the builder starts from BASE (its config, history and
 * layers, which stay where BASE keeps them: pushed to another repository of the same
 * registry they are mounted, not transferred) and adds the layer files on top.
 */
static int cmd_append(struct cli *c, rr_client *client) {
    const char *base_ref = c->args[0];
    const char *ref = c->args[1];
    int status = auth_for(c, client, base_ref);
    if (status == EXIT_SUCCESS) {
        status = auth_for(c, client, ref);
    }
    if (status != EXIT_SUCCESS) {
        return status;
    }
    char *normalized = NULL;
    rr_status rc = normalize(ref, &normalized);
    if (rc != RR_OK) {
        return report(rc);
    }
    free(normalized);

    struct step s;
    rr_image *base = NULL;
    rr_image_builder *b = NULL;
    step_begin(&s, c, "open the base image %s", base_ref);
    rc = rr_image_open(client, base_ref, &base);
    step_end(&s, rc);
    if (rc != RR_OK) {
        return report(rc);
    }
    if ((rc = rr_image_builder_new(&b)) != RR_OK) {
        status = report(rc);
        goto out;
    }
    step_begin(&s, c, "start from %s (%zu layers)", rr_image_digest(base),
               rr_image_layer_count(base));
    rc = rr_image_builder_set_base(b, base);
    step_end(&s, rc);
    if (rc != RR_OK) {
        status = report(rc);
        goto out;
    }
    if (c->platform != NULL && (rc = rr_image_builder_set_platform(b, c->platform)) != RR_OK) {
        status = report(rc);
        goto out;
    }
    status = add_build_push(c, client, b, c->args + 2, c->nargs - 2, ref, "append");
out:
    rr_image_builder_free(b);
    rr_image_free(base);
    return status;
}

/* ---- copy, tag, delete, auth ---------------------------------------------- */

static int cmd_copy(struct cli *c, rr_client *client) {
    const char *src = c->args[0];
    const char *dst = c->args[1];
    int status = auth_for(c, client, src);
    if (status == EXIT_SUCCESS) {
        status = auth_for(c, client, dst);
    }
    if (status != EXIT_SUCCESS) {
        return status;
    }
    struct step s;
    rr_status rc;
    if (c->platform != NULL) {
        /* One platform's image only (an index resolves to it). */
        rr_image *img = NULL;
        step_begin(&s, c, "open %s for %s", src, c->platform);
        rc = rr_image_open(client, src, &img);
        step_end(&s, rc);
        if (rc != RR_OK) {
            return report(rc);
        }
        status = push_built(c, client, img, dst, "copy");
        rr_image_free(img);
        return status;
    }
    step_begin(&s, c, "copy %s to %s", src, dst);
    progress_begin(&c->prog, "copy", 0);
    rc = rr_copy(client, src, dst);
    progress_end(&c->prog, rc == RR_OK);
    step_end(&s, rc);
    if (rc != RR_OK) {
        return report(rc);
    }
    rr_descriptor *desc = NULL;
    step_begin(&s, c, "head %s", dst);
    rc = rr_head(client, dst, &desc);
    step_end(&s, rc);
    if (rc != RR_OK) {
        return report(rc);
    }
    print_line(rr_descriptor_digest(desc));
    rr_descriptor_free(desc);
    return EXIT_SUCCESS;
}

static int cmd_tag(struct cli *c, rr_client *client) {
    const char *ref = c->args[0];
    const char *tag = c->args[1];
    int status = auth_for(c, client, ref);
    if (status != EXIT_SUCCESS) {
        return status;
    }
    struct step s;
    step_begin(&s, c, "tag %s as %s", ref, tag);
    rr_status rc = rr_tag(client, ref, tag);
    step_end(&s, rc);
    return rc == RR_OK ? EXIT_SUCCESS : report(rc);
}

static int cmd_delete(struct cli *c, rr_client *client) {
    const char *ref = c->args[0];
    int status = auth_for(c, client, ref);
    if (status != EXIT_SUCCESS) {
        return status;
    }
    struct step s;
    step_begin(&s, c, "delete %s", ref);
    rr_status rc = rr_delete(client, ref);
    step_end(&s, rc);
    return rc == RR_OK ? EXIT_SUCCESS : report(rc);
}

static int cmd_auth(struct cli *c, rr_client *client) {
    if (strcmp(c->args[0], "check") != 0) {
        return fail_with(EXIT_USAGE, "auth: unknown subcommand '%s' (only 'auth check REF')",
                         c->args[0]);
    }
    if (c->nargs != 2) {
        return fail_with(EXIT_USAGE, "auth check: exactly one reference expected");
    }
    const char *ref = c->args[1];
    int status = auth_for(c, client, ref);
    if (status != EXIT_SUCCESS) {
        return status;
    }
    struct step s;
    step_begin(&s, c, "check push permission for %s", ref);
    rr_status rc = rr_check_push_permission(client, ref);
    step_end(&s, rc);
    if (rc != RR_OK) {
        return report(rc);
    }
    puts("ok");
    return EXIT_SUCCESS;
}

static int cmd_version(struct cli *c, rr_client *client) {
    (void)c;
    (void)client;
    printf("rr %s (librr %s)\n", RR_TOOL_VERSION, rr_version());
    return EXIT_SUCCESS;
}

static int cmd_help(struct cli *c, rr_client *client);

/* ---- the command table and help ------------------------------------------- */

static const struct command commands[] = {
    {"ls", cmd_ls, 1, 1, 0, false, "ls REPO", "list the tags of a repository",
     "Prints every tag of REPO (REGISTRY/REPOSITORY, no tag), one per line, following\n"
     "the registry's pagination to the end.\n"
     "\n"
     "  rr ls localhost:5000/demo/app\n"},
    {"catalog", cmd_catalog, 1, 1, 0, false, "catalog REGISTRY",
     "list the repositories of a registry",
     "Prints every repository of REGISTRY (HOST[:PORT]), one per line. Many public\n"
     "registries do not offer the catalog.\n"
     "\n"
     "  rr catalog localhost:5000\n"},
    {"digest", cmd_digest, 1, 1, 0, false, "digest REF", "print the digest a reference names",
     "Prints the digest of the manifest REF names (a HEAD request). With --platform,\n"
     "an index resolves to that platform's image and its digest is printed.\n"
     "\n"
     "  rr digest localhost:5000/demo/app:v1\n"
     "  rr digest --platform linux/arm64 localhost:5000/demo/multi:v1\n"},
    {"manifest", cmd_manifest, 1, 1, 0, false, "manifest REF", "print a manifest, byte for byte",
     "Prints the manifest (image or index) REF names exactly as the registry\n"
     "stores it, without a newline added: `rr manifest REF | sha256sum` gives its\n"
     "digest. With --platform, an index resolves to that platform's image manifest.\n"},
    {"config", cmd_config, 1, 1, 0, false, "config REF", "print an image's config, byte for byte",
     "Prints the config blob of the image REF names (an index resolves by --platform,\n"
     "default linux/amd64), verified against its digest, exactly as stored.\n"},
    {"pull", cmd_pull, 2, 2, OPT_ALL | OPT_NAME | OPT_OCI, true,
     "pull [--all] [--oci] [--name NAME] REF DIR",
     "save an image or an index into an OCI layout",
     "Writes the image REF names into the OCI image layout DIR (created when\n"
     "missing; blobs already there are kept), verified, and prints its digest. An\n"
     "index resolves to the image for --platform (default linux/amd64); with --all\n"
     "the whole index and every child are written. The index.json entry is named\n"
     "NAME (default: the tag of REF; none for a digest reference), so that skopeo\n"
     "can read oci:DIR:NAME.\n"
     "\n"
     "Docker images and manifest lists are kept byte for byte, with their Docker\n"
     "media types and digests. skopeo reads such a layout only as oci:DIR (no name,\n"
     "and only while it holds one entry): it looks names up among OCI media types.\n"
     "With --oci they are converted to OCI media types on the way (config and layer\n"
     "blobs unchanged, same digests), so that skopeo reads oci:DIR:NAME; the new\n"
     "manifest has a new digest, which is printed (stderr says old and new).\n"
     "\n"
     "  --all        write the whole index, every platform\n"
     "  --oci        convert Docker media types to OCI ones (OCI content is unchanged)\n"
     "  --name NAME  the entry's org.opencontainers.image.ref.name\n"
     "\n"
     "  rr pull localhost:5000/demo/app:v1 ./app-layout\n"
     "  rr pull --oci localhost:5000/docker/app:v1 ./app   # skopeo: oci:./app:v1\n"},
    {"push", cmd_push, 2, 2, OPT_NAME, true, "push [--name NAME] DIR REF",
     "push an image or an index from an OCI layout",
     "Pushes an entry of the OCI image layout DIR to REF (which names a tag or a\n"
     "digest) and prints its digest. The entry is the one named NAME, or the only\n"
     "one. An entry that is an index is pushed whole (every child first), or with\n"
     "--platform only that platform's image.\n"
     "\n"
     "  --name NAME  the entry whose org.opencontainers.image.ref.name is NAME\n"
     "\n"
     "  rr push ./app-layout localhost:5000/demo/app:v2\n"},
    {"build", cmd_build, 2, -1, OPT_CONFIG, true, "build [--config FILE] REF LAYER...",
     "build an image from layer files and push it",
     "Builds an OCI image from LAYER files (tar, tar+gzip or tar+zstd, stored as they\n"
     "are: each layer's digest is its file's sha256) on the base config FILE (a JSON\n"
     "image config; default {}), for --platform (default: the config's, else\n"
     "linux/amd64), pushes it to REF (which names a tag or a digest) and prints its\n"
     "digest. The same inputs give the same digest (created: SOURCE_DATE_EPOCH, else\n"
     "1970-01-01).\n"
     "\n"
     "  --config FILE  the base config\n"
     "\n"
     "  rr build --config config.json localhost:5000/demo/hello:v1 base.tar app.tgz\n"},
    {"append", cmd_append, 3, -1, 0, true, "append BASE REF LAYER...",
     "add layer files on top of an image, push it",
     "Builds an image from BASE's config and layers followed by the LAYER files,\n"
     "pushes it to REF and prints its digest. An index BASE resolves by --platform.\n"
     "BASE's layers are not downloaded: pushed within BASE's registry they are\n"
     "mounted, elsewhere they stream from BASE's registry. The config keeps\n"
     "BASE's, history and diff_ids included, with one history entry per new layer.\n"
     "\n"
     "  rr append localhost:5000/demo/app:v1 localhost:5000/demo/app:v2 extra.tar\n"},
    {"copy", cmd_copy, 2, 2, 0, true, "copy SRC DST", "copy an image or a whole index",
     "Copies the image or the whole index SRC names to DST (a tag or a digest),\n"
     "digests preserved, and prints DST's digest. Within one registry every blob is\n"
     "mounted (`rr -v copy` shows the mount requests). With --platform only that\n"
     "platform's image is copied.\n"
     "\n"
     "  rr copy localhost:5000/demo/app:v1 localhost:5000/mirror/app:v1\n"},
    {"tag", cmd_tag, 2, 2, 0, false, "tag REF TAG",
     "tag a manifest again in its repository",
     "Tags the manifest REF names with TAG (a bare tag such as v2) in the same\n"
     "repository. Prints nothing.\n"
     "\n"
     "  rr tag localhost:5000/demo/app:v1 stable\n"},
    {"delete", cmd_delete, 1, 1, 0, false, "delete REF", "delete a manifest or a tag",
     "Deletes the manifest REF names when REF is a digest reference (the registry\n"
     "then drops every tag on it), or only the tag when REF names a tag. Registries\n"
     "that cannot delete tags (distribution 2.8) or have deletion disabled refuse:\n"
     "exit 4, RR_ERR_UNSUPPORTED. Prints nothing.\n"
     "\n"
     "  rr delete localhost:5000/demo/app@sha256:...\n"},
    {"auth", cmd_auth, 2, 2, 0, false, "auth check REF",
     "check that you may push to a repository",
     "Opens an upload session in REF's repository and cancels it at once, leaving\n"
     "nothing behind; prints \"ok\" when pushing is allowed. Exit 3 when the\n"
     "credentials are missing or rejected (RR_ERR_UNAUTHORIZED) or do not allow\n"
     "pushing (RR_ERR_DENIED).\n"
     "\n"
     "  rr auth check -u alice --password-stdin registry.example.com/team/app <pw.txt\n"},
    {"version", cmd_version, 0, 0, 0, false, "version", "print the versions of rr and librr",
     "Prints `rr VERSION (librr VERSION)`: the tool's version (that of the header\n"
     "it was built with) and the library's; they differ only when another\n"
     "librr.so.0 is loaded.\n"},
    {"help", cmd_help, 0, 1, 0, false, "help [COMMAND]", "help for rr or one of its commands",
     "Prints the help of COMMAND, or of rr itself.\n"},
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static const char global_options_help[] =
    "Options (before or after the command):\n"
    "  --platform OS/ARCH[/VARIANT]  the platform an index resolves to (default\n"
    "                                linux/amd64); for build, the image's platform\n"
    "  -j, --jobs N                  parallel blob transfers (1-256, default 4)\n"
    "  --insecure HOST[:PORT]        allow plain HTTP and unverified TLS for HOST\n"
    "                                (repeatable; loopback registries need none)\n"
    "  --ca FILE                     also trust the PEM certificates in FILE\n"
    "  -u, --username USER           user name for the references' registries\n"
    "  -p, --password PASS           its password (seen by ps: prefer the next)\n"
    "  --password-stdin              read the password from the first stdin line\n"
    "  --no-keychain                 do not read Docker/Podman credentials\n"
    "  -v, --verbose                 log each HTTP request and each step's time\n"
    "  -q, --quiet                   no progress and no notes (errors still)\n"
    "  --progress auto|bar|plain|none  progress display (auto: a bar on a\n"
    "                                terminal, else a line every few seconds)\n"
    "  -h, --help                    this help, or a command's with a command\n";

static const char exit_status_help[] =
    "Exit status: 0 success, 1 failure, 2 not found, 3 unauthorized or denied,\n"
    "4 unsupported (e.g. tag deletion refused), 64 usage error, 130 interrupted.\n";

static void main_usage(FILE *to) {
    fputs("usage: rr [OPTIONS] COMMAND [ARGS...]\n"
          "Run 'rr help' for the commands and options.\n",
          to);
}

static void main_help(FILE *to) {
    fprintf(to, "rr %s: a container registry client on librr\n\n", RR_TOOL_VERSION);
    fputs("usage: rr [OPTIONS] COMMAND [ARGS...]\n\nCommands:\n", to);
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (strlen(commands[i].synopsis) <= 28) {
            fprintf(to, "  %-28s %s\n", commands[i].synopsis, commands[i].summary);
        } else {
            fprintf(to, "  %s\n  %-28s %s\n", commands[i].synopsis, "", commands[i].summary);
        }
    }
    fputs("\nREF is a reference such as localhost:5000/app:v1 or registry/app@sha256:...;\n"
          "REPO is REGISTRY/REPOSITORY. Digests and lists go to stdout, one per line;\n"
          "progress, notes and errors go to stderr.\n\n",
          to);
    fputs(global_options_help, to);
    fputs("\n", to);
    fputs(exit_status_help, to);
    fputs("\nRun 'rr help COMMAND' (or 'rr COMMAND --help') for a command's help.\n", to);
}

static void command_usage(const struct command *cmd, FILE *to) {
    fprintf(to, "usage: rr %s\n", cmd->synopsis);
}

static void command_help(const struct command *cmd, FILE *to) {
    command_usage(cmd, to);
    fprintf(to, "%s.\n\n", cmd->summary);
    fputs(cmd->help, to);
    if (strcmp(cmd->name, "help") != 0 && strcmp(cmd->name, "version") != 0) {
        fputs("\n", to);
        fputs(global_options_help, to);
        fputs("\n", to);
        fputs(exit_status_help, to);
    }
}

static const struct command *find_command(const char *name) {
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

static int cmd_help(struct cli *c, rr_client *client) {
    (void)client;
    if (c->nargs == 0) {
        main_help(stdout);
        return EXIT_SUCCESS;
    }
    const struct command *cmd = find_command(c->args[0]);
    if (cmd == NULL) {
        fprintf(stderr, "rr: unknown command '%s'\n", c->args[0]);
        main_usage(stderr);
        return EXIT_USAGE;
    }
    command_help(cmd, stdout);
    return EXIT_SUCCESS;
}

/* ---- argument parsing ----------------------------------------------------- */

static int usage_error(const struct cli *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int usage_error(const struct cli *c, const char *fmt, ...) {
    va_list ap;
    fputs("rr: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n", stderr);
    if (c->cmd != NULL) {
        command_usage(c->cmd, stderr);
        fprintf(stderr, "Run 'rr help %s' for more.\n", c->cmd->name);
    } else {
        main_usage(stderr);
    }
    return EXIT_USAGE;
}

static const struct option_spec *find_option(const char *key) {
    for (size_t i = 0; i < sizeof option_specs / sizeof option_specs[0]; i++) {
        const struct option_spec *o = &option_specs[i];
        if (strcmp(key, o->long_name) == 0 ||
            (o->short_name != NULL && strcmp(key, o->short_name) == 0)) {
            return o;
        }
    }
    return NULL;
}

/* Fills `c` from argv; returns 0, or EXIT_USAGE after a message. */
static int parse_args(int argc, char **argv, struct cli *c) {
    size_t slots = (size_t)argc;
    c->args = xmalloc(slots * sizeof *c->args);
    c->insecure = xmalloc(slots * sizeof *c->insecure);
    c->ca_files = xmalloc(slots * sizeof *c->ca_files);
    c->progress = PROGRESS_AUTO;
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || a[1] == '\0') {
            if (c->cmd_name == NULL) {
                c->cmd_name = a;
                c->cmd = find_command(a); /* for the usage line of later errors */
            } else {
                c->args[c->nargs++] = a;
            }
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = true;
            continue;
        }
        /* --name=value */
        char key[64];
        const char *inline_value = NULL;
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        size_t klen = eq != NULL ? (size_t)(eq - a) : strlen(a);
        if (klen >= sizeof key) {
            return usage_error(c, "unknown option %s", a);
        }
        memcpy(key, a, klen);
        key[klen] = '\0';
        if (eq != NULL) {
            inline_value = eq + 1;
        }
        const struct option_spec *o = find_option(key);
        if (o == NULL) {
            return usage_error(c, "unknown option %s", key);
        }
        const char *value = NULL;
        if (o->takes_value) {
            if (inline_value != NULL) {
                value = inline_value;
            } else if (i + 1 < argc) {
                value = argv[++i];
            } else {
                return usage_error(c, "%s needs a value", key);
            }
        } else if (inline_value != NULL) {
            return usage_error(c, "%s takes no value", key);
        }
        if (o->command_bit != 0 && c->first_specific == NULL) {
            c->first_specific = o->long_name;
        }
        c->given |= o->command_bit;
        switch (o->id) {
        case O_PLATFORM:
            c->platform = value;
            break;
        case O_JOBS:
            if (!parse_jobs(value, &c->jobs)) {
                return usage_error(c, "--jobs needs a number from 1 to 256, not '%s'", value);
            }
            break;
        case O_INSECURE:
            c->insecure[c->ninsecure++] = value;
            break;
        case O_CA:
            c->ca_files[c->nca++] = value;
            break;
        case O_USER:
            c->user = value;
            break;
        case O_PASSWORD:
            c->password = value;
            break;
        case O_PASSWORD_STDIN:
            c->password_stdin = true;
            break;
        case O_NO_KEYCHAIN:
            c->no_keychain = true;
            break;
        case O_VERBOSE:
            c->verbose = true;
            break;
        case O_QUIET:
            c->quiet = true;
            break;
        case O_PROGRESS:
            if (!progress_mode_parse(value, &c->progress)) {
                return usage_error(c, "--progress takes auto, bar, plain or none, not '%s'",
                                   value);
            }
            c->progress_set = true;
            break;
        case O_HELP:
            c->help = true;
            break;
        case O_ALL:
            c->all = true;
            break;
        case O_NAME:
            c->name = value;
            break;
        case O_CONFIG:
            c->config_file = value;
            break;
        case O_OCI:
            c->oci = true;
            break;
        }
    }

    if (c->cmd_name != NULL) {
        c->cmd = find_command(c->cmd_name);
    }
    if (c->help) {
        return 0; /* main prints the help asked for */
    }
    if (c->cmd_name == NULL) {
        return usage_error(c, "no command given");
    }
    if (c->cmd == NULL) {
        return usage_error(c, "unknown command '%s'", c->cmd_name);
    }
    const struct command *cmd = c->cmd;
    if ((c->given & ~cmd->options) != 0) {
        return usage_error(c, "%s does not apply to '%s'", c->first_specific, cmd->name);
    }
    if (c->nargs < cmd->min_args) {
        return usage_error(c, "%s: missing argument%s", cmd->name,
                           cmd->min_args - c->nargs > 1 ? "s" : "");
    }
    if (cmd->max_args >= 0 && c->nargs > cmd->max_args) {
        return usage_error(c, "%s: unexpected argument '%s'", cmd->name,
                           c->args[cmd->max_args]);
    }
    if (c->password != NULL && c->password_stdin) {
        return usage_error(c, "-p and --password-stdin exclude each other");
    }
    if (c->user == NULL && (c->password != NULL || c->password_stdin)) {
        return usage_error(c, "a password needs -u USER");
    }
    if (c->user != NULL && c->password == NULL && !c->password_stdin) {
        return usage_error(c, "-u needs -p PASS or --password-stdin");
    }
    return 0;
}

/* Reads the first line of stdin as the password. */
static int read_password(struct cli *c) {
    size_t cap = 0;
    ssize_t n = getline(&c->password_buf, &cap, stdin);
    if (n <= 0) {
        return fail_with(EXIT_USAGE, "--password-stdin: no password on stdin");
    }
    while (n > 0 && (c->password_buf[n - 1] == '\n' || c->password_buf[n - 1] == '\r')) {
        c->password_buf[--n] = '\0';
    }
    if (n == 0) {
        return fail_with(EXIT_USAGE, "--password-stdin: the password is empty");
    }
    c->password = c->password_buf;
    return EXIT_SUCCESS;
}

static void free_cli(struct cli *c) {
    free(c->args);
    free(c->insecure);
    free(c->ca_files);
    if (c->password_buf != NULL) {
        memset(c->password_buf, 0, strlen(c->password_buf));
        free(c->password_buf);
    }
}

int main(int argc, char **argv) {
    struct cli c;
    memset(&c, 0, sizeof c);
    int status = parse_args(argc, argv, &c);
    if (status != 0) {
        free_cli(&c);
        return status;
    }
    if (c.help) {
        if (c.cmd != NULL && c.cmd->run == cmd_help && c.nargs > 0) {
            status = cmd_help(&c, NULL); /* rr help COMMAND --help */
        } else if (c.cmd != NULL && c.cmd->run != cmd_help) {
            command_help(c.cmd, stdout);
        } else if (c.cmd_name != NULL && c.cmd == NULL) {
            status = usage_error(&c, "unknown command '%s'", c.cmd_name);
        } else {
            main_help(stdout);
        }
        free_cli(&c);
        return status;
    }

    console_init(c.quiet ? PROGRESS_NONE : c.progress, "rr");
    rr_client *client = NULL;
    if (c.cmd->run == cmd_help || c.cmd->run == cmd_version) {
        status = c.cmd->run(&c, NULL);
        goto out;
    }
    if (c.password_stdin && (status = read_password(&c)) != EXIT_SUCCESS) {
        goto out;
    }
    rr_status rc = rr_client_new(&client);
    if (rc != RR_OK) {
        status = report(rc);
        goto out;
    }
    status = configure_client(&c, client);
    if (status != EXIT_SUCCESS) {
        goto out;
    }
    if (c.cmd->transfer) {
        catch_interrupts();
    }
    double started = console_now();
    status = c.cmd->run(&c, client);
    if (c.verbose) {
        console_line("%s: exit status %d after %.0f ms", c.cmd->name, status,
                     (console_now() - started) * 1000.0);
    }

out:
    rr_client_free(client);
    free_cli(&c);
    if (fflush(stdout) != 0 && status == EXIT_SUCCESS) {
        console_line("stdout: %s", strerror(errno));
        status = EXIT_FAILED;
    }
    return status;
}
