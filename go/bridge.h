// C side of the Go binding: trampolines with the exact rr_*_fn signatures that forward
// to the //export Go functions in callbacks.go, and setters that take the cgo.Handle as
// an integer (so no Go code converts an integer into a pointer).
#ifndef RR_GO_BRIDGE_H
#define RR_GO_BRIDGE_H

#include <stdint.h>
#include <stdlib.h>
#include "rr.h"

rr_status rrgo_set_auth(rr_client *c, uintptr_t h);
rr_status rrgo_set_progress(rr_client *c, uintptr_t h);
rr_status rrgo_set_blob_progress(rr_client *c, uintptr_t h);
rr_status rrgo_set_log(rr_client *c, uintptr_t h);
rr_status rrgo_set_transport(rr_client *c, uintptr_t h);
rr_status rrgo_response_set_body(rr_http_response *resp, uintptr_t h);
rr_status rrgo_image_layer_read(const rr_image *img, size_t i, uintptr_t h);
rr_status rrgo_list_pages(rr_client *c, const char *repository, uintptr_t h);
rr_status rrgo_catalog_pages(rr_client *c, const char *registry, uintptr_t h);
rr_status rrgo_blob_read(rr_client *c, const char *reference, uintptr_t h);
rr_status rrgo_blob_write_reader(rr_client *c, const char *repository, uintptr_t h,
                                 const char *expected_digest, const char *from_repository,
                                 char *digest, size_t digest_cap, uint64_t *size);

#endif
