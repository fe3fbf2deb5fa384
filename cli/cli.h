/*
 * What the files of the rr tool share: the command table's entry, the parsed
 * command line, exit statuses, error lines and steps, the client's set-up and
 * a few helpers. Each command is a `struct command` in a cmd_*.c file, listed
 * in main.c; README.md says how to add one.
 */
#ifndef RR_CLI_H
#define RR_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h> /* EXIT_SUCCESS */

#include "progress.h"
#include "rr.h"

/* The tool's version is the version of the header it is built with. */
#define RR_TOOL_STR2(x) #x
#define RR_TOOL_STR(x) RR_TOOL_STR2(x)
#define RR_TOOL_VERSION                                                                    \
    RR_TOOL_STR(RR_VERSION_MAJOR) "." RR_TOOL_STR(RR_VERSION_MINOR) "." RR_TOOL_STR(         \
        RR_VERSION_PATCH)

#if defined(__GNUC__)
#define CLI_PRINTF(fmt, first) __attribute__((format(printf, fmt, first)))
#else
#define CLI_PRINTF(fmt, first)
#endif

/* Exit statuses (rr help, rr.1); EXIT_SUCCESS is 0. */
enum {
    EXIT_FAILED = 1,
    EXIT_NOT_FOUND = 2,
    EXIT_AUTH = 3,
    EXIT_UNSUPPORTED = 4,
    EXIT_USAGE = 64,
    EXIT_INTERRUPTED = 130,
};

/* Options that only some commands take (struct command.options); the others are global. */
enum {
    OPT_ALL = 1u << 0,    /* pull */
    OPT_NAME = 1u << 1,   /* pull, push */
    OPT_CONFIG = 1u << 2, /* build */
    OPT_OCI = 1u << 3,    /* pull */
    OPT_PAGE_SIZE = 1u << 4,  /* ls, catalog */
    OPT_MEDIA_TYPE = 1u << 5, /* put-manifest */
    OPT_FROM = 1u << 6,       /* blob put */
    OPT_ARTIFACT_TYPE = 1u << 7, /* attach, referrers */
    OPT_ANNOTATION = 1u << 8,    /* attach */
    OPT_FORMAT = 1u << 9,        /* referrers */
    OPT_ARTIFACT = 1u << 10,     /* pull */
    OPT_REFERRERS = 1u << 11,    /* copy */
};

/* Positional arguments whose registry -u/-p apply to (struct command.auth_args). */
enum {
    ARG0 = 1u << 0,
    ARG1 = 1u << 1,
};

struct cli;

/* A command of the table in main.c. */
struct command {
    const char *name;
    /* Runs the command; returns its exit status. `client` is configured from the options,
       and -u/-p and --cert/--key are set for the registries of the arguments in auth_args;
       NULL for
       `help` and `version`. */
    int (*run)(struct cli *c, rr_client *client);
    int min_args;
    int max_args;       /* -1: no limit */
    unsigned options;   /* the OPT_* it takes */
    unsigned auth_args; /* ARG0, ARG1 */
    bool transfer;      /* reports progress; SIGINT cancels it cleanly */
    const char *synopsis;
    const char *summary;
    const char *help;
};

/* The parsed command line (options.c). */
struct cli {
    const struct command *cmd;
    const char *cmd_name; /* as typed, for an unknown command */
    const char **args;    /* positional arguments after the command */
    int nargs;
    const char *platform;
    const char **os_features; /* --os-feature, asked of an index's child with --platform */
    int nos_features;
    uint32_t jobs;
    uint32_t blob_connections; /* 0: the library's default */
    const char **insecure;
    int ninsecure;
    const char **plain_http; /* --plain-http HOST: no https attempt */
    int nplain_http;
    const char **ca_files;
    int nca;
    const char **registry_cas; /* HOST=FILE */
    int nregistry_cas;
    const char *cert_file; /* the client certificate for the arguments' registries */
    const char *key_file;
    const char **cert_dirs; /* certs.d roots searched first */
    int ncert_dirs;
    bool no_default_cert_dirs;
    /* --no-ping-cache: registries are pinged afresh by every command. */
    bool no_ping_cache;
    const char **proxies; /* HOST=URL */
    int nproxies;
    uint32_t upload_strategy; /* an rr_upload_strategy, with upload_strategy_set */
    bool upload_strategy_set;
    uint64_t chunk_size; /* 0: the library's default */
    uint64_t monolithic_threshold;
    bool monolithic_threshold_set;
    const char **mirrors; /* REGISTRY=MIRROR, as given */
    int nmirrors;
    const char **registries_confs;
    int nconfs;
    bool default_registries_conf;
    uint64_t timeout_ms; /* --timeout: the deadline of each operation, 0 none */
    bool timeout_set;
    const char *user;
    const char *password;
    char *password_buf; /* from --password-stdin */
    bool password_stdin;
    bool no_keychain;
    bool verbose;
    bool quiet;
    bool help;
    enum progress_mode progress;
    bool progress_set;
    bool all;
    bool oci;
    const char *name;
    const char *config_file;
    uint32_t page_size; /* --page-size; 0: the registry's own */
    const char *media_type;
    const char *from; /* blob put --from: the repository to mount from */
    const char *artifact_type;
    const char **annotations; /* attach --annotation KEY=VALUE, as given */
    int nannotations;
    bool format_json; /* referrers --format json */
    bool artifact;    /* pull --artifact */
    bool referrers;   /* copy --referrers */
    unsigned given;             /* command-specific options given (OPT_*) */
    const char *first_specific; /* the first of those, for the error message */
    struct progress prog;
};

/* ---- the commands, listed by main.c in the order `rr help` shows them ------- */

extern const struct command cmd_ls, cmd_catalog;                 /* cmd_list.c */
extern const struct command cmd_digest, cmd_manifest, cmd_config; /* cmd_read.c */
extern const struct command cmd_put_manifest;                     /* cmd_put.c */
extern const struct command cmd_blob;                             /* cmd_blob.c */
extern const struct command cmd_pull;                             /* cmd_pull.c */
extern const struct command cmd_push;                             /* cmd_push.c */
extern const struct command cmd_build, cmd_append;                /* cmd_build.c */
extern const struct command cmd_copy, cmd_tag, cmd_delete;        /* cmd_write.c */
extern const struct command cmd_attach, cmd_referrers;            /* cmd_artifact.c */
extern const struct command cmd_auth;                             /* cmd_auth.c */
extern const struct command cmd_version, cmd_help;                /* cmd_help.c */

/* Pushes a built or opened image to `ref` as a transfer labelled `label` and prints its
   digest; an exit status (cmd_build.c; copy --platform uses it too). */
int push_image(struct cli *c, rr_client *client, const rr_image *img, const char *ref,
               const char *label);

/* The i-th command of the table, or NULL past its end (main.c). */
const struct command *command_at(size_t i);
/* The command named `name`, or NULL (main.c). */
const struct command *find_command(const char *name);

/* ---- help (cmd_help.c) ------------------------------------------------------- */

void main_usage(FILE *to);
void main_help(FILE *to);
void command_usage(const struct command *cmd, FILE *to);
void command_help(const struct command *cmd, FILE *to);

/* ---- the command line (options.c) -------------------------------------------- */

/* Fills `c` (zeroed) from argv; returns 0, or EXIT_USAGE after a message. */
int parse_args(int argc, char **argv, struct cli *c);
/* Prints "rr: MESSAGE" and the usage of c's command (or rr's); returns EXIT_USAGE. */
int usage_error(const struct cli *c, const char *fmt, ...) CLI_PRINTF(2, 3);
/* Reads the first line of stdin as the password (--password-stdin); an exit status. */
int read_password(struct cli *c);
void free_cli(struct cli *c);

/* ---- errors, notes and steps (errors.c) --------------------------------------- */

/*
 * Prints the calling thread's last error for `rc` and returns the exit status.
 * Must run right after the failing call: another rr_ call may clear the error.
 */
int report(rr_status rc);
/* An error of the tool itself (not of a library call): prints it, returns `status`. */
int fail_with(int status, const char *fmt, ...) CLI_PRINTF(2, 3);
/* A note on stderr, not with --quiet. */
void note(const struct cli *c, const char *fmt, ...) CLI_PRINTF(2, 3);

/* One step of a command, timed: with -v, "step: WHAT" before and its outcome after. */
struct step {
    char what[512];
    double started;
    bool verbose;
};
void step_begin(struct step *s, const struct cli *c, const char *fmt, ...) CLI_PRINTF(3, 4);
/* Ends the step with the outcome `rc` of its library call; returns EXIT_SUCCESS for RR_OK,
   else report(rc) (nothing in between touches the last error). */
int step_end(const struct step *s, rr_status rc);
/* A step that transfers blobs: also shows c's progress, labelled `label` ("pull", ...). */
void transfer_begin(struct step *s, struct cli *c, const char *label, const char *fmt, ...)
    CLI_PRINTF(4, 5);
int transfer_end(const struct step *s, struct cli *c, rr_status rc);

void *xmalloc(size_t n);
char *xstrndup(const char *s, size_t n);

/* ---- the client and references (client.c) ------------------------------------- */

/* Set by the first SIGINT or SIGTERM, which also cancels the command's client. */
extern volatile sig_atomic_t interrupted;
void catch_interrupts(rr_client *client);
/* Applies the global options to `client`; returns an exit status. */
int configure_client(struct cli *c, rr_client *client);
/* With -v: the rate limit each registry announced, one line each, after the command. */
void report_rate_limits(rr_client *client);
/* Sets -u/-p (when given) for the registry of `reference` (a reference or a repository). */
int auth_for(const struct cli *c, rr_client *client, const char *reference);
/* Normalises `reference` into a malloc'd string; on failure returns the status. */
rr_status normalize(const char *reference, char **out);
/* The tag of a normalised reference (malloc'd), or NULL for a digest reference. */
char *tag_of(const char *normalized);
/* Whether --platform or --os-feature asks for a platform (else the default, linux/amd64). */
bool platform_given(const struct cli *c);
/* The platform asked for, as the messages say it ("linux/amd64", "... with os.features F"). */
const char *platform_label(const struct cli *c);
/* The image of `idx` for the platform asked for (--platform with --os-feature). */
rr_status index_image_for_platform(const struct cli *c, const rr_index *idx, rr_image **out);

/* ---- files and stdout (io.c) --------------------------------------------------- */

/* Reads a whole (small) file, or stdin for "-", into a malloc'd buffer. Prints why and
   returns false on failure. */
bool read_small_file(const char *path, uint8_t **out, size_t *out_len);
/* Prints one line on stdout ("-" for a NULL the library should never give). */
void print_line(const char *s);
/* Writes bytes to stdout; false (after a message) on failure. */
bool write_stdout(const uint8_t *bytes, size_t len);
/* Prints `count` strings, one per line, and flushes stdout; false (after a message) when
   stdout fails. */
bool print_lines(const char *const *lines, size_t count);

#endif /* RR_CLI_H */
