/*
 * rr ls REPO and rr catalog REGISTRY: lists, one item per line.
 */
#include "cli.h"

static int run_ls(struct cli *c, rr_client *client) {
    const char *repo = c->args[0];
    struct step s;
    rr_string_list *tags = NULL;
    step_begin(&s, c, "list the tags of %s", repo);
    int status = step_end(&s, rr_list(client, repo, &tags));
    return status == EXIT_SUCCESS ? print_list(tags) : status;
}

static int run_catalog(struct cli *c, rr_client *client) {
    const char *registry = c->args[0];
    if (c->user != NULL) {
        /* REGISTRY is a host[:port], not a reference: -u/-p apply to it as it is. */
        rr_status rc = rr_client_set_basic_auth(client, registry, c->user, c->password);
        if (rc != RR_OK) {
            return report(rc);
        }
    }
    struct step s;
    rr_string_list *repos = NULL;
    step_begin(&s, c, "list the repositories of %s", registry);
    int status = step_end(&s, rr_catalog(client, registry, &repos));
    return status == EXIT_SUCCESS ? print_list(repos) : status;
}

const struct command cmd_ls = {
    .name = "ls",
    .run = run_ls,
    .min_args = 1,
    .max_args = 1,
    .auth_args = ARG0,
    .synopsis = "ls REPO",
    .summary = "list the tags of a repository",
    .help = "Prints every tag of REPO (REGISTRY/REPOSITORY, no tag), one per line, following\n"
            "the registry's pagination to the end.\n"
            "\n"
            "  rr ls localhost:5000/demo/app\n",
};

const struct command cmd_catalog = {
    .name = "catalog",
    .run = run_catalog,
    .min_args = 1,
    .max_args = 1,
    .synopsis = "catalog REGISTRY",
    .summary = "list the repositories of a registry",
    .help = "Prints every repository of REGISTRY (HOST[:PORT]), one per line. Many public\n"
            "registries do not offer the catalog.\n"
            "\n"
            "  rr catalog localhost:5000\n",
};
