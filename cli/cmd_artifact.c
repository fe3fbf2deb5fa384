/*
 * rr attach and rr referrers: OCI 1.1 artifacts attached to a manifest by their
 * subject (rr_artifact_builder_*, rr_write, rr_referrers).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define TITLE_ANNOTATION "org.opencontainers.image.title"

/* The repository of a normalized reference: without its tag or digest. */
static char *repository_of(const char *normalized) {
    size_t end = strcspn(normalized, "@");
    const char *slash = strrchr(normalized, '/');
    const char *colon = strrchr(slash != NULL ? slash : normalized, ':');
    if (colon != NULL && (size_t)(colon - normalized) < end) {
        end = (size_t)(colon - normalized);
    }
    return xstrndup(normalized, end);
}

/* Adds --annotation KEY=VALUE (each as given) to `b`; an exit status. */
static int add_annotations(const struct cli *c, rr_artifact_builder *b) {
    for (int i = 0; i < c->nannotations; i++) {
        const char *eq = strchr(c->annotations[i], '=');
        char *key = xstrndup(c->annotations[i], (size_t)(eq - c->annotations[i]));
        rr_status rc = rr_artifact_builder_add_annotation(b, key, eq + 1);
        free(key);
        if (rc != RR_OK) {
            return report(rc);
        }
    }
    return EXIT_SUCCESS;
}

static int run_attach(struct cli *c, rr_client *client) {
    const char *ref = c->args[0];
    if (c->artifact_type == NULL) {
        return usage_error(c, "attach: --artifact-type TYPE is required");
    }
    char *normalized = NULL;
    rr_status rc = normalize(ref, &normalized);
    if (rc != RR_OK) {
        return report(rc);
    }
    char *repo = repository_of(normalized);
    free(normalized);

    struct step s;
    rr_artifact_builder *b = NULL;
    rr_image *img = NULL;
    char *target = NULL;
    rc = rr_artifact_builder_new(c->artifact_type, &b);
    int status = rc == RR_OK ? EXIT_SUCCESS : report(rc);
    if (status == EXIT_SUCCESS) {
        status = add_annotations(c, b);
    }
    if (status == EXIT_SUCCESS) {
        step_begin(&s, c, "find the subject %s", ref);
        status = step_end(&s, rr_artifact_builder_set_subject_ref(b, client, ref));
    }
    const char *media_type = c->media_type != NULL ? c->media_type : "application/octet-stream";
    for (int i = 1; status == EXIT_SUCCESS && i < c->nargs; i++) {
        if (interrupted) {
            status = fail_with(EXIT_INTERRUPTED, "interrupted");
            break;
        }
        step_begin(&s, c, "add the file %s as %s", c->args[i], media_type);
        status = step_end(&s, rr_artifact_builder_add_file(b, c->args[i], media_type));
    }
    if (status == EXIT_SUCCESS) {
        step_begin(&s, c, "build the artifact");
        status = step_end(&s, rr_artifact_builder_build(b, &img));
    }
    if (status == EXIT_SUCCESS) {
        /* Pushed by digest: a referrer is found through its subject, not a tag. */
        size_t len = strlen(repo) + 1 + strlen(rr_image_digest(img)) + 1;
        target = xmalloc(len);
        snprintf(target, len, "%s@%s", repo, rr_image_digest(img));
        status = push_image(c, client, img, target, "attach");
    }
    free(target);
    rr_image_free(img);
    rr_artifact_builder_free(b);
    free(repo);
    return status;
}

/* One referrer as a line: DIGEST ARTIFACT_TYPE, then the titles of its files (read from
   the referrer's own manifest, one GET each) when it has any. */
static int print_referrer(struct cli *c, const rr_index *idx, size_t i) {
    rr_image *img = NULL;
    if (rr_media_type_kind(rr_index_child_media_type(idx, i)) == RR_MANIFEST_IMAGE) {
        struct step s;
        step_begin(&s, c, "read the referrer %s", rr_index_child_digest(idx, i));
        int status = step_end(&s, rr_index_child_image(idx, i, &img));
        if (status != EXIT_SUCCESS) {
            return status;
        }
    }
    const char *type = rr_index_child_artifact_type(idx, i);
    printf("%s %s", rr_index_child_digest(idx, i), type != NULL ? type : "-");
    for (size_t j = 0; img != NULL && j < rr_image_layer_count(img); j++) {
        const char *title = rr_image_layer_annotation(img, j, TITLE_ANNOTATION);
        if (title != NULL) {
            printf(" %s", title);
        }
    }
    putchar('\n');
    rr_image_free(img);
    return EXIT_SUCCESS;
}

static int run_referrers(struct cli *c, rr_client *client) {
    const char *ref = c->args[0];
    struct step s;
    rr_index *idx = NULL;
    step_begin(&s, c, "list the referrers of %s%s%s", ref,
               c->artifact_type != NULL ? " of type " : "",
               c->artifact_type != NULL ? c->artifact_type : "");
    int status = step_end(&s, rr_referrers(client, ref, c->artifact_type, &idx));
    if (status != EXIT_SUCCESS) {
        return status;
    }
    if (c->format_json) {
        const uint8_t *bytes = NULL;
        size_t len = 0;
        rr_status rc = rr_index_manifest(idx, &bytes, &len);
        status = rc == RR_OK ? EXIT_SUCCESS : report(rc);
        if (status == EXIT_SUCCESS &&
            (!write_stdout(bytes, len) || !write_stdout((const uint8_t *)"\n", 1))) {
            status = EXIT_FAILED;
        }
    } else {
        for (size_t i = 0; status == EXIT_SUCCESS && i < rr_index_child_count(idx); i++) {
            status = print_referrer(c, idx, i);
        }
    }
    rr_index_free(idx);
    return status;
}

const struct command cmd_attach = {
    .name = "attach",
    .run = run_attach,
    .min_args = 1,
    .max_args = -1,
    .options = OPT_ARTIFACT_TYPE | OPT_ANNOTATION | OPT_MEDIA_TYPE,
    .auth_args = ARG0,
    .transfer = true,
    .synopsis = "attach --artifact-type TYPE [--annotation K=V]... [--media-type TYPE] REF "
                "[FILE...]",
    .summary = "attach an artifact (signature, SBOM...) to a manifest",
    .help = "Pushes an OCI 1.1 artifact whose subject is the manifest REF names, and prints\n"
            "the artifact's digest. Its files become its layers, of the --media-type given\n"
            "(application/octet-stream by default), each titled with its base name; with no\n"
            "FILE it has the single empty layer the image-spec recommends. The config is\n"
            "the empty one. The artifact is pushed by digest to REF's repository; where the\n"
            "registry has no referrers API it is also listed under the fallback tag\n"
            "sha256-<hex> of REF's digest, which rr keeps up to date.\n"
            "\n"
            "Options:\n"
            "  --artifact-type TYPE     the artifact's artifactType (type/subtype), required\n"
            "  --annotation KEY=VALUE   a manifest annotation (repeatable)\n"
            "  --media-type TYPE        the media type of the files\n"
            "\n"
            "  rr attach --artifact-type application/spdx+json localhost:5000/demo/app:v1 sbom.json\n",
};

const struct command cmd_referrers = {
    .name = "referrers",
    .run = run_referrers,
    .min_args = 1,
    .max_args = 1,
    .options = OPT_ARTIFACT_TYPE | OPT_FORMAT,
    .auth_args = ARG0,
    .synopsis = "referrers [--artifact-type TYPE] [--format json] REF",
    .summary = "list the artifacts attached to a manifest",
    .help = "Lists the referrers of the manifest REF names (a tag or a digest): one line per\n"
            "referrer, DIGEST ARTIFACT_TYPE (- when it has none), followed by the titles of\n"
            "its files when it has titled layers (each referrer's manifest is read for\n"
            "them). With --format json the OCI index of the referrers is printed instead.\n"
            "The registry's referrers API is used when it has one, else the fallback tag\n"
            "sha256-<hex>, whose entries are checked (one that is not a referrer of REF is\n"
            "left out; -v says so).\n"
            "\n"
            "Options:\n"
            "  --artifact-type TYPE   only the referrers of this artifact type\n"
            "  --format json|text     the index as JSON, or lines (the default)\n"
            "\n"
            "  rr referrers localhost:5000/demo/app:v1\n"
            "  rr referrers --artifact-type application/spdx+json --format json localhost:5000/demo/app:v1\n",
};
