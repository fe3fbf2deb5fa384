/*
 * rr put-manifest [--media-type TYPE] REF FILE: a manifest's exact bytes to a
 * registry (rr_put_manifest), nothing else.
 */
#include <stdlib.h>

#include "cli.h"

static int run_put_manifest(struct cli *c, rr_client *client) {
    const char *ref = c->args[0];
    const char *file = c->args[1];
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (!read_small_file(file, &bytes, &len)) {
        return EXIT_FAILED;
    }
    struct step s;
    rr_descriptor *sent = NULL;
    step_begin(&s, c, "put the manifest %s (%zu bytes) as %s", file, len, ref);
    int status = step_end(&s, rr_put_manifest(client, ref, c->media_type, bytes, len, &sent));
    free(bytes);
    if (status == EXIT_SUCCESS) {
        print_line(rr_descriptor_digest(sent));
    }
    rr_descriptor_free(sent);
    return status;
}

const struct command cmd_put_manifest = {
    .name = "put-manifest",
    .run = run_put_manifest,
    .min_args = 2,
    .max_args = 2,
    .options = OPT_MEDIA_TYPE,
    .auth_args = ARG0,
    .synopsis = "put-manifest [--media-type TYPE] REF FILE",
    .summary = "put a manifest's exact bytes",
    .help = "PUTs the manifest in FILE (- for stdin) as REF (a tag or a digest), byte for\n"
            "byte, and prints its digest. Nothing else is pushed: the blobs and manifests\n"
            "it names must be in REF's repository already. Before anything is sent, rr\n"
            "checks that FILE is a manifest of its media type and, for a digest REF, that\n"
            "it has that digest (exit 1 otherwise).\n"
            "\n"
            "  --media-type TYPE   the Content-Type to send (default: FILE's own\n"
            "                      mediaType, else what its fields say: an OCI image\n"
            "                      manifest or index)\n"
            "\n"
            "  rr manifest localhost:5000/demo/app:v1 > m.json\n"
            "  rr put-manifest localhost:5000/demo/app:v1-again m.json\n",
};
