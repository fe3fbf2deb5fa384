/*
 * inspect: open what a reference names and walk it with librr's read API.
 *
 *   inspect [--platform os/arch[/variant]] [--insecure HOST] [-u USER -p PASS]
 *           [--no-keychain] REFERENCE
 *
 * rr_get fetches the manifest as a descriptor (digest, media type, size). An
 * index lists its children with their platforms and resolves to the image
 * for --platform (rr_index_image_for_platform; default linux/amd64); an
 * image shows its config's size and its layers:
 *
 *   digest: sha256:...          media-type: ...          size: N
 *   children: 3                 child I: DIGEST MEDIA-TYPE PLATFORM
 *   platform: linux/amd64       selected: child I DIGEST PLATFORM
 *   image:  digest, media-type  config:  size      layers: N
 *   layer I: DIGEST MEDIA-TYPE SIZE
 *
 * The exact bytes of a manifest or config, tags and layouts are the rr
 * tool's business (cli/: rr manifest, rr config, rr ls, rr pull).
 * Exit status: 0, 2 not found, 3 unauthorized or denied, 1 other, 64 usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "rr.h"

static const char usage[] =
    "usage: inspect [--platform os/arch[/variant]] [--insecure HOST] [-u USER -p PASS]\n"
    "               [--no-keychain] REFERENCE\n";

static const char *or_dash(const char *s) {
    return s != NULL ? s : "-";
}

static bool is_index_media_type(const char *media_type) {
    return media_type != NULL && (strstr(media_type, "image.index") != NULL ||
                                  strstr(media_type, "manifest.list") != NULL);
}

/* An image: its digest and media type, its config's size, its layers. */
static int print_image(const rr_image *img) {
    printf("image:\n");
    printf("  digest: %s\n", or_dash(rr_image_digest(img)));
    printf("  media-type: %s\n", or_dash(rr_image_media_type(img)));
    const uint8_t *config = NULL;
    size_t len = 0;
    rr_status rc = rr_image_config(img, &config, &len); /* fetched and verified */
    if (rc != RR_OK) {
        return report(rc);
    }
    printf("config:\n  size: %zu\n", len);
    size_t layers = rr_image_layer_count(img);
    printf("layers: %zu\n", layers);
    for (size_t i = 0; i < layers; i++) {
        printf("layer %zu: %s %s %" PRIu64 "\n", i, or_dash(rr_image_layer_digest(img, i)),
               or_dash(rr_image_layer_media_type(img, i)), rr_image_layer_size(img, i));
    }
    return EXIT_SUCCESS;
}

/* An index: its children, then the image it resolves to for `platform`. */
static int print_index(const rr_descriptor *desc, const char *platform) {
    rr_index *idx = NULL;
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
    rr_image *img = NULL;
    rc = rr_index_image_for_platform(idx, platform, &img);
    int status = rc == RR_OK ? EXIT_SUCCESS : report(rc);
    for (size_t i = 0; status == EXIT_SUCCESS && i < children; i++) {
        const char *digest = rr_index_child_digest(idx, i);
        if (digest != NULL && strcmp(digest, rr_image_digest(img)) == 0) {
            printf("selected: child %zu %s %s\n", i, digest,
                   or_dash(rr_index_child_platform(idx, i)));
        }
    }
    if (status == EXIT_SUCCESS) {
        status = print_image(img); /* the image keeps what it needs: idx may go first */
    }
    rr_image_free(img);
    rr_index_free(idx);
    return status;
}

int main(int argc, char **argv) {
    example_init("inspect", usage);
    struct common_options o = {0};
    const char *platform = "linux/amd64";
    const char *reference = NULL;
    for (int i = 1; i < argc; i++) {
        if (common_option(&o, argc, argv, &i) ||
            option_value(argc, argv, &i, "--platform", &platform)) {
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            usage_error("unknown option %s", argv[i]);
        }
        if (reference != NULL) {
            usage_error("unexpected argument %s", argv[i]);
        }
        reference = argv[i];
    }
    if (reference == NULL) {
        usage_error("no reference given");
    }
    common_options_check(&o);

    rr_client *client = NULL;
    int status = common_client(&o, &client);
    if (status != EXIT_SUCCESS) {
        return status;
    }
    rr_descriptor *desc = NULL;
    rr_status rc = rr_get(client, reference, &desc);
    if (rc != RR_OK) {
        status = report(rc);
    } else {
        const char *media_type = rr_descriptor_media_type(desc);
        printf("digest: %s\n", or_dash(rr_descriptor_digest(desc)));
        printf("media-type: %s\n", or_dash(media_type));
        printf("size: %" PRIu64 "\n", rr_descriptor_size(desc));
        if (is_index_media_type(media_type)) {
            status = print_index(desc, platform);
        } else {
            rr_image *img = NULL;
            rc = rr_descriptor_image(desc, &img);
            status = rc == RR_OK ? print_image(img) : report(rc);
            rr_image_free(img);
        }
    }
    rr_descriptor_free(desc);
    rr_client_free(client);
    return status;
}
