/*
 * rr digest, rr manifest and rr config: what a reference names, printed
 * exactly (a digest line, or the stored bytes).
 */
#include <stdlib.h>

#include "cli.h"

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
    int status = step_end(&s, rr_get(client, reference, &desc));
    if (status != EXIT_SUCCESS) {
        return status;
    }
    if (platform_given(c) && rr_media_type_kind(rr_descriptor_media_type(desc)) == RR_MANIFEST_INDEX) {
        step_begin(&s, c, "resolve the index for %s", platform_label(c));
        status = step_end(&s, rr_descriptor_image(desc, img));
        if (status != EXIT_SUCCESS) {
            rr_descriptor_free(desc);
            return status;
        }
    }
    *desc_out = desc;
    return EXIT_SUCCESS;
}

static int run_digest(struct cli *c, rr_client *client) {
    const char *ref = c->args[0];
    struct step s;
    rr_descriptor *desc = NULL;
    rr_image *img = NULL;
    int status;
    if (!platform_given(c)) {
        /* A HEAD is enough: the digest of what the reference names. */
        step_begin(&s, c, "head %s", ref);
        status = step_end(&s, rr_head(client, ref, &desc));
    } else {
        status = get_resolved(c, client, ref, &desc, &img);
    }
    if (status == EXIT_SUCCESS) {
        print_line(img != NULL ? rr_image_digest(img) : rr_descriptor_digest(desc));
    }
    rr_image_free(img);
    rr_descriptor_free(desc);
    return status;
}

static int run_manifest(struct cli *c, rr_client *client) {
    rr_descriptor *desc = NULL;
    rr_image *img = NULL;
    int status = get_resolved(c, client, c->args[0], &desc, &img);
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

static int run_config(struct cli *c, rr_client *client) {
    const char *ref = c->args[0];
    struct step s;
    rr_image *img = NULL;
    step_begin(&s, c, "open the image %s", ref);
    int status = step_end(&s, rr_image_open(client, ref, &img));
    if (status != EXIT_SUCCESS) {
        return status;
    }
    const uint8_t *bytes = NULL;
    size_t len = 0;
    step_begin(&s, c, "fetch the config of %s", rr_image_digest(img));
    status = step_end(&s, rr_image_config(img, &bytes, &len));
    if (status == EXIT_SUCCESS && !write_stdout(bytes, len)) {
        status = EXIT_FAILED;
    }
    rr_image_free(img);
    return status;
}

const struct command cmd_digest = {
    .name = "digest",
    .run = run_digest,
    .min_args = 1,
    .max_args = 1,
    .auth_args = ARG0,
    .synopsis = "digest REF",
    .summary = "print the digest a reference names",
    .help = "Prints the digest of the manifest REF names (a HEAD request). With --platform,\n"
            "an index resolves to that platform's image and its digest is printed.\n"
            "\n"
            "  rr digest localhost:5000/demo/app:v1\n"
            "  rr digest --platform linux/arm64 localhost:5000/demo/multi:v1\n",
};

const struct command cmd_manifest = {
    .name = "manifest",
    .run = run_manifest,
    .min_args = 1,
    .max_args = 1,
    .auth_args = ARG0,
    .synopsis = "manifest REF",
    .summary = "print a manifest, byte for byte",
    .help = "Prints the manifest (image or index) REF names exactly as the registry\n"
            "stores it, without a newline added: `rr manifest REF | sha256sum` gives its\n"
            "digest. With --platform, an index resolves to that platform's image manifest.\n",
};

const struct command cmd_config = {
    .name = "config",
    .run = run_config,
    .min_args = 1,
    .max_args = 1,
    .auth_args = ARG0,
    .synopsis = "config REF",
    .summary = "print an image's config, byte for byte",
    .help = "Prints the config blob of the image REF names (an index resolves by --platform,\n"
            "default linux/amd64), verified against its digest, exactly as stored.\n",
};
