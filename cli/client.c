/*
 * The client the commands run with, set up from the global options, and the
 * small reference helpers they share (see cli.h).
 */
#define _POSIX_C_SOURCE 200809L /* sigaction */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

volatile sig_atomic_t interrupted;

/* The client the running command uses; rr_client_cancel is one atomic store and
   may be called from a signal handler (rr.h). */
static rr_client *volatile cancel_target;

static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
    if (cancel_target != NULL) {
        rr_client_cancel(cancel_target);
    }
}

/*
 * The first SIGINT or SIGTERM cancels whatever the command is doing on
 * `client` (a listing, a manifest read, a token exchange, a transfer: the
 * library returns RR_ERR_CANCELLED within milliseconds, cancels its upload
 * sessions and leaves no partial file); a second one ends the process as usual.
 */
void catch_interrupts(rr_client *client) {
    cancel_target = client;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND | SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void on_log(void *userdata, const char *line) {
    (void)userdata;
    console_line("%s", line);
}

/* Calls `set(client, HOST, VALUE)` for an option value "HOST=VALUE". */
static rr_status set_for_host(rr_client *client, const char *host_value,
                              rr_status (*set)(rr_client *, const char *, const char *)) {
    const char *eq = strchr(host_value, '=');
    char *host = xstrndup(host_value, (size_t)(eq - host_value));
    rr_status rc = set(client, host, eq + 1);
    free(host);
    return rc;
}

bool platform_given(const struct cli *c) {
    return c->platform != NULL || c->nos_features > 0;
}

const char *platform_label(const struct cli *c) {
    static char label[512];
    const char *platform = c->platform != NULL ? c->platform : "linux/amd64";
    size_t used = (size_t)snprintf(label, sizeof label, "%s", platform);
    for (int i = 0; i < c->nos_features && used < sizeof label; i++) {
        used += (size_t)snprintf(label + used, sizeof label - used, "%s%s",
                                 i == 0 ? " with os.features " : ",", c->os_features[i]);
    }
    return label;
}

/*
 * Fills `spec` with --platform (default linux/amd64) cut at its '/' and ':' into the
 * fields a platform string has, and the --os-feature values, which no string carries.
 * Returns the copy of the string the fields point into (the caller frees it). The
 * library checks every field; a string without '/' gives an empty architecture, which it
 * refuses as it refuses the string.
 */
static char *platform_spec_of(const struct cli *c, rr_platform_spec *spec) {
    const char *platform = c->platform != NULL ? c->platform : "linux/amd64";
    char *buf = xstrndup(platform, strlen(platform));
    memset(spec, 0, sizeof *spec);
    char *colon = strchr(buf, ':');
    if (colon != NULL) {
        *colon = '\0';
        spec->os_version = colon + 1;
    }
    spec->os = buf;
    char *slash = strchr(buf, '/');
    spec->architecture = slash != NULL ? slash + 1 : "";
    if (slash != NULL) {
        *slash = '\0';
        char *variant = strchr(slash + 1, '/');
        if (variant != NULL) {
            *variant = '\0';
            spec->variant = variant + 1;
        }
    }
    spec->os_features = c->os_features;
    spec->os_feature_count = (size_t)c->nos_features;
    return buf;
}

rr_status index_image_for_platform(const struct cli *c, const rr_index *idx, rr_image **out) {
    if (c->nos_features == 0) {
        return rr_index_image_for_platform(idx, c->platform != NULL ? c->platform : "linux/amd64",
                                           out);
    }
    rr_platform_spec spec;
    char *buf = platform_spec_of(c, &spec);
    rr_status rc = rr_index_image_for_platform_spec(idx, &spec, out);
    free(buf);
    return rc;
}

/*
 * Where registries' challenges are remembered between commands: $RR_PING_CACHE_DIR (empty:
 * nowhere), else $XDG_CACHE_HOME/rr/pings, else ~/.cache/rr/pings; NULL for nowhere.
 */
static char *ping_cache_dir(void) {
    const char *set = getenv("RR_PING_CACHE_DIR");
    if (set != NULL) {
        return set[0] != '\0' ? xstrndup(set, strlen(set)) : NULL;
    }
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    const char *base, *suffix;
    if (xdg != NULL && xdg[0] == '/') {
        base = xdg;
        suffix = "/rr/pings";
    } else if (home != NULL && home[0] == '/') {
        base = home;
        suffix = "/.cache/rr/pings";
    } else {
        return NULL;
    }
    size_t n = strlen(base) + strlen(suffix) + 1;
    char *dir = xmalloc(n);
    snprintf(dir, n, "%s%s", base, suffix);
    return dir;
}

int configure_client(struct cli *c, rr_client *client) {
    rr_status rc = rr_client_set_user_agent(client, "rr-cli/" RR_TOOL_VERSION);
    if (rc == RR_OK && c->platform != NULL) {
        rc = rr_client_set_platform(client, c->platform);
    }
    if (rc == RR_OK && c->nos_features > 0) {
        rr_platform_spec spec;
        char *buf = platform_spec_of(c, &spec);
        rc = rr_client_set_platform_spec(client, &spec);
        free(buf);
    }
    if (rc == RR_OK && c->jobs != 0) {
        rc = rr_client_set_jobs(client, c->jobs);
    }
    if (rc == RR_OK && c->blob_connections != 0) {
        rc = rr_client_set_blob_connections(client, c->blob_connections);
    }
    for (int i = 0; rc == RR_OK && i < c->ninsecure; i++) {
        rc = rr_client_set_insecure(client, c->insecure[i]);
    }
    for (int i = 0; rc == RR_OK && i < c->nplain_http; i++) {
        rc = rr_client_set_plain_http(client, c->plain_http[i]);
    }
    for (int i = 0; rc == RR_OK && i < c->nca; i++) {
        rc = rr_client_add_ca_file(client, c->ca_files[i]);
    }
    for (int i = 0; rc == RR_OK && i < c->nregistry_cas; i++) {
        rc = set_for_host(client, c->registry_cas[i], rr_client_add_registry_ca_file);
    }
    for (int i = 0; rc == RR_OK && i < c->ncert_dirs; i++) {
        rc = rr_client_add_certs_dir(client, c->cert_dirs[i]);
    }
    if (rc == RR_OK && !c->no_ping_cache) {
        char *dir = ping_cache_dir();
        if (dir != NULL) {
            rc = rr_client_set_ping_cache_dir(client, dir);
            free(dir);
        }
    }
    if (rc == RR_OK && c->no_default_cert_dirs) {
        rc = rr_client_set_default_certs_dirs(client, false);
    }
    for (int i = 0; rc == RR_OK && i < c->nproxies; i++) {
        rc = set_for_host(client, c->proxies[i], rr_client_set_proxy);
    }
    /* A chunk size alone means chunked uploads of that size. */
    if (rc == RR_OK && (c->upload_strategy_set || c->chunk_size != 0)) {
        uint32_t strategy = c->upload_strategy_set ? c->upload_strategy : RR_UPLOAD_CHUNKED;
        rc = rr_client_set_upload_strategy(client, NULL, strategy, c->chunk_size);
    }
    if (rc == RR_OK && c->monolithic_threshold_set) {
        rc = rr_client_set_monolithic_threshold(client, NULL, c->monolithic_threshold);
    }
    /* The files Podman reads, then those given, then single mirrors: later entries of a
       prefix replace earlier ones, and --mirror adds to what the files say. */
    if (rc == RR_OK && c->default_registries_conf) {
        rc = rr_client_load_registries_conf(client, NULL);
    }
    for (int i = 0; rc == RR_OK && i < c->nconfs; i++) {
        rc = rr_client_load_registries_conf(client, c->registries_confs[i]);
    }
    for (int i = 0; rc == RR_OK && i < c->nmirrors; i++) {
        const char *eq = strchr(c->mirrors[i], '='); /* checked by the option parser */
        char *registry = xstrndup(c->mirrors[i], (size_t)(eq - c->mirrors[i]));
        rc = rr_client_add_mirror(client, registry, eq + 1, RR_MIRROR_PULL_ALL);
        free(registry);
    }
    if (rc == RR_OK && c->timeout_set) {
        rc = rr_client_set_deadline(client, c->timeout_ms);
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
    if (rc == RR_OK) {
        rc = rr_client_set_blob_progress_callback(client, blob_progress_callback, &c->prog);
    }
    return rc == RR_OK ? EXIT_SUCCESS : report(rc);
}

void report_rate_limits(rr_client *client) {
    rr_string_list *list = NULL;
    if (rr_client_rate_limit_registries(client, &list) != RR_OK) {
        return;
    }
    for (size_t i = 0; i < rr_string_list_len(list); i++) {
        const char *registry = rr_string_list_get(list, i);
        int64_t limit = -1, remaining = -1, window = -1;
        if (rr_client_rate_limit(client, registry, &limit, &remaining, &window) != RR_OK) {
            continue;
        }
        /* -1 is what the registry did not say. */
        char text[160];
        int n = snprintf(text, sizeof text, "rate limit of %s:", registry);
        if (remaining >= 0 && n > 0 && (size_t)n < sizeof text) {
            n += snprintf(text + n, sizeof text - (size_t)n, " %lld", (long long)remaining);
            if (limit >= 0 && (size_t)n < sizeof text) {
                n += snprintf(text + n, sizeof text - (size_t)n, " of %lld", (long long)limit);
            }
            if ((size_t)n < sizeof text) {
                n += snprintf(text + n, sizeof text - (size_t)n, " left");
            }
        } else if (limit >= 0 && n > 0 && (size_t)n < sizeof text) {
            n += snprintf(text + n, sizeof text - (size_t)n, " %lld", (long long)limit);
        }
        if (window >= 0 && n > 0 && (size_t)n < sizeof text) {
            snprintf(text + n, sizeof text - (size_t)n, " per %lld s", (long long)window);
        }
        console_line("%s", text);
    }
    rr_string_list_free(list);
}

int auth_for(const struct cli *c, rr_client *client, const char *reference) {
    if (c->user == NULL && c->cert_file == NULL) {
        return EXIT_SUCCESS;
    }
    char *normalized = NULL;
    rr_status rc = normalize(reference, &normalized);
    if (rc != RR_OK) {
        return report(rc);
    }
    /* The registry: host[:port], before the first '/'. */
    char *registry = xstrndup(normalized, strcspn(normalized, "/"));
    if (c->user != NULL) {
        rc = rr_client_set_basic_auth(client, registry, c->user, c->password);
    }
    if (rc == RR_OK && c->cert_file != NULL) {
        rc = rr_client_set_client_cert(client, registry, c->cert_file, c->key_file);
    }
    free(registry);
    free(normalized);
    return rc == RR_OK ? EXIT_SUCCESS : report(rc);
}

rr_status normalize(const char *reference, char **out) {
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

char *tag_of(const char *normalized) {
    if (strchr(normalized, '@') != NULL) {
        return NULL;
    }
    const char *slash = strrchr(normalized, '/');
    const char *colon = strrchr(slash != NULL ? slash : normalized, ':');
    return colon != NULL ? xstrndup(colon + 1, strlen(colon + 1)) : NULL;
}
