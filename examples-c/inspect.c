/*
 * inspect: open what a reference names and walk it with librr's read API.
 *
 *   inspect [--platform os/arch[/variant][:os.version]] [--insecure HOST]
 *           [-u USER -p PASS] [--no-keychain] REFERENCE
 *
 * rr_get fetches the manifest as a descriptor (digest, media type, size);
 * rr_media_type_kind says whether it is an index. An index lists its
 * children with their size, platform fields and annotations, and resolves
 * to the image for --platform (rr_index_image_for_platform; default
 * linux/amd64); an image shows its config's descriptor, its size, its
 * annotations and its layers. Every field comes from a getter: the program
 * reads no JSON.
 *
 *   digest: sha256:...          media-type: ...          size: N
 *   children: 3                 child I: DIGEST MEDIA-TYPE PLATFORM
 *     size: N  os.version: V  os.features: A,B  artifact-type: T
 *     annotation KEY: VALUE
 *   platform: linux/amd64       selected: child I DIGEST PLATFORM
 *   image:  digest, media-type, artifact-type, annotation KEY: VALUE
 *   config: digest, media-type, size        total-size: N     layers: N
 *   layer I: DIGEST MEDIA-TYPE SIZE         (then its artifact-type, annotations)
 *
 * The artifact-type, os.version, os.features and annotation lines appear
 * only when the manifest has them. The exact bytes of a manifest or config,
 * tags and layouts are the rr tool's business (cli/: rr manifest, rr config,
 * rr ls, rr pull).
 * Exit status: 0, 2 not found, 3 unauthorized or denied, 1 other, 64 usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "rr.h"

static const char usage[] =
    "usage: inspect [--platform os/arch[/variant][:os.version]] [--insecure HOST]\n"
    "               [-u USER -p PASS] [--no-keychain] REFERENCE\n";

static const char *or_dash(const char *s) {
    return s != NULL ? s : "-";
}

/* "indent name: value" when the value is there. */
static void print_optional(const char *indent, const char *name, const char *value) {
    if (value != NULL) {
        printf("%s%s: %s\n", indent, name, value);
    }
}

/* An image: its digest, media type and annotations, its config's descriptor, its layers. */
static void print_image(const rr_image *img) {
    printf("image:\n");
    printf("  digest: %s\n", or_dash(rr_image_digest(img)));
    printf("  media-type: %s\n", or_dash(rr_image_media_type(img)));
    print_optional("  ", "artifact-type", rr_image_artifact_type(img));
    for (size_t j = 0; j < rr_image_annotation_count(img); j++) {
        printf("  annotation %s: %s\n", or_dash(rr_image_annotation_key(img, j)),
               or_dash(rr_image_annotation_value(img, j)));
    }
    /* What the manifest says of the config; rr_image_config would fetch and verify it. */
    printf("config:\n");
    printf("  digest: %s\n", or_dash(rr_image_config_digest(img)));
    printf("  media-type: %s\n", or_dash(rr_image_config_media_type(img)));
    printf("  size: %" PRIu64 "\n", rr_image_config_size(img));
    printf("total-size: %" PRIu64 "\n", rr_image_total_size(img));
    size_t layers = rr_image_layer_count(img);
    printf("layers: %zu\n", layers);
    for (size_t i = 0; i < layers; i++) {
        printf("layer %zu: %s %s %" PRIu64 "\n", i, or_dash(rr_image_layer_digest(img, i)),
               or_dash(rr_image_layer_media_type(img, i)), rr_image_layer_size(img, i));
        print_optional("  ", "artifact-type", rr_image_layer_artifact_type(img, i));
        for (size_t j = 0; j < rr_image_layer_annotation_count(img, i); j++) {
            printf("  annotation %s: %s\n", or_dash(rr_image_layer_annotation_key(img, i, j)),
                   or_dash(rr_image_layer_annotation_value(img, i, j)));
        }
    }
}

/* Child i of an index: its line, then what else its entry says. */
static void print_child(const rr_index *idx, size_t i) {
    printf("child %zu: %s %s %s\n", i, or_dash(rr_index_child_digest(idx, i)),
           or_dash(rr_index_child_media_type(idx, i)), or_dash(rr_index_child_platform(idx, i)));
    printf("  size: %" PRIu64 "\n", rr_index_child_size(idx, i));
    print_optional("  ", "os.version", rr_index_child_os_version(idx, i));
    size_t features = rr_index_child_os_feature_count(idx, i);
    if (features > 0) {
        printf("  os.features:");
        for (size_t j = 0; j < features; j++) {
            printf("%s%s", j == 0 ? " " : ",", or_dash(rr_index_child_os_feature(idx, i, j)));
        }
        printf("\n");
    }
    print_optional("  ", "artifact-type", rr_index_child_artifact_type(idx, i));
    for (size_t j = 0; j < rr_index_child_annotation_count(idx, i); j++) {
        printf("  annotation %s: %s\n", or_dash(rr_index_child_annotation_key(idx, i, j)),
               or_dash(rr_index_child_annotation_value(idx, i, j)));
    }
}

/* An index: its children, then the image it resolves to for `platform`. */
static int print_index(const rr_descriptor *desc, const char *platform) {
    rr_index *idx = NULL;
    rr_status rc = rr_descriptor_index(desc, &idx);
    if (rc != RR_OK) {
        return report(rc);
    }
    print_optional("", "artifact-type", rr_index_artifact_type(idx));
    for (size_t j = 0; j < rr_index_annotation_count(idx); j++) {
        printf("annotation %s: %s\n", or_dash(rr_index_annotation_key(idx, j)),
               or_dash(rr_index_annotation_value(idx, j)));
    }
    size_t children = rr_index_child_count(idx);
    printf("children: %zu\n", children);
    for (size_t i = 0; i < children; i++) {
        print_child(idx, i);
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
        print_image(img); /* the image keeps what it needs: idx may go first */
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
        if (rr_media_type_kind(media_type) == RR_MANIFEST_INDEX) {
            status = print_index(desc, platform);
        } else {
            rr_image *img = NULL;
            rc = rr_descriptor_image(desc, &img);
            if (rc == RR_OK) {
                print_image(img);
            } else {
                status = report(rc);
            }
            rr_image_free(img);
        }
    }
    rr_descriptor_free(desc);
    rr_client_free(client);
    return status;
}
