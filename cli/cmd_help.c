/*
 * rr help [COMMAND] and rr version; the help texts shared by every command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char global_options_help[] =
    "Options (before or after the command):\n"
    "  --platform OS/ARCH[/VARIANT][:OS_VERSION]  the platform an index resolves\n"
    "                                to (default linux/amd64); for build, the\n"
    "                                image's platform\n"
    "  --os-feature NAME             an os.features entry the index's child must\n"
    "                                list too (repeatable; e.g. win32k)\n"
    "  -j, --jobs N                  parallel blob transfers (1-256, default 8)\n"
    "      --blob-connections N      connections one large blob may be pulled over\n"
    "                                when one is slow (1-16, default 4; 1: never)\n"
    "  --insecure HOST[:PORT]        allow plain HTTP and unverified TLS for HOST\n"
    "                                (repeatable; loopback registries need none)\n"
    "  --plain-http HOST[:PORT]      reach HOST over plain HTTP only, with no\n"
    "                                https attempt first (repeatable)\n"
    "  --ca FILE                     also trust the PEM certificates in FILE\n"
    "  --registry-ca HOST=FILE       trust FILE's certificates for HOST only\n"
    "  --cert FILE --key FILE        the TLS client certificate and key (PEM) for\n"
    "                                the references' registries and their tokens\n"
    "  --cert-dir DIR                a certs.d root (HOST[:PORT]/*.crt, *.cert +\n"
    "                                *.key), searched before the default ones\n"
    "  --no-default-cert-dirs        skip ~/.config/containers/certs.d,\n"
    "                                /etc/containers/certs.d, /etc/docker/certs.d\n"
    "  --no-ping-cache               ask each registry's challenge afresh instead\n"
    "                                of remembering it in ~/.cache/rr/pings\n"
    "  --proxy HOST=URL              the proxy for HOST (URL empty: none), over\n"
    "                                HTTP(S)_PROXY and NO_PROXY\n"
    "  --upload-strategy auto|monolithic|streamed|chunked  how blobs are sent\n"
    "                                (auto: one PUT up to the threshold, else one\n"
    "                                PATCH; chunked after a refused body)\n"
    "  --timeout DURATION            end each operation after DURATION (30s, 500ms, 5m; 0 none)\n"
    "  --chunk-size SIZE             chunks of SIZE (e.g. 4M) and no PATCH larger;\n"
    "                                alone it means --upload-strategy chunked\n"
    "  --monolithic-threshold SIZE   blobs up to SIZE go in one PUT (default 1M)\n"
    "  --mirror REGISTRY=MIRROR      read REGISTRY[/NAMESPACE] through the pull\n"
    "                                mirror MIRROR[/NAMESPACE] first (repeatable,\n"
    "                                in order; writes never go to a mirror)\n"
    "  --registries-conf PATH        read mirrors and insecure hosts from a\n"
    "                                containers-registries.conf file (v2), or from\n"
    "                                the *.conf files of a directory\n"
    "  --default-registries-conf     read them from the files Podman reads\n"
    "  -u, --username USER           user name for the references' registries\n"
    "  -p, --password PASS           its password (seen by ps: prefer the next)\n"
    "  --password-stdin              read the password from the first stdin line\n"
    "  --no-keychain                 do not read Docker/Podman credentials\n"
    "  -v, --verbose                 log each HTTP request, each step's time and\n"
    "                                the rate limits registries announced\n"
    "  -q, --quiet                   no progress and no notes (errors still)\n"
    "  --progress auto|bar|plain|none  progress display (auto: a bar on a\n"
    "                                terminal, else a line every few seconds)\n"
    "  -h, --help                    this help, or a command's with a command\n";

static const char exit_status_help[] =
    "Exit status: 0 success, 1 failure, 2 not found, 3 unauthorized or denied,\n"
    "4 unsupported (e.g. tag deletion refused), 64 usage error, 130 interrupted.\n";

void main_usage(FILE *to) {
    fputs("usage: rr [OPTIONS] COMMAND [ARGS...]\n"
          "Run 'rr help' for the commands and options.\n",
          to);
}

void main_help(FILE *to) {
    fprintf(to, "rr %s: a container registry client on librr\n\n", RR_TOOL_VERSION);
    fputs("usage: rr [OPTIONS] COMMAND [ARGS...]\n\nCommands:\n", to);
    const struct command *cmd;
    for (size_t i = 0; (cmd = command_at(i)) != NULL; i++) {
        if (strlen(cmd->synopsis) <= 28) {
            fprintf(to, "  %-28s %s\n", cmd->synopsis, cmd->summary);
        } else {
            fprintf(to, "  %s\n  %-28s %s\n", cmd->synopsis, "", cmd->summary);
        }
    }
    fputs("\nREF is a reference such as localhost:5000/app:v1 or registry/app@sha256:...;\n"
          "REPO is REGISTRY/REPOSITORY. Digests and lists go to stdout, one per line;\n"
          "progress, notes and errors go to stderr.\n\n",
          to);
    fputs(global_options_help, to);
    fputs("\n", to);
    fputs(exit_status_help, to);
    fputs("\nRun 'rr help COMMAND' (or 'rr COMMAND --help') for a command's help.\n", to);
}

void command_usage(const struct command *cmd, FILE *to) {
    fprintf(to, "usage: rr %s\n", cmd->synopsis);
}

void command_help(const struct command *cmd, FILE *to) {
    command_usage(cmd, to);
    fprintf(to, "%s.\n\n", cmd->summary);
    fputs(cmd->help, to);
    if (cmd != &cmd_help && cmd != &cmd_version) {
        fputs("\n", to);
        fputs(global_options_help, to);
        fputs("\n", to);
        fputs(exit_status_help, to);
    }
}

static int run_help(struct cli *c, rr_client *client) {
    (void)client;
    if (c->nargs == 0) {
        main_help(stdout);
        return EXIT_SUCCESS;
    }
    const struct command *cmd = find_command(c->args[0]);
    if (cmd == NULL) {
        fprintf(stderr, "rr: unknown command '%s'\n", c->args[0]);
        main_usage(stderr);
        return EXIT_USAGE;
    }
    command_help(cmd, stdout);
    return EXIT_SUCCESS;
}

static int run_version(struct cli *c, rr_client *client) {
    (void)c;
    (void)client;
    printf("rr %s (librr %s)\n", RR_TOOL_VERSION, rr_version());
    return EXIT_SUCCESS;
}

const struct command cmd_version = {
    .name = "version",
    .run = run_version,
    .synopsis = "version",
    .summary = "print the versions of rr and librr",
    .help = "Prints `rr VERSION (librr VERSION)`: the tool's version (that of the header\n"
            "it was built with) and the library's; they differ only when another\n"
            "librr.so.0 is loaded.\n",
};

const struct command cmd_help = {
    .name = "help",
    .run = run_help,
    .max_args = 1,
    .synopsis = "help [COMMAND]",
    .summary = "help for rr or one of its commands",
    .help = "Prints the help of COMMAND, or of rr itself.\n",
};
