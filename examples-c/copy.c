/*
 * copy: copy an image or a whole index with librr, showing progress; Ctrl-C
 * cancels it cleanly.
 *
 *   copy [-j N] [-q] [--insecure HOST] [-u USER -p PASS] [--no-keychain] SRC DST
 *
 * rr_copy keeps digests byte for byte; within one registry every blob is
 * mounted rather than transferred. DST must name a tag or a digest. While it
 * runs, the progress callback prints `progress: COMPLETE/TOTAL` on stderr and,
 * once SIGINT (Ctrl-C) or SIGTERM has come, returns non-zero: the library then
 * stops, cancels its upload sessions, writes no manifest and returns
 * RR_ERR_CANCELLED (exit 130). The per-blob callback prints `blob: DIGEST HOW`
 * as each blob ends (HOW: exists, mounted or done). Then prints
 * `digest: sha256:...`, what DST names now (rr_head).
 * Exit status: 0, 2 not found, 3 unauthorized or denied, 1 other, 64 usage,
 * 130 cancelled.
 */
#define _POSIX_C_SOURCE 200809L /* sigaction */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "rr.h"

static const char usage[] =
    "usage: copy [-j N] [-q] [--insecure HOST] [-u USER -p PASS] [--no-keychain] SRC DST\n";

/* Set by the signal handler; read by the progress callback, maybe on another thread. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

/* The rr_progress_fn: prints the line, then cancels once a signal has come. */
static int32_t on_progress(void *userdata, uint64_t complete, uint64_t total) {
    print_progress(userdata, complete, total);
    return interrupted ? 1 : 0;
}

/* The rr_blob_progress_fn: one line per blob as it ends, and how (nothing sent when
   the destination had it or mounted it). Events come one at a time per operation. */
static int32_t on_blob(void *userdata, const rr_blob_progress *event) {
    const bool *quiet = userdata;
    bool final = event->phase == RR_BLOB_EXISTS || event->phase == RR_BLOB_MOUNTED ||
                 event->phase == RR_BLOB_DONE;
    if (final && !*quiet) {
        fprintf(stderr, "blob: %s %s\n", event->digest, rr_blob_phase_name(event->phase));
    }
    return interrupted ? 1 : 0;
}

int main(int argc, char **argv) {
    example_init("copy", usage);
    struct common_options o = {0};
    const char *refs[2] = {NULL, NULL};
    int count = 0;
    for (int i = 1; i < argc; i++) {
        if (common_option(&o, argc, argv, &i)) {
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            usage_error("unknown option %s", argv[i]);
        }
        if (count == 2) {
            usage_error("unexpected argument %s", argv[i]);
        }
        refs[count++] = argv[i];
    }
    if (count != 2) {
        usage_error("a source and a destination reference are needed");
    }
    common_options_check(&o);

    /* The first Ctrl-C (or SIGTERM) cancels through the progress callback; the handler
       is then reset (SA_RESETHAND): a second one ends the process at once. SA_RESTART:
       the library's system calls go on undisturbed. */
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESETHAND | SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    rr_client *client = NULL;
    rr_descriptor *desc = NULL;
    struct progress_lines progress = {.quiet = o.quiet};
    int status = common_client(&o, &client);
    if (status != EXIT_SUCCESS) {
        return status;
    }
    rr_status rc = rr_client_set_progress_callback(client, on_progress, &progress);
    if (rc == RR_OK) {
        rc = rr_client_set_blob_progress_callback(client, on_blob, &o.quiet);
    }
    if (rc == RR_OK) {
        rc = rr_copy(client, refs[0], refs[1]);
    }
    if (rc == RR_OK) {
        rc = rr_head(client, refs[1], &desc);
    }
    if (rc != RR_OK) {
        status = report(rc); /* RR_ERR_CANCELLED after Ctrl-C: exit 130 */
    } else {
        printf("digest: %s\n", rr_descriptor_digest(desc));
    }
    rr_descriptor_free(desc);
    rr_client_free(client);
    return status;
}
