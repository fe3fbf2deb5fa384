/*
 * rr build [--config FILE] REF LAYER... and rr append BASE REF LAYER...:
 * images made from layer files (on a base image for append), pushed.
 */
#include <stdlib.h>

#include "cli.h"

int push_image(struct cli *c, rr_client *client, const rr_image *img, const char *ref,
               const char *label) {
    struct step s;
    transfer_begin(&s, c, label, "push the image %s (%zu layers) to %s", rr_image_digest(img),
                   rr_image_layer_count(img), ref);
    int status = transfer_end(&s, c, rr_write(client, ref, img));
    if (status == EXIT_SUCCESS) {
        print_line(rr_image_digest(img));
    }
    return status;
}

/* Adds the layer files to `b`, builds the image and pushes it to `ref`; an exit status. */
static int add_build_push(struct cli *c, rr_client *client, rr_image_builder *b,
                          const char *const *paths, int n, const char *ref, const char *label) {
    struct step s;
    int status = EXIT_SUCCESS;
    for (int i = 0; status == EXIT_SUCCESS && i < n; i++) {
        if (interrupted) {
            return fail_with(EXIT_INTERRUPTED, "interrupted");
        }
        step_begin(&s, c, "add the layer file %s", paths[i]);
        /* NULL media type: detected from the content (tar, gzip or zstd). */
        status = step_end(&s, rr_image_builder_add_layer_file(b, paths[i], NULL));
    }
    if (status != EXIT_SUCCESS) {
        return status;
    }
    rr_image *img = NULL;
    step_begin(&s, c, "build the image");
    status = step_end(&s, rr_image_builder_build(b, &img));
    if (status == EXIT_SUCCESS) {
        status = push_image(c, client, img, ref, label);
    }
    rr_image_free(img);
    return status;
}

/* Checks, before any layer is read, that `ref` can be written to; an exit status. */
static int check_target(const char *ref) {
    char *normalized = NULL;
    rr_status rc = normalize(ref, &normalized);
    free(normalized);
    return rc == RR_OK ? EXIT_SUCCESS : report(rc);
}

/* Sets --platform on the builder, when given; an exit status. */
static int set_platform(const struct cli *c, rr_image_builder *b) {
    rr_status rc = c->platform != NULL ? rr_image_builder_set_platform(b, c->platform) : RR_OK;
    return rc == RR_OK ? EXIT_SUCCESS : report(rc);
}

/* Sets the --config file as the builder's base config, when given; an exit status. */
static int set_config(const struct cli *c, rr_image_builder *b) {
    if (c->config_file == NULL) {
        return EXIT_SUCCESS;
    }
    uint8_t *json = NULL;
    size_t len = 0;
    if (!read_small_file(c->config_file, &json, &len)) {
        return EXIT_FAILED;
    }
    rr_status rc = rr_image_builder_set_config(b, json, len);
    free(json);
    return rc == RR_OK ? EXIT_SUCCESS : report(rc);
}

static int run_build(struct cli *c, rr_client *client) {
    const char *ref = c->args[0];
    int status = check_target(ref);
    if (status != EXIT_SUCCESS) {
        return status;
    }
    rr_image_builder *b = NULL;
    rr_status rc = rr_image_builder_new(&b);
    if (rc != RR_OK) {
        return report(rc);
    }
    status = set_platform(c, b);
    if (status == EXIT_SUCCESS) {
        status = set_config(c, b);
    }
    if (status == EXIT_SUCCESS) {
        status = add_build_push(c, client, b, c->args + 1, c->nargs - 1, ref, "build");
    }
    rr_image_builder_free(b);
    return status;
}

/*
 * append BASE NEWREF LAYER...: the builder starts from BASE (its config, history and
 * layers, which stay where BASE keeps them: pushed to another repository of the same
 * registry they are mounted, not transferred) and adds the layer files on top.
 */
static int run_append(struct cli *c, rr_client *client) {
    const char *base_ref = c->args[0];
    const char *ref = c->args[1];
    int status = check_target(ref);
    if (status != EXIT_SUCCESS) {
        return status;
    }
    struct step s;
    rr_image *base = NULL;
    rr_image_builder *b = NULL;
    step_begin(&s, c, "open the base image %s", base_ref);
    status = step_end(&s, rr_image_open(client, base_ref, &base));
    if (status != EXIT_SUCCESS) {
        return status;
    }
    rr_status rc = rr_image_builder_new(&b);
    if (rc != RR_OK) {
        status = report(rc);
    } else {
        step_begin(&s, c, "start from %s (%zu layers)", rr_image_digest(base),
                   rr_image_layer_count(base));
        status = step_end(&s, rr_image_builder_set_base(b, base));
    }
    if (status == EXIT_SUCCESS) {
        status = set_platform(c, b);
    }
    if (status == EXIT_SUCCESS) {
        status = add_build_push(c, client, b, c->args + 2, c->nargs - 2, ref, "append");
    }
    rr_image_builder_free(b);
    rr_image_free(base);
    return status;
}

const struct command cmd_build = {
    .name = "build",
    .run = run_build,
    .min_args = 2,
    .max_args = -1,
    .options = OPT_CONFIG,
    .auth_args = ARG0,
    .transfer = true,
    .synopsis = "build [--config FILE] REF LAYER...",
    .summary = "build an image from layer files and push it",
    .help = "Builds an OCI image from LAYER files (tar, tar+gzip or tar+zstd, stored as they\n"
            "are: each layer's digest is its file's sha256) on the base config FILE (a JSON\n"
            "image config; default {}), for --platform (default: the config's, else\n"
            "linux/amd64), pushes it to REF (which names a tag or a digest) and prints its\n"
            "digest. The same inputs give the same digest (created: SOURCE_DATE_EPOCH, else\n"
            "1970-01-01).\n"
            "\n"
            "  --config FILE  the base config\n"
            "\n"
            "  rr build --config config.json localhost:5000/demo/hello:v1 base.tar app.tgz\n",
};

const struct command cmd_append = {
    .name = "append",
    .run = run_append,
    .min_args = 3,
    .max_args = -1,
    .auth_args = ARG0 | ARG1,
    .transfer = true,
    .synopsis = "append BASE REF LAYER...",
    .summary = "add layer files on top of an image, push it",
    .help = "Builds an image from BASE's config and layers followed by the LAYER files,\n"
            "pushes it to REF and prints its digest. An index BASE resolves by --platform.\n"
            "BASE's layers are not downloaded: pushed within BASE's registry they are\n"
            "mounted, elsewhere they stream from BASE's registry. The config keeps\n"
            "BASE's, history and diff_ids included, with one history entry per new layer.\n"
            "\n"
            "  rr append localhost:5000/demo/app:v1 localhost:5000/demo/app:v2 extra.tar\n",
};
