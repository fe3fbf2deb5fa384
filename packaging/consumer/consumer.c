/*
 * A tiny program built against an installed librr (pkg-config or find_package): it checks
 * that the header and the library agree on the version, and normalises a reference.
 */
#include <stdio.h>
#include <string.h>

#include <rr.h>

int main(void) {
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", RR_VERSION_MAJOR, RR_VERSION_MINOR,
             RR_VERSION_PATCH);
    if (strcmp(expected, rr_version()) != 0) {
        fprintf(stderr, "consumer: header %s, library %s\n", expected, rr_version());
        return 1;
    }
    char buf[256];
    size_t needed = 0;
    rr_status rc = rr_reference_normalize("ubuntu", buf, sizeof buf, &needed);
    if (rc != RR_OK) {
        fprintf(stderr, "consumer: %s (%s)\n", rr_error_message(), rr_status_name((int32_t)rc));
        return 1;
    }
    printf("librr %s: %s\n", rr_version(), buf);
    return strcmp(buf, "index.docker.io/library/ubuntu:latest") == 0 ? 0 : 1;
}
