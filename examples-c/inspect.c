/*
 * inspect: print what a registry holds for a reference, using librr.
 *
 *   inspect [OPTIONS] REFERENCE        manifest, index children, config, layers
 *   inspect [OPTIONS] --tags REPOSITORY
 *
 * Options:
 *   --platform os/arch[/variant]   the platform an index resolves to (default linux/amd64)
 *   --insecure HOST[:PORT]         allow plain HTTP and unverified TLS for HOST
 *   --ca FILE                      trust the PEM certificates in FILE
 *   -u USER -p PASS                basic credentials for the reference's registry
 *   --no-keychain                  do not read Docker/containers auth files
 *
 * Exit status: 0 on success, 2 when not found, 3 when unauthorized or denied,
 * 1 for other failures, 64 for usage errors.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rr.h"

enum {
    EXIT_NOT_FOUND = 2,
    EXIT_AUTH = 3,
    EXIT_USAGE = 64,
};

#define DEFAULT_PLATFORM "linux/amd64"

struct options {
    const char *platform;
    const char *insecure;
    const char *ca_file;
    const char *user;
    const char *password;
    bool no_keychain;
    bool tags;
    const char *target; /* the reference, or the repository with --tags */
};

static void usage(FILE *to) {
    fputs("usage: inspect [--platform os/arch[/variant]] [--insecure HOST] [--ca FILE]\n"
          "               [-u USER -p PASS] [--no-keychain] REFERENCE\n"
          "       inspect [same options] --tags REPOSITORY\n",
          to);
}

/*
 * Reports the calling thread's last error for `rc` and returns the exit status.
 * Must run right after the failing call: any other rr_ call may clear the error.
 */
static int report(rr_status rc) {
    const char *code = rr_error_registry_code();
    fprintf(stderr, "inspect: %s (%s, HTTP %u, code %s)\n", rr_error_message(),
            rr_status_name((int32_t)rc), (unsigned)rr_error_http_status(),
            code != NULL ? code : "-");
    switch (rc) {
    case RR_ERR_NOT_FOUND:
        return EXIT_NOT_FOUND;
    case RR_ERR_UNAUTHORIZED:
    case RR_ERR_DENIED:
        return EXIT_AUTH;
    default:
        return EXIT_FAILURE;
    }
}

/* Returns 0 and fills `o`, or prints a usage error and returns EXIT_USAGE. */
static int parse_args(int argc, char **argv, struct options *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **value = NULL;
        if (strcmp(a, "--platform") == 0) {
            value = &o->platform;
        } else if (strcmp(a, "--insecure") == 0) {
            value = &o->insecure;
        } else if (strcmp(a, "--ca") == 0) {
            value = &o->ca_file;
        } else if (strcmp(a, "-u") == 0) {
            value = &o->user;
        } else if (strcmp(a, "-p") == 0) {
            value = &o->password;
        } else if (strcmp(a, "--no-keychain") == 0) {
            o->no_keychain = true;
            continue;
        } else if (strcmp(a, "--tags") == 0) {
            o->tags = true;
            continue;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(EXIT_SUCCESS);
        } else if (strcmp(a, "--") == 0) {
            if (i + 2 != argc || o->target != NULL) {
                fputs("inspect: exactly one reference expected\n", stderr);
                return EXIT_USAGE;
            }
            o->target = argv[i + 1];
            break;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "inspect: unknown option %s\n", a);
            return EXIT_USAGE;
        } else if (o->target != NULL) {
            fprintf(stderr, "inspect: unexpected argument %s\n", a);
            return EXIT_USAGE;
        } else {
            o->target = a;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "inspect: %s needs a value\n", a);
            return EXIT_USAGE;
        }
        *value = argv[++i];
    }
    if (o->target == NULL) {
        fputs(o->tags ? "inspect: --tags needs a repository\n" : "inspect: no reference given\n",
              stderr);
        return EXIT_USAGE;
    }
    if ((o->user == NULL) != (o->password == NULL)) {
        fputs("inspect: -u and -p go together\n", stderr);
        return EXIT_USAGE;
    }
    return 0;
}

/*
 * Normalises `reference` into a malloc'd string (*out, freed by the caller),
 * asking for the size first. Returns the status of the failing call.
 */
static rr_status normalize(const char *reference, char **out) {
    size_t needed = 0;
    rr_status rc = rr_reference_normalize(reference, NULL, 0, &needed);
    /* With cap 0 a valid reference reports "too small" and sets needed. */
    if (rc != RR_OK && !(rc == RR_ERR_INVALID_ARGUMENT && needed > 0)) {
        return rc;
    }
    char *buf = malloc(needed);
    if (buf == NULL) {
        fputs("inspect: out of memory\n", stderr);
        exit(EXIT_FAILURE);
    }
    rc = rr_reference_normalize(reference, buf, needed, &needed);
    if (rc != RR_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    return RR_OK;
}

/* A NUL-terminated malloc'd copy of `len` bytes (JSON from the library). */
static char *copy_text(const uint8_t *bytes, size_t len) {
    char *s = malloc(len + 1);
    if (s == NULL) {
        fputs("inspect: out of memory\n", stderr);
        exit(EXIT_FAILURE);
    }
    if (len > 0) {
        memcpy(s, bytes, len);
    }
    s[len] = '\0';
    return s;
}

/*
 * A tiny JSON lookup, enough for an example: finds the first `"key"` at or
 * after `from` that is followed by `:` and a string, and copies that string
 * (escapes are not decoded) into out. Returns false when there is none.
 */
static bool json_string_after(const char *from, const char *key, char *out, size_t cap) {
    char quoted[64];
    int n = snprintf(quoted, sizeof quoted, "\"%s\"", key);
    if (n < 0 || (size_t)n >= sizeof quoted || cap == 0) {
        return false;
    }
    for (const char *p = strstr(from, quoted); p != NULL; p = strstr(p + 1, quoted)) {
        const char *q = p + n;
        while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n') {
            q++;
        }
        if (*q != ':') {
            continue; /* the text was a value, not a key */
        }
        q++;
        while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n') {
            q++;
        }
        if (*q != '"') {
            continue;
        }
        q++;
        size_t len = 0;
        while (q[len] != '\0' && q[len] != '"') {
            if (q[len] == '\\' && q[len + 1] != '\0') {
                len++;
            }
            len++;
        }
        if (len >= cap) {
            len = cap - 1;
        }
        memcpy(out, q, len);
        out[len] = '\0';
        return true;
    }
    return false;
}

static bool is_index_media_type(const char *media_type) {
    return media_type != NULL && (strstr(media_type, "image.index") != NULL ||
                                  strstr(media_type, "manifest.list") != NULL);
}

static const char *or_dash(const char *s) {
    return s != NULL ? s : "-";
}

/* Prints an image: digest, media type, config and layers. Returns an exit status. */
static int print_image(const rr_image *img) {
    printf("image:\n");
    printf("  digest: %s\n", or_dash(rr_image_digest(img)));
    printf("  media-type: %s\n", or_dash(rr_image_media_type(img)));

    const uint8_t *bytes = NULL;
    size_t len = 0;
    rr_status rc = rr_image_manifest(img, &bytes, &len);
    if (rc != RR_OK) {
        return report(rc);
    }
    char *manifest = copy_text(bytes, len);
    char value[256];
    const char *config_key = strstr(manifest, "\"config\"");
    bool have_digest =
        config_key != NULL && json_string_after(config_key, "digest", value, sizeof value);
    printf("config:\n");
    printf("  digest: %s\n", have_digest ? value : "-");
    free(manifest);

    rc = rr_image_config(img, &bytes, &len);
    if (rc != RR_OK) {
        return report(rc);
    }
    char *config = copy_text(bytes, len);
    printf("  size: %zu\n", len);
    printf("  os: %s\n", json_string_after(config, "os", value, sizeof value) ? value : "-");
    printf("  architecture: %s\n",
           json_string_after(config, "architecture", value, sizeof value) ? value : "-");
    if (json_string_after(config, "variant", value, sizeof value)) {
        printf("  variant: %s\n", value);
    }
    free(config);

    size_t layers = rr_image_layer_count(img);
    printf("layers: %zu\n", layers);
    for (size_t i = 0; i < layers; i++) {
        printf("layer %zu: %s %s %" PRIu64 "\n", i, or_dash(rr_image_layer_digest(img, i)),
               or_dash(rr_image_layer_media_type(img, i)), rr_image_layer_size(img, i));
    }
    return EXIT_SUCCESS;
}

/* The part of a normalised reference before the first '/', malloc'd. */
static char *registry_of(const char *normalized) {
    size_t len = strcspn(normalized, "/");
    char *host = malloc(len + 1);
    if (host == NULL) {
        fputs("inspect: out of memory\n", stderr);
        exit(EXIT_FAILURE);
    }
    memcpy(host, normalized, len);
    host[len] = '\0';
    return host;
}

static int configure_client(rr_client *client, const struct options *o, const char *normalized) {
    rr_status rc = RR_OK;
    if (o->platform != NULL && (rc = rr_client_set_platform(client, o->platform)) != RR_OK) {
        return report(rc);
    }
    if (o->insecure != NULL && (rc = rr_client_set_insecure(client, o->insecure)) != RR_OK) {
        return report(rc);
    }
    if (o->ca_file != NULL && (rc = rr_client_add_ca_file(client, o->ca_file)) != RR_OK) {
        return report(rc);
    }
    if (o->no_keychain && (rc = rr_client_set_keychain(client, false)) != RR_OK) {
        return report(rc);
    }
    if (o->user != NULL) {
        char *registry = registry_of(normalized);
        rc = rr_client_set_basic_auth(client, registry, o->user, o->password);
        free(registry);
        if (rc != RR_OK) {
            return report(rc);
        }
    }
    return EXIT_SUCCESS;
}

static int list_tags(rr_client *client, const char *repository) {
    rr_string_list *tags = NULL;
    rr_status rc = rr_list(client, repository, &tags);
    if (rc != RR_OK) {
        return report(rc);
    }
    size_t n = rr_string_list_len(tags);
    printf("repository: %s\n", repository);
    printf("tags: %zu\n", n);
    for (size_t i = 0; i < n; i++) {
        printf("%s\n", or_dash(rr_string_list_get(tags, i)));
    }
    rr_string_list_free(tags);
    return EXIT_SUCCESS;
}

/* Lists an index's children, then prints the image chosen for `platform`. */
static int inspect_index(const rr_descriptor *desc, const char *platform) {
    rr_index *idx = NULL;
    rr_image *img = NULL;
    int status = EXIT_SUCCESS;

    rr_status rc = rr_descriptor_index(desc, &idx);
    if (rc != RR_OK) {
        return report(rc);
    }
    size_t children = rr_index_child_count(idx);
    printf("children: %zu\n", children);
    for (size_t i = 0; i < children; i++) {
        printf("child %zu: %s %s %s\n", i, or_dash(rr_index_child_digest(idx, i)),
               or_dash(rr_index_child_media_type(idx, i)),
               or_dash(rr_index_child_platform(idx, i)));
    }

    printf("platform: %s\n", platform);
    rc = rr_index_image_for_platform(idx, platform, &img);
    if (rc != RR_OK) {
        status = report(rc);
        goto out;
    }
    const char *chosen = rr_image_digest(img);
    for (size_t i = 0; chosen != NULL && i < children; i++) {
        const char *digest = rr_index_child_digest(idx, i);
        if (digest != NULL && strcmp(digest, chosen) == 0) {
            printf("selected: child %zu %s %s\n", i, digest,
                   or_dash(rr_index_child_platform(idx, i)));
            break;
        }
    }
    status = print_image(img);

out:
    rr_image_free(img);
    rr_index_free(idx);
    return status;
}

static int inspect_reference(rr_client *client, const char *normalized, const char *platform) {
    rr_descriptor *desc = NULL;
    rr_status rc = rr_get(client, normalized, &desc);
    if (rc != RR_OK) {
        return report(rc);
    }
    const char *media_type = rr_descriptor_media_type(desc);
    printf("digest: %s\n", or_dash(rr_descriptor_digest(desc)));
    printf("media-type: %s\n", or_dash(media_type));
    printf("size: %" PRIu64 "\n", rr_descriptor_size(desc));

    int status;
    if (is_index_media_type(media_type)) {
        status = inspect_index(desc, platform);
    } else {
        rr_image *img = NULL;
        rc = rr_descriptor_image(desc, &img);
        status = rc == RR_OK ? print_image(img) : report(rc);
        rr_image_free(img);
    }
    rr_descriptor_free(desc);
    return status;
}

int main(int argc, char **argv) {
    struct options o = {0};
    int status = parse_args(argc, argv, &o);
    if (status != 0) {
        usage(stderr);
        return status;
    }

    char *normalized = NULL;
    rr_client *client = NULL;
    /* With --tags the target is a repository; normalising it (":latest" is
       added) gives the registry for -u/-p and checks its syntax early. */
    rr_status rc = normalize(o.target, &normalized);
    if (rc != RR_OK) {
        status = report(rc);
        goto out;
    }
    rc = rr_client_new(&client);
    if (rc != RR_OK) {
        status = report(rc);
        goto out;
    }
    status = configure_client(client, &o, normalized);
    if (status != EXIT_SUCCESS) {
        goto out;
    }

    if (o.tags) {
        status = list_tags(client, o.target);
    } else {
        printf("reference: %s\n", normalized);
        status = inspect_reference(client, normalized,
                                   o.platform != NULL ? o.platform : DEFAULT_PLATFORM);
    }

out:
    rr_client_free(client);
    free(normalized);
    if (fflush(stdout) != 0 && status == EXIT_SUCCESS) {
        perror("inspect: stdout");
        status = EXIT_FAILURE;
    }
    return status;
}
