/*
 * rr: a command-line registry client on librr's C API.
 *
 *   rr [OPTIONS] COMMAND [ARGS...]      (options may also follow the command)
 *
 * Commands: ls, catalog, digest, manifest, config, put-manifest, blob (get, put,
 * stat), pull, push, build, append, copy, tag, delete, attach, referrers, auth
 * check, version, help. `rr help` and `rr help COMMAND`
 * describe them; rr.1 is the manual page.
 *
 * Output for scripts: digests and lists on stdout, one per line; `manifest`
 * and `config` print the exact bytes. Progress, notes and errors go to stderr;
 * an error is one line `rr: MESSAGE (RR_STATUS_NAME[, HTTP n][, CODE])`.
 *
 * Exit status: 0 success, 1 other failure, 2 not found, 3 unauthorized or
 * denied, 4 unsupported by the registry or for this content, 64 usage error,
 * 130 interrupted (SIGINT/SIGTERM during any command, which is then cancelled
 * cleanly: upload sessions cancelled, no manifest written, no partial file).
 *
 * This file holds the command table and main(); each command is in a
 * cmd_*.c file, and README.md describes the layout.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The commands, in the order `rr help` lists them. */
static const struct command *const commands[] = {
    &cmd_ls,      &cmd_catalog, &cmd_digest, &cmd_manifest, &cmd_config,
    &cmd_put_manifest, &cmd_blob, &cmd_pull, &cmd_push, &cmd_build, &cmd_append,
    &cmd_copy,    &cmd_tag,     &cmd_delete, &cmd_attach, &cmd_referrers, &cmd_auth,
    &cmd_version,
    &cmd_help,
};

const struct command *command_at(size_t i) {
    return i < sizeof commands / sizeof commands[0] ? commands[i] : NULL;
}

const struct command *find_command(const char *name) {
    const struct command *cmd;
    for (size_t i = 0; (cmd = command_at(i)) != NULL; i++) {
        if (strcmp(cmd->name, name) == 0) {
            return cmd;
        }
    }
    return NULL;
}

/* `--help` anywhere on the line: the help of the command named, or of rr. */
static int print_help(struct cli *c) {
    if (c->cmd == &cmd_help && c->nargs > 0) {
        return cmd_help.run(c, NULL); /* rr help COMMAND --help */
    }
    if (c->cmd != NULL && c->cmd != &cmd_help) {
        command_help(c->cmd, stdout);
    } else if (c->cmd_name != NULL && c->cmd == NULL) {
        return usage_error(c, "unknown command '%s'", c->cmd_name);
    } else {
        main_help(stdout);
    }
    return EXIT_SUCCESS;
}

/* Runs c's command with a client made from the options; returns its exit status. */
static int run_with_client(struct cli *c) {
    if (c->password_stdin) {
        int status = read_password(c);
        if (status != EXIT_SUCCESS) {
            return status;
        }
    }
    rr_client *client = NULL;
    rr_status rc = rr_client_new(&client);
    if (rc != RR_OK) {
        return report(rc);
    }
    int status = configure_client(c, client);
    /* -u/-p for the registries of the command's references. */
    for (int i = 0; status == EXIT_SUCCESS && i < c->nargs && i < 2; i++) {
        if ((c->cmd->auth_args & (1u << i)) != 0) {
            status = auth_for(c, client, c->args[i]);
        }
    }
    if (status == EXIT_SUCCESS) {
        catch_interrupts(client);
        double started = console_now();
        status = c->cmd->run(c, client);
        if (c->verbose) {
            report_rate_limits(client);
            console_line("%s: exit status %d after %.0f ms", c->cmd->name, status,
                         (console_now() - started) * 1000.0);
        }
    }
    catch_interrupts(NULL);
    rr_client_free(client);
    return status;
}

int main(int argc, char **argv) {
    struct cli c;
    memset(&c, 0, sizeof c);
    int status = parse_args(argc, argv, &c);
    if (status == 0 && c.help) {
        status = print_help(&c);
    } else if (status == 0) {
        console_init(c.quiet ? PROGRESS_NONE : c.progress, "rr");
        if (c.cmd == &cmd_help || c.cmd == &cmd_version) {
            status = c.cmd->run(&c, NULL);
        } else {
            status = run_with_client(&c);
        }
        if (fflush(stdout) != 0 && status == EXIT_SUCCESS) {
            console_line("stdout: %s", strerror(errno));
            status = EXIT_FAILED;
        }
    }
    free_cli(&c);
    return status;
}
