/*
 * rr copy SRC DST, rr tag REF TAG and rr delete REF: changes within and
 * between registries.
 */
#include "cli.h"

static int run_copy(struct cli *c, rr_client *client) {
    const char *src = c->args[0];
    const char *dst = c->args[1];
    struct step s;
    int status;
    if (c->referrers && platform_given(c)) {
        return usage_error(c, "copy: --referrers copies the whole of SRC; it takes no "
                              "--platform");
    }
    if (platform_given(c)) {
        /* One platform's image only (an index resolves to it). */
        rr_image *img = NULL;
        step_begin(&s, c, "open %s for %s", src, platform_label(c));
        status = step_end(&s, rr_image_open(client, src, &img));
        if (status == EXIT_SUCCESS) {
            status = push_image(c, client, img, dst, "copy");
        }
        rr_image_free(img);
        return status;
    }
    transfer_begin(&s, c, "copy", "copy %s%s to %s", src,
                   c->referrers ? " and everything attached to it" : "", dst);
    if (!c->referrers) {
        /* The digest comes with the copy: no HEAD of the destination afterwards. */
        char digest[RR_DIGEST_SIZE];
        status = transfer_end(&s, c, rr_copy_digest(client, src, dst, digest, sizeof digest));
        if (status == EXIT_SUCCESS) {
            print_line(digest);
        }
        return status;
    }
    status = transfer_end(&s, c, rr_copy_with_referrers(client, src, dst));
    if (status != EXIT_SUCCESS) {
        return status;
    }
    rr_descriptor *desc = NULL;
    step_begin(&s, c, "head %s", dst);
    status = step_end(&s, rr_head(client, dst, &desc));
    if (status == EXIT_SUCCESS) {
        print_line(rr_descriptor_digest(desc));
    }
    rr_descriptor_free(desc);
    return status;
}

static int run_tag(struct cli *c, rr_client *client) {
    struct step s;
    step_begin(&s, c, "tag %s as %s", c->args[0], c->args[1]);
    return step_end(&s, rr_tag(client, c->args[0], c->args[1]));
}

static int run_delete(struct cli *c, rr_client *client) {
    struct step s;
    step_begin(&s, c, "delete %s", c->args[0]);
    return step_end(&s, rr_delete(client, c->args[0]));
}

const struct command cmd_copy = {
    .name = "copy",
    .run = run_copy,
    .min_args = 2,
    .max_args = 2,
    .options = OPT_REFERRERS,
    .auth_args = ARG0 | ARG1,
    .transfer = true,
    .synopsis = "copy [--referrers] SRC DST",
    .summary = "copy an image or a whole index",
    .help = "Copies the image or the whole index SRC names to DST (a tag or a digest),\n"
            "digests preserved, and prints DST's digest. Within one registry every blob is\n"
            "mounted (`rr -v copy` shows the mount requests). With --platform only that\n"
            "platform's image is copied.\n"
            "\n"
            "With --referrers every referrer of SRC (signatures, SBOMs, attestations), of an\n"
            "index's children, and of those referrers in turn, is copied too, under its\n"
            "digest, into DST's repository (listed under the fallback tag there when the\n"
            "registry has no referrers API).\n"
            "\n"
            "  rr copy localhost:5000/demo/app:v1 localhost:5000/mirror/app:v1\n"
            "  rr copy --referrers localhost:5000/demo/app:v1 mirror.example:5000/app:v1\n",
};

const struct command cmd_tag = {
    .name = "tag",
    .run = run_tag,
    .min_args = 2,
    .max_args = 2,
    .auth_args = ARG0,
    .synopsis = "tag REF TAG",
    .summary = "tag a manifest again in its repository",
    .help = "Tags the manifest REF names with TAG (a bare tag such as v2) in the same\n"
            "repository. Prints nothing.\n"
            "\n"
            "  rr tag localhost:5000/demo/app:v1 stable\n",
};

const struct command cmd_delete = {
    .name = "delete",
    .run = run_delete,
    .min_args = 1,
    .max_args = 1,
    .auth_args = ARG0,
    .synopsis = "delete REF",
    .summary = "delete a manifest or a tag",
    .help = "Deletes the manifest REF names when REF is a digest reference (the registry\n"
            "then drops every tag on it), or only the tag when REF names a tag. Registries\n"
            "that cannot delete tags (distribution 2.8) or have deletion disabled refuse:\n"
            "exit 4, RR_ERR_UNSUPPORTED. Prints nothing.\n"
            "\n"
            "  rr delete localhost:5000/demo/app@sha256:...\n",
};
