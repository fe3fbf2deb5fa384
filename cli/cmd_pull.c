/*
 * rr pull [--all] [--oci] [--name NAME] REF DIR: an image, or a whole index,
 * into an OCI layout, optionally converted to OCI media types.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* What pull writes (idx or img), and with --oci what the registry has, for its digest. */
struct pulled {
    rr_index *idx;
    rr_image *img;
    rr_index *docker_idx;
    rr_image *docker_img;
};

/* --all of an index: the index and every child. */
static int pull_index(struct cli *c, rr_client *client, const rr_descriptor *desc,
                      const char *dir, const char *name, struct pulled *p) {
    struct step s;
    rr_status rc = rr_descriptor_index(desc, &p->idx);
    if (rc != RR_OK) {
        return report(rc);
    }
    if (c->oci) {
        p->docker_idx = p->idx;
        p->idx = NULL;
        step_begin(&s, c, "convert the index %s to OCI media types",
                   rr_index_digest(p->docker_idx));
        int status = step_end(&s, rr_index_to_oci(p->docker_idx, &p->idx));
        if (status != EXIT_SUCCESS) {
            return status;
        }
    }
    transfer_begin(&s, c, "pull", "write the index %s (%zu children) into %s",
                   rr_index_digest(p->idx), rr_index_child_count(p->idx), dir);
    int status = transfer_end(&s, c, rr_layout_write_index(client, dir, p->idx, name));
    if (status == EXIT_SUCCESS) {
        print_line(rr_index_digest(p->idx));
    }
    return status;
}

/* An image, or the image an index resolves to for --platform. */
static int pull_image(struct cli *c, rr_client *client, const rr_descriptor *desc, bool index,
                      const char *dir, const char *name, struct pulled *p) {
    struct step s;
    if (index) {
        step_begin(&s, c, "resolve the index for %s", platform_label(c));
    } else {
        step_begin(&s, c, "open the image");
    }
    int status = step_end(&s, rr_descriptor_image(desc, &p->img));
    if (status != EXIT_SUCCESS) {
        return status;
    }
    if (c->oci) {
        p->docker_img = p->img;
        p->img = NULL;
        step_begin(&s, c, "convert the image %s to OCI media types",
                   rr_image_digest(p->docker_img));
        status = step_end(&s, rr_image_to_oci(p->docker_img, &p->img));
        if (status != EXIT_SUCCESS) {
            return status;
        }
    }
    transfer_begin(&s, c, "pull", "write the image %s into %s", rr_image_digest(p->img), dir);
    status = transfer_end(&s, c, rr_layout_write_image(client, dir, p->img, name));
    if (status == EXIT_SUCCESS) {
        print_line(rr_image_digest(p->img));
    }
    return status;
}

/* pull --artifact: the artifact's titled files into DIR, under their titles. */
static int pull_artifact_files(struct cli *c, rr_client *client, const char *ref,
                               const char *dir) {
    if (c->all || c->oci || c->name != NULL) {
        return usage_error(c, "pull: --artifact saves files, not a layout: it takes no "
                              "--all, --oci or --name");
    }
    struct step s;
    rr_image *img = NULL;
    step_begin(&s, c, "open the artifact %s", ref);
    int status = step_end(&s, rr_image_open(client, ref, &img));
    if (status != EXIT_SUCCESS) {
        return status;
    }
    size_t files = 0;
    transfer_begin(&s, c, "pull", "save the files of %s into %s", rr_image_digest(img), dir);
    status = transfer_end(&s, c, rr_image_save_files(img, dir, &files));
    if (status == EXIT_SUCCESS) {
        size_t untitled = rr_image_layer_count(img) - files;
        for (size_t i = 0; i < rr_image_layer_count(img); i++) {
            const char *title =
                rr_image_layer_annotation(img, i, "org.opencontainers.image.title");
            if (title != NULL) {
                print_line(title);
            }
        }
        if (untitled > 0) {
            note(c, "%zu layer%s without a title (org.opencontainers.image.title) not saved",
                 untitled, untitled == 1 ? "" : "s");
        }
        if (files == 0) {
            note(c, "%s has no titled files", ref);
        }
    }
    rr_image_free(img);
    return status;
}

static int run_pull(struct cli *c, rr_client *client) {
    const char *ref = c->args[0];
    const char *dir = c->args[1];
    if (c->artifact) {
        return pull_artifact_files(c, client, ref, dir);
    }
    char *normalized = NULL;
    rr_status rc = normalize(ref, &normalized);
    if (rc != RR_OK) {
        return report(rc);
    }
    /* The entry's name: --name, else the reference's tag (none for a digest). */
    char *default_name = c->name == NULL ? tag_of(normalized) : NULL;
    const char *name = c->name != NULL ? c->name : default_name;
    free(normalized);

    struct step s;
    rr_descriptor *desc = NULL;
    struct pulled p = {0};
    step_begin(&s, c, "get the manifest of %s", ref);
    int status = step_end(&s, rr_get(client, ref, &desc));
    if (status != EXIT_SUCCESS) {
        goto out;
    }
    bool index = rr_media_type_kind(rr_descriptor_media_type(desc)) == RR_MANIFEST_INDEX;
    if (c->all && !index) {
        note(c, "%s is an image, not an index: pulling the image", ref);
    }
    status = c->all && index ? pull_index(c, client, desc, dir, name, &p)
                             : pull_image(c, client, desc, index, dir, name, &p);
    if (status != EXIT_SUCCESS) {
        goto out;
    }
    if (c->oci) {
        const char *before =
            p.docker_idx != NULL ? rr_index_digest(p.docker_idx) : rr_image_digest(p.docker_img);
        const char *after = p.idx != NULL ? rr_index_digest(p.idx) : rr_image_digest(p.img);
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
    rr_image_free(p.img);
    rr_index_free(p.idx);
    rr_image_free(p.docker_img);
    rr_index_free(p.docker_idx);
    rr_descriptor_free(desc);
    free(default_name);
    return status;
}

const struct command cmd_pull = {
    .name = "pull",
    .run = run_pull,
    .min_args = 2,
    .max_args = 2,
    .options = OPT_ALL | OPT_NAME | OPT_OCI | OPT_ARTIFACT,
    .auth_args = ARG0,
    .transfer = true,
    .synopsis = "pull [--all] [--oci] [--name NAME] [--artifact] REF DIR",
    .summary = "save an image or an index into an OCI layout, or an artifact's files",
    .help = "Writes the image REF names into the OCI image layout DIR (created when\n"
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
            "With --artifact the files of the artifact REF names are saved into DIR instead,\n"
            "each under its title (org.opencontainers.image.title, as oras and rr attach\n"
            "write it), verified, and their names printed. A title that is not a bare file\n"
            "name (with / or \\, . or .., a NUL, or empty) is refused and nothing is\n"
            "written; files are renamed into place only once all are verified.\n"
            "\n"
            "  --all        write the whole index, every platform\n"
            "  --oci        convert Docker media types to OCI ones (OCI content is unchanged)\n"
            "  --name NAME  the entry's org.opencontainers.image.ref.name\n"
            "  --artifact   save the artifact's files under their titles instead\n"
            "\n"
            "  rr pull localhost:5000/demo/app:v1 ./app-layout\n"
            "  rr pull --oci localhost:5000/docker/app:v1 ./app   # skopeo: oci:./app:v1\n"
            "  rr pull --artifact localhost:5000/demo/app@sha256:... ./sbom\n",
};
