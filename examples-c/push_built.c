/*
 * push_built: build an image from layer files with librr and push it.
 *
 *   push_built [--platform os/arch[/variant]] [-j N] [-q] [--insecure HOST]
 *              [-u USER -p PASS] [--no-keychain] REFERENCE LAYER...
 *
 * Each LAYER is a tar, tar+gzip or tar+zstd file, stored as it is: its media
 * type is detected from its content and its digest is the file's sha256. The
 * builder writes the config (for --platform, default linux/amd64; rootfs
 * diff_ids, history) and the manifest; the same inputs give the same digest.
 * rr_write then pushes what the registry lacks, `progress: COMPLETE/TOTAL` on
 * stderr while it does, and the manifest last; REFERENCE must name a tag or a
 * digest. Prints `digest: sha256:...` and `layers: N`.
 *
 * A base config (rr_image_builder_set_config), a base image
 * (rr_image_builder_set_base) and OCI layouts are shown by the rr tool
 * (cli/cmd_build.c: rr build --config, rr append; cli/cmd_pull.c).
 * Exit status: 0, 2 not found, 3 unauthorized or denied, 1 other, 64 usage.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "rr.h"

static const char usage[] =
    "usage: push_built [--platform os/arch[/variant]] [-j N] [-q] [--insecure HOST]\n"
    "                  [-u USER -p PASS] [--no-keychain] REFERENCE LAYER...\n";

/* Builds the image from the layer files into *out; returns an exit status. */
static int build_image(const char *platform, char **layers, int count, rr_image **out) {
    rr_image_builder *builder = NULL;
    rr_status rc = rr_image_builder_new(&builder);
    if (rc == RR_OK && platform != NULL) {
        rc = rr_image_builder_set_platform(builder, platform);
    }
    for (int i = 0; rc == RR_OK && i < count; i++) {
        /* NULL media type: detected from the content (tar, gzip or zstd). */
        rc = rr_image_builder_add_layer_file(builder, layers[i], NULL);
    }
    if (rc == RR_OK) {
        rc = rr_image_builder_build(builder, out);
    }
    int status = rc == RR_OK ? EXIT_SUCCESS : report(rc);
    rr_image_builder_free(builder); /* the built image does not need it */
    return status;
}

int main(int argc, char **argv) {
    example_init("push_built", usage);
    struct common_options o = {0};
    const char *platform = NULL;
    int i = 1;
    for (; i < argc; i++) {
        if (common_option(&o, argc, argv, &i) ||
            option_value(argc, argv, &i, "--platform", &platform)) {
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            usage_error("unknown option %s", argv[i]);
        }
        break; /* the reference: options end here */
    }
    if (i >= argc) {
        usage_error("no reference given");
    }
    const char *reference = argv[i++];
    if (i >= argc) {
        usage_error("no layer file given");
    }
    common_options_check(&o);

    rr_image *img = NULL;
    int status = build_image(platform, &argv[i], argc - i, &img);
    if (status != EXIT_SUCCESS) {
        return status;
    }
    rr_client *client = NULL;
    struct progress_lines progress = {.quiet = o.quiet};
    status = common_client(&o, &client);
    if (status == EXIT_SUCCESS) {
        rr_status rc = rr_client_set_progress_callback(client, print_progress, &progress);
        if (rc == RR_OK) {
            /* HEAD, mount or upload each blob (jobs at a time), then the manifest. */
            rc = rr_write(client, reference, img);
        }
        if (rc != RR_OK) {
            status = report(rc);
        } else {
            printf("digest: %s\n", rr_image_digest(img));
            printf("layers: %zu\n", rr_image_layer_count(img));
        }
    }
    rr_client_free(client);
    rr_image_free(img);
    return status;
}
