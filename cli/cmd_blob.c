/*
 * rr blob get, rr blob put and rr blob stat: one blob on its own, named by
 * its digest (rr_blob_save, rr_blob_read, rr_blob_write_file,
 * rr_blob_write_reader, rr_blob_stat).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static bool is_stdio(const char *file) {
    return strcmp(file, "-") == 0;
}

/* rr_blob_read's write function: the bytes to stdout. */
static int32_t write_to_stdout(void *userdata, const uint8_t *buf, size_t len) {
    (void)userdata;
    return write_stdout(buf, len) ? 0 : 1;
}

/* rr_blob_write_reader's read function: stdin to its end, however long. The library
   calls it on one of its threads, one call at a time. */
static int64_t read_stdin(void *userdata, uint8_t *buf, size_t cap) {
    (void)userdata;
    size_t n = fread(buf, 1, cap, stdin);
    if (n == 0 && ferror(stdin)) {
        console_line("stdin: %s", strerror(errno));
        return -1;
    }
    return (int64_t)n;
}

static int blob_get(struct cli *c, rr_client *client, const char *ref, const char *file) {
    struct step s;
    if (is_stdio(file)) {
        transfer_begin(&s, c, "get", "read the blob %s to stdout", ref);
        return transfer_end(&s, c, rr_blob_read(client, ref, write_to_stdout, NULL));
    }
    transfer_begin(&s, c, "get", "save the blob %s as %s", ref, file);
    return transfer_end(&s, c, rr_blob_save(client, ref, file));
}

static int blob_put(struct cli *c, rr_client *client, const char *repo, const char *file) {
    struct step s;
    char digest[RR_DIGEST_SIZE];
    uint64_t size = 0;
    int status;
    if (is_stdio(file)) {
        if (c->from != NULL) {
            return fail_with(EXIT_USAGE, "blob put: --from needs a FILE: a mount needs the "
                                         "digest, which stdin gives only at its end");
        }
        transfer_begin(&s, c, "put", "push stdin as a blob to %s", repo);
        status = transfer_end(&s, c,
                              rr_blob_write_reader(client, repo, read_stdin, NULL, NULL, NULL,
                                                   digest, sizeof digest, &size));
    } else {
        transfer_begin(&s, c, "put", "push %s as a blob to %s%s%s", file, repo,
                       c->from != NULL ? ", or mount it from " : "",
                       c->from != NULL ? c->from : "");
        status = transfer_end(&s, c,
                              rr_blob_write_file(client, repo, file, c->from, digest,
                                                 sizeof digest, &size));
    }
    if (status == EXIT_SUCCESS) {
        note(c, "%s: %" PRIu64 " bytes", digest, size);
        print_line(digest);
    }
    return status;
}

static int blob_stat(struct cli *c, rr_client *client, const char *ref) {
    struct step s;
    uint64_t size = 0;
    step_begin(&s, c, "head the blob %s", ref);
    int status = step_end(&s, rr_blob_stat(client, ref, &size));
    if (status == EXIT_SUCCESS) {
        printf("%" PRIu64 "\n", size);
    }
    return status;
}

static int run_blob(struct cli *c, rr_client *client) {
    const char *sub = c->args[0];
    int want = strcmp(sub, "stat") == 0 ? 2 : 3;
    if (strcmp(sub, "get") != 0 && strcmp(sub, "put") != 0 && want == 3) {
        return fail_with(EXIT_USAGE, "blob: unknown subcommand '%s' (get, put or stat)", sub);
    }
    if (c->nargs != want) {
        return fail_with(EXIT_USAGE, "blob %s: %s", sub,
                         want == 2 ? "exactly one REF@DIGEST expected"
                                   : strcmp(sub, "get") == 0 ? "REF@DIGEST and FILE expected"
                                                             : "REPO and FILE expected");
    }
    if (c->from != NULL && strcmp(sub, "put") != 0) {
        return fail_with(EXIT_USAGE, "blob %s: --from applies to 'blob put' only", sub);
    }
    if (strcmp(sub, "get") == 0) {
        return blob_get(c, client, c->args[1], c->args[2]);
    }
    if (strcmp(sub, "put") == 0) {
        /* The mount source is read with the destination's credentials (one registry). */
        return blob_put(c, client, c->args[1], c->args[2]);
    }
    return blob_stat(c, client, c->args[1]);
}

const struct command cmd_blob = {
    .name = "blob",
    .run = run_blob,
    .min_args = 2,
    .max_args = 3,
    .options = OPT_FROM,
    .auth_args = ARG1,
    .transfer = true,
    .synopsis = "blob get|put|stat ...",
    .summary = "read, push or look up one blob by digest",
    .help = "One blob on its own, named by its digest (a layer, a config, any content):\n"
            "\n"
            "  rr blob get REF@DIGEST FILE|-\n"
            "      saves the blob as FILE (replaced only once the whole blob arrived and\n"
            "      hashed to DIGEST; nothing is left behind on failure), or writes it to\n"
            "      stdout with - (check the exit status: on a digest mismatch stdout has\n"
            "      seen bad bytes). A broken connection resumes where it stopped.\n"
            "  rr blob put [--from REPO2] REPO FILE|-\n"
            "      pushes FILE, or stdin (of any length) with -, as one blob to REPO and\n"
            "      prints its digest. A FILE is hashed first: a blob REPO has is not sent\n"
            "      again, and with --from (another repository of the same registry) one\n"
            "      REPO2 has is mounted. stdin is hashed as it is sent (one streamed PATCH,\n"
            "      or chunks with --upload-strategy chunked, which resume after a break).\n"
            "  rr blob stat REF@DIGEST\n"
            "      prints the blob's size in bytes (a HEAD); exit 2 when it is not there.\n"
            "\n"
            "  --from REPO2   blob put: mount FILE's blob from REPO2 when it has it\n"
            "\n"
            "  rr blob put localhost:5000/demo/files notes.txt\n"
            "  tar -c dir | rr blob put --chunk-size 8M localhost:5000/demo/files -\n"
            "  rr blob get localhost:5000/demo/files@sha256:... notes-again.txt\n",
};
