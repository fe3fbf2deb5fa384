/*
 * rr auth check REF: may these credentials push to REF's repository?
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int run_auth(struct cli *c, rr_client *client) {
    if (strcmp(c->args[0], "check") != 0) {
        return fail_with(EXIT_USAGE, "auth: unknown subcommand '%s' (only 'auth check REF')",
                         c->args[0]);
    }
    if (c->nargs != 2) {
        return fail_with(EXIT_USAGE, "auth check: exactly one reference expected");
    }
    const char *ref = c->args[1];
    int status = auth_for(c, client, ref);
    if (status != EXIT_SUCCESS) {
        return status;
    }
    struct step s;
    step_begin(&s, c, "check push permission for %s", ref);
    status = step_end(&s, rr_check_push_permission(client, ref));
    if (status == EXIT_SUCCESS) {
        puts("ok");
    }
    return status;
}

const struct command cmd_auth = {
    .name = "auth",
    .run = run_auth,
    .min_args = 2,
    .max_args = 2,
    .synopsis = "auth check REF",
    .summary = "check that you may push to a repository",
    .help = "Opens an upload session in REF's repository and cancels it at once, leaving\n"
            "nothing behind; prints \"ok\" when pushing is allowed. Exit 3 when the\n"
            "credentials are missing or rejected (RR_ERR_UNAUTHORIZED) or do not allow\n"
            "pushing (RR_ERR_DENIED).\n"
            "\n"
            "  rr auth check -u alice --password-stdin registry.example.com/team/app <pw.txt\n",
};
