/*
 * rr push [--name NAME] DIR REF: an entry of an OCI layout (an image, a whole
 * index, or one platform's image of it) to a registry.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "json.h"

/* The entries of DIR/index.json, with their names; false after a message. */
static bool read_entries(const char *dir, struct layout_entry **entries, size_t *count) {
    size_t dlen = strlen(dir);
    char *path = xmalloc(dlen + sizeof "/index.json");
    memcpy(path, dir, dlen);
    memcpy(path + dlen, "/index.json", sizeof "/index.json");
    uint8_t *bytes = NULL;
    size_t len = 0;
    bool ok = read_small_file(path, &bytes, &len);
    if (ok) {
        char err[256];
        ok = layout_entries_parse((const char *)bytes, len, entries, count, err, sizeof err);
        if (!ok) {
            console_line("%s: %s", path, err);
        }
        free(bytes);
    }
    free(path);
    return ok;
}

/* "v1, v2, (unnamed)" into buf. */
static void entry_names(const struct layout_entry *entries, size_t count, char *buf,
                        size_t cap) {
    buf[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, cap - used, "%s%s", i > 0 ? ", " : "",
                 entries[i].name != NULL ? entries[i].name : "(unnamed)");
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

/* The child to push: the entry named --name, else the only one. Returns an exit status. */
static int pick_child(const struct cli *c, const char *dir, const rr_index *layout,
                      const struct layout_entry *entries, size_t count, size_t *pick) {
    char names[1024];
    if (c->name != NULL) {
        for (size_t i = 0; i < count; i++) {
            const struct layout_entry *e = &entries[i];
            if (e->name != NULL && strcmp(e->name, c->name) == 0) {
                *pick = child_with_digest(layout, e->digest);
                if (*pick == SIZE_MAX) {
                    return fail_with(EXIT_FAILED, "%s: the entry %s (%s) is not in the layout",
                                     dir, c->name, e->digest != NULL ? e->digest : "no digest");
                }
                return EXIT_SUCCESS;
            }
        }
        entry_names(entries, count, names, sizeof names);
        return fail_with(EXIT_NOT_FOUND, "%s has no entry named %s (entries: %s)", dir, c->name,
                         count > 0 ? names : "none");
    }
    if (count == 0 || rr_index_child_count(layout) == 0) {
        return fail_with(EXIT_FAILED, "%s is an OCI layout without any image", dir);
    }
    if (count > 1) {
        entry_names(entries, count, names, sizeof names);
        return fail_with(EXIT_USAGE, "%s holds %zu entries (%s): pick one with --name NAME", dir,
                         count, names);
    }
    *pick = child_with_digest(layout, entries[0].digest);
    if (*pick == SIZE_MAX) {
        *pick = 0;
    }
    return EXIT_SUCCESS;
}

/* Pushes child `i` of the layout: an image, or an index (whole, or one platform's image). */
static int push_child(struct cli *c, rr_client *client, const rr_index *layout, size_t i,
                      const char *ref) {
    struct step s;
    rr_status rc;
    rr_image *img = NULL;
    rr_index *idx = NULL;
    int status = EXIT_SUCCESS;
    if (!is_index_media_type(rr_index_child_media_type(layout, i))) {
        rc = rr_index_child_image(layout, i, &img);
        if (rc != RR_OK) {
            return report(rc);
        }
    } else {
        rc = rr_index_child_index(layout, i, &idx);
        if (rc != RR_OK) {
            return report(rc);
        }
        if (c->platform == NULL) {
            transfer_begin(&s, c, "push", "push the index %s (%zu children) to %s",
                           rr_index_digest(idx), rr_index_child_count(idx), ref);
            status = transfer_end(&s, c, rr_write_index(client, ref, idx));
            if (status == EXIT_SUCCESS) {
                print_line(rr_index_digest(idx));
            }
            rr_index_free(idx);
            return status;
        }
        step_begin(&s, c, "resolve the index for %s", c->platform);
        status = step_end(&s, rr_index_image_for_platform(idx, c->platform, &img));
        rr_index_free(idx);
        if (status != EXIT_SUCCESS) {
            return status;
        }
    }
    transfer_begin(&s, c, "push", "push the image %s to %s", rr_image_digest(img), ref);
    status = transfer_end(&s, c, rr_write(client, ref, img));
    if (status == EXIT_SUCCESS) {
        print_line(rr_image_digest(img));
    }
    rr_image_free(img);
    return status;
}

static int run_push(struct cli *c, rr_client *client) {
    const char *dir = c->args[0];
    const char *ref = c->args[1];
    struct stat st;
    if (stat(dir, &st) != 0) {
        return fail_with(EXIT_FAILED, "%s: %s", dir, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) {
        return fail_with(EXIT_FAILED, "%s is not a directory (an OCI layout is)", dir);
    }
    struct step s;
    rr_index *layout = NULL;
    step_begin(&s, c, "read the OCI layout %s", dir);
    int status = step_end(&s, rr_layout_read_index(dir, &layout));
    if (status != EXIT_SUCCESS) {
        return status;
    }
    struct layout_entry *entries = NULL;
    size_t count = 0;
    size_t pick = SIZE_MAX;
    if (!read_entries(dir, &entries, &count)) {
        status = EXIT_FAILED;
    } else {
        status = pick_child(c, dir, layout, entries, count, &pick);
    }
    if (status == EXIT_SUCCESS) {
        status = push_child(c, client, layout, pick, ref);
    }
    layout_entries_free(entries, count);
    rr_index_free(layout);
    return status;
}

const struct command cmd_push = {
    .name = "push",
    .run = run_push,
    .min_args = 2,
    .max_args = 2,
    .options = OPT_NAME,
    .auth_args = ARG1,
    .transfer = true,
    .synopsis = "push [--name NAME] DIR REF",
    .summary = "push an image or an index from an OCI layout",
    .help = "Pushes an entry of the OCI image layout DIR to REF (which names a tag or a\n"
            "digest) and prints its digest. The entry is the one named NAME, or the only\n"
            "one. An entry that is an index is pushed whole (every child first), or with\n"
            "--platform only that platform's image.\n"
            "\n"
            "  --name NAME  the entry whose org.opencontainers.image.ref.name is NAME\n"
            "\n"
            "  rr push ./app-layout localhost:5000/demo/app:v2\n",
};
