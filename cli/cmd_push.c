/*
 * rr push [--name NAME] DIR REF: an entry of an OCI layout (an image, a whole
 * index, or one platform's image of it) to a registry.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

/* The name of entry `i` of the layout's index.json, or NULL. */
static const char *entry_name(const rr_index *layout, size_t i) {
    return rr_index_child_annotation(layout, i, "org.opencontainers.image.ref.name");
}

/* "v1, v2, (unnamed)" into buf. */
static void entry_names(const rr_index *layout, char *buf, size_t cap) {
    buf[0] = '\0';
    size_t count = rr_index_child_count(layout);
    for (size_t i = 0; i < count; i++) {
        size_t used = strlen(buf);
        const char *name = entry_name(layout, i);
        snprintf(buf + used, cap - used, "%s%s", i > 0 ? ", " : "",
                 name != NULL ? name : "(unnamed)");
    }
}

/* The child to push: the entry named --name, else the only one. Returns an exit status. */
static int pick_child(const struct cli *c, const char *dir, const rr_index *layout,
                      size_t *pick) {
    char names[1024];
    size_t count = rr_index_child_count(layout);
    if (c->name != NULL) {
        for (size_t i = 0; i < count; i++) {
            const char *name = entry_name(layout, i);
            if (name != NULL && strcmp(name, c->name) == 0) {
                *pick = i;
                return EXIT_SUCCESS;
            }
        }
        entry_names(layout, names, sizeof names);
        return fail_with(EXIT_NOT_FOUND, "%s has no entry named %s (entries: %s)", dir, c->name,
                         count > 0 ? names : "none");
    }
    if (count == 0) {
        return fail_with(EXIT_FAILED, "%s is an OCI layout without any image", dir);
    }
    if (count > 1) {
        entry_names(layout, names, sizeof names);
        return fail_with(EXIT_USAGE, "%s holds %zu entries (%s): pick one with --name NAME", dir,
                         count, names);
    }
    *pick = 0;
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
    if (rr_media_type_kind(rr_index_child_media_type(layout, i)) != RR_MANIFEST_INDEX) {
        rc = rr_index_child_image(layout, i, &img);
        if (rc != RR_OK) {
            return report(rc);
        }
    } else {
        rc = rr_index_child_index(layout, i, &idx);
        if (rc != RR_OK) {
            return report(rc);
        }
        if (!platform_given(c)) {
            transfer_begin(&s, c, "push", "push the index %s (%zu children) to %s",
                           rr_index_digest(idx), rr_index_child_count(idx), ref);
            status = transfer_end(&s, c, rr_write_index(client, ref, idx));
            if (status == EXIT_SUCCESS) {
                print_line(rr_index_digest(idx));
            }
            rr_index_free(idx);
            return status;
        }
        step_begin(&s, c, "resolve the index for %s", platform_label(c));
        status = step_end(&s, index_image_for_platform(c, idx, &img));
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
    size_t pick = 0;
    status = pick_child(c, dir, layout, &pick);
    if (status == EXIT_SUCCESS) {
        status = push_child(c, client, layout, pick, ref);
    }
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
