/*
 * The command line: global options and those of some commands, before or
 * after the command (see cli.h). Every usage error exits 64.
 */
#define _POSIX_C_SOURCE 200809L /* getline */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum option_id {
    O_PLATFORM,
    O_OS_FEATURE,
    O_JOBS,
    O_BLOB_CONNECTIONS,
    O_INSECURE,
    O_PLAIN_HTTP,
    O_CA,
    O_REGISTRY_CA,
    O_CERT,
    O_KEY,
    O_CERT_DIR,
    O_NO_DEFAULT_CERT_DIRS,
    O_NO_PING_CACHE,
    O_PROXY,
    O_UPLOAD_STRATEGY,
    O_CHUNK_SIZE,
    O_MONOLITHIC_THRESHOLD,
    O_MIRROR,
    O_REGISTRIES_CONF,
    O_DEFAULT_REGISTRIES_CONF,
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
    O_PAGE_SIZE,
    O_MEDIA_TYPE,
    O_TIMEOUT,
    O_FROM,
    O_ARTIFACT_TYPE,
    O_ANNOTATION,
    O_FORMAT,
    O_ARTIFACT,
    O_REFERRERS,
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
    {"--os-feature", NULL, O_OS_FEATURE, true, 0},
    {"--jobs", "-j", O_JOBS, true, 0},
    {"--blob-connections", NULL, O_BLOB_CONNECTIONS, true, 0},
    {"--insecure", NULL, O_INSECURE, true, 0},
    {"--plain-http", NULL, O_PLAIN_HTTP, true, 0},
    {"--ca", NULL, O_CA, true, 0},
    {"--registry-ca", NULL, O_REGISTRY_CA, true, 0},
    {"--cert", NULL, O_CERT, true, 0},
    {"--key", NULL, O_KEY, true, 0},
    {"--cert-dir", NULL, O_CERT_DIR, true, 0},
    {"--no-default-cert-dirs", NULL, O_NO_DEFAULT_CERT_DIRS, false, 0},
    {"--no-ping-cache", NULL, O_NO_PING_CACHE, false, 0},
    {"--proxy", NULL, O_PROXY, true, 0},
    {"--upload-strategy", NULL, O_UPLOAD_STRATEGY, true, 0},
    {"--chunk-size", NULL, O_CHUNK_SIZE, true, 0},
    {"--monolithic-threshold", NULL, O_MONOLITHIC_THRESHOLD, true, 0},
    {"--mirror", NULL, O_MIRROR, true, 0},
    {"--registries-conf", NULL, O_REGISTRIES_CONF, true, 0},
    {"--default-registries-conf", NULL, O_DEFAULT_REGISTRIES_CONF, false, 0},
    {"--timeout", NULL, O_TIMEOUT, true, 0},
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
    {"--page-size", NULL, O_PAGE_SIZE, true, OPT_PAGE_SIZE},
    {"--media-type", NULL, O_MEDIA_TYPE, true, OPT_MEDIA_TYPE},
    {"--from", NULL, O_FROM, true, OPT_FROM},
    {"--artifact-type", NULL, O_ARTIFACT_TYPE, true, OPT_ARTIFACT_TYPE},
    {"--annotation", NULL, O_ANNOTATION, true, OPT_ANNOTATION},
    {"--format", NULL, O_FORMAT, true, OPT_FORMAT},
    {"--artifact", NULL, O_ARTIFACT, false, OPT_ARTIFACT},
    {"--referrers", NULL, O_REFERRERS, false, OPT_REFERRERS},
};

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

/* A whole number from `min` to `max` (no sign, no spaces). */
static bool parse_count(const char *s, unsigned long min, unsigned long max, uint32_t *out) {
    if (s[0] < '0' || s[0] > '9') {
        return false;
    }
    errno = 0;
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

/* A size in bytes: digits, optionally followed by K, M or G (KiB, MiB, GiB). */
static bool parse_size(const char *s, uint64_t *out) {
    if (s[0] < '0' || s[0] > '9') {
        return false;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k') {
        shift = 10;
    } else if (*end == 'M' || *end == 'm') {
        shift = 20;
    } else if (*end == 'G' || *end == 'g') {
        shift = 30;
    }
    if (shift != 0) {
        end++;
    }
    if (errno != 0 || *end != '\0' || v > (UINT64_MAX >> shift)) {
        return false;
    }
    *out = (uint64_t)v << shift;
    return true;
}

/* A duration: digits followed by ms, s (the default), m or h; 0 means none. */
static bool parse_duration_ms(const char *s, uint64_t *out) {
    if (s[0] < '0' || s[0] > '9') {
        return false;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned long long unit = 1000;
    if (strcmp(end, "ms") == 0) {
        unit = 1;
    } else if (strcmp(end, "s") == 0 || *end == '\0') {
        unit = 1000;
    } else if (strcmp(end, "m") == 0) {
        unit = 60000;
    } else if (strcmp(end, "h") == 0) {
        unit = 3600000;
    } else {
        return false;
    }
    /* The library refuses more than a week; say so here as a usage error. */
    if (errno != 0 || v > 604800000ULL / unit) {
        return false;
    }
    *out = (uint64_t)(v * unit);
    return true;
}

static bool parse_strategy(const char *s, uint32_t *out) {
    static const char *const names[] = {"auto", "monolithic", "streamed", "chunked"};
    static const uint32_t values[] = {RR_UPLOAD_AUTO, RR_UPLOAD_MONOLITHIC, RR_UPLOAD_STREAMED,
                                      RR_UPLOAD_CHUNKED};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = values[i];
            return true;
        }
    }
    return false;
}

int usage_error(const struct cli *c, const char *fmt, ...) {
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

/* Stores option `o` with its value (NULL for a flag); returns 0 or EXIT_USAGE. */
static int set_option(struct cli *c, const struct option_spec *o, const char *value) {
    switch (o->id) {
    case O_PLATFORM:
        c->platform = value;
        break;
    case O_OS_FEATURE:
        c->os_features[c->nos_features++] = value;
        break;
    case O_JOBS:
        if (!parse_count(value, 1, 256, &c->jobs)) {
            return usage_error(c, "--jobs needs a number from 1 to 256, not '%s'", value);
        }
        break;
    case O_BLOB_CONNECTIONS:
        if (!parse_count(value, 1, 16, &c->blob_connections)) {
            return usage_error(c, "--blob-connections needs a number from 1 to 16, not '%s'",
                               value);
        }
        break;
    case O_INSECURE:
        c->insecure[c->ninsecure++] = value;
        break;
    case O_PLAIN_HTTP:
        c->plain_http[c->nplain_http++] = value;
        break;
    case O_CA:
        c->ca_files[c->nca++] = value;
        break;
    case O_REGISTRY_CA:
        if (strchr(value, '=') == NULL || value[0] == '=') {
            return usage_error(c, "--registry-ca takes HOST[:PORT]=FILE, not '%s'", value);
        }
        c->registry_cas[c->nregistry_cas++] = value;
        break;
    case O_CERT:
        c->cert_file = value;
        break;
    case O_KEY:
        c->key_file = value;
        break;
    case O_CERT_DIR:
        c->cert_dirs[c->ncert_dirs++] = value;
        break;
    case O_NO_DEFAULT_CERT_DIRS:
        c->no_default_cert_dirs = true;
        break;
    case O_NO_PING_CACHE:
        c->no_ping_cache = true;
        break;
    case O_PROXY:
        if (strchr(value, '=') == NULL || value[0] == '=') {
            return usage_error(c, "--proxy takes HOST[:PORT]=URL (URL empty: no proxy), not '%s'",
                               value);
        }
        c->proxies[c->nproxies++] = value;
        break;
    case O_UPLOAD_STRATEGY:
        if (!parse_strategy(value, &c->upload_strategy)) {
            return usage_error(c,
                               "--upload-strategy takes auto, monolithic, streamed or chunked, "
                               "not '%s'",
                               value);
        }
        c->upload_strategy_set = true;
        break;
    case O_CHUNK_SIZE:
        if (!parse_size(value, &c->chunk_size) || c->chunk_size == 0) {
            return usage_error(c, "--chunk-size takes a size such as 4M or 65536, not '%s'",
                               value);
        }
        break;
    case O_MONOLITHIC_THRESHOLD:
        if (!parse_size(value, &c->monolithic_threshold)) {
            return usage_error(
                c, "--monolithic-threshold takes a size such as 1M or 0, not '%s'", value);
        }
        c->monolithic_threshold_set = true;
        break;
    case O_MIRROR: {
        const char *eq = strchr(value, '=');
        if (eq == NULL || eq == value || eq[1] == '\0') {
            return usage_error(c, "--mirror takes REGISTRY=MIRROR, not '%s'", value);
        }
        c->mirrors[c->nmirrors++] = value;
        break;
    }
    case O_REGISTRIES_CONF:
        c->registries_confs[c->nconfs++] = value;
        break;
    case O_DEFAULT_REGISTRIES_CONF:
        c->default_registries_conf = true;
        break;
    case O_TIMEOUT:
        if (!parse_duration_ms(value, &c->timeout_ms)) {
            return usage_error(
                c, "--timeout takes a duration such as 30s, 500ms or 5m (at most a week), not '%s'",
                value);
        }
        c->timeout_set = true;
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
            return usage_error(c, "--progress takes auto, bar, plain or none, not '%s'", value);
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
    case O_PAGE_SIZE:
        if (!parse_count(value, 1, 1000, &c->page_size)) {
            return usage_error(c, "--page-size needs a number from 1 to 1000, not '%s'", value);
        }
        break;
    case O_MEDIA_TYPE:
        c->media_type = value;
        break;
    case O_FROM:
        c->from = value;
        break;
    case O_ARTIFACT_TYPE:
        c->artifact_type = value;
        break;
    case O_ANNOTATION:
        if (strchr(value, '=') == NULL || value[0] == '=') {
            return usage_error(c, "--annotation takes KEY=VALUE, not '%s'", value);
        }
        c->annotations[c->nannotations++] = value;
        break;
    case O_FORMAT:
        if (strcmp(value, "json") != 0 && strcmp(value, "text") != 0) {
            return usage_error(c, "--format takes json or text, not '%s'", value);
        }
        c->format_json = strcmp(value, "json") == 0;
        break;
    case O_ARTIFACT:
        c->artifact = true;
        break;
    case O_REFERRERS:
        c->referrers = true;
        break;
    }
    return 0;
}

/* What the command and the options given allow, once they are all read. */
static int check_args(const struct cli *c) {
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
    if ((c->cert_file == NULL) != (c->key_file == NULL)) {
        return usage_error(c, "--cert FILE and --key FILE go together");
    }
    return 0;
}

int parse_args(int argc, char **argv, struct cli *c) {
    size_t slots = (size_t)argc;
    c->args = xmalloc(slots * sizeof *c->args);
    c->insecure = xmalloc(slots * sizeof *c->insecure);
    c->plain_http = xmalloc(slots * sizeof *c->plain_http);
    c->ca_files = xmalloc(slots * sizeof *c->ca_files);
    c->registry_cas = xmalloc(slots * sizeof *c->registry_cas);
    c->cert_dirs = xmalloc(slots * sizeof *c->cert_dirs);
    c->proxies = xmalloc(slots * sizeof *c->proxies);
    c->mirrors = xmalloc(slots * sizeof *c->mirrors);
    c->registries_confs = xmalloc(slots * sizeof *c->registries_confs);
    c->os_features = xmalloc(slots * sizeof *c->os_features);
    c->annotations = xmalloc(slots * sizeof *c->annotations);
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
        int status = set_option(c, o, value);
        if (status != 0) {
            return status;
        }
    }
    if (c->cmd_name != NULL) {
        c->cmd = find_command(c->cmd_name);
    }
    if (c->help) {
        return 0; /* main prints the help asked for */
    }
    return check_args(c);
}

int read_password(struct cli *c) {
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

void free_cli(struct cli *c) {
    free(c->args);
    free(c->insecure);
    free(c->plain_http);
    free(c->ca_files);
    free(c->registry_cas);
    free(c->cert_dirs);
    free(c->proxies);
    free(c->mirrors);
    free(c->registries_confs);
    free(c->os_features);
    free(c->annotations);
    if (c->password_buf != NULL) {
        memset(c->password_buf, 0, strlen(c->password_buf));
        free(c->password_buf);
    }
}
