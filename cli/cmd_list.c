/*
 * rr ls REPO and rr catalog REGISTRY: lists, one item per line, printed a
 * registry page at a time as the pages arrive (rr_list_pages,
 * rr_catalog_pages), so that a repository with 100 000 tags is never held
 * whole and the first lines come at once.
 */
#include "cli.h"

/* rr_page_fn: prints a page; a failing stdout stops the listing (RR_ERR_CANCELLED). */
static int32_t print_page(void *userdata, const char *const *entries, size_t count) {
    bool *stdout_failed = userdata;
    if (!print_lines(entries, count)) {
        *stdout_failed = true;
        return 1;
    }
    return 0;
}

/* The exit status of a listing: stdout's failure was already said, and is not a cancel. */
static int listing_status(const struct step *s, rr_status rc, bool stdout_failed) {
    if (stdout_failed) {
        return EXIT_FAILED;
    }
    return step_end(s, rc);
}

static int set_page_size(const struct cli *c, rr_client *client) {
    if (c->page_size == 0) {
        return EXIT_SUCCESS;
    }
    rr_status rc = rr_client_set_page_size(client, c->page_size);
    return rc == RR_OK ? EXIT_SUCCESS : report(rc);
}

static int run_ls(struct cli *c, rr_client *client) {
    const char *repo = c->args[0];
    int status = set_page_size(c, client);
    if (status != EXIT_SUCCESS) {
        return status;
    }
    struct step s;
    bool stdout_failed = false;
    step_begin(&s, c, "list the tags of %s", repo);
    rr_status rc = rr_list_pages(client, repo, print_page, &stdout_failed);
    return listing_status(&s, rc, stdout_failed);
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
    int status = set_page_size(c, client);
    if (status != EXIT_SUCCESS) {
        return status;
    }
    struct step s;
    bool stdout_failed = false;
    step_begin(&s, c, "list the repositories of %s", registry);
    rr_status rc = rr_catalog_pages(client, registry, print_page, &stdout_failed);
    return listing_status(&s, rc, stdout_failed);
}

const struct command cmd_ls = {
    .name = "ls",
    .run = run_ls,
    .min_args = 1,
    .max_args = 1,
    .options = OPT_PAGE_SIZE,
    .auth_args = ARG0,
    .synopsis = "ls [--page-size N] REPO",
    .summary = "list the tags of a repository",
    .help = "Prints every tag of REPO (REGISTRY/REPOSITORY, no tag), one per line, following\n"
            "the registry's pagination to the end. Each page is printed as it arrives, and\n"
            "the list is never held whole; after a failure part-way the tags printed so\n"
            "far stand, and the exit status says what failed.\n"
            "\n"
            "  --page-size N   ask for pages of N tags (1-1000; default: the registry's\n"
            "                  own page size, often all tags at once)\n"
            "\n"
            "  rr ls localhost:5000/demo/app\n"
            "  rr ls --page-size 100 localhost:5000/demo/app | head\n",
};

const struct command cmd_catalog = {
    .name = "catalog",
    .run = run_catalog,
    .min_args = 1,
    .max_args = 1,
    .options = OPT_PAGE_SIZE,
    .synopsis = "catalog [--page-size N] REGISTRY",
    .summary = "list the repositories of a registry",
    .help = "Prints every repository of REGISTRY (HOST[:PORT]), one per line, a page at a\n"
            "time as `ls` does. Many public registries do not offer the catalog.\n"
            "\n"
            "  --page-size N   ask for pages of N repositories (1-1000)\n"
            "\n"
            "  rr catalog localhost:5000\n",
};
