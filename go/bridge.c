// Trampolines between librr's callback types and the Go functions exported from
// callbacks.go. userdata is always a runtime/cgo.Handle stored in the pointer.
#include "bridge.h"
#include "_cgo_export.h"

static int32_t auth_tramp(void *ud, const char *registry, rr_credential *cred) {
	return rrgoAuth((uintptr_t)ud, (char *)registry, cred);
}

static int32_t progress_tramp(void *ud, uint64_t complete, uint64_t total) {
	return rrgoProgress((uintptr_t)ud, complete, total);
}

static int32_t blob_progress_tramp(void *ud, const rr_blob_progress *event) {
	return rrgoBlobProgress((uintptr_t)ud, (rr_blob_progress *)event);
}

static void log_tramp(void *ud, const char *line) {
	rrgoLog((uintptr_t)ud, (char *)line);
}

static int32_t transport_tramp(void *ud, rr_http_request *req, rr_http_response *resp) {
	return rrgoTransport((uintptr_t)ud, req, resp);
}

static int64_t body_read_tramp(void *ud, uint8_t *buf, size_t cap) {
	return rrgoBodyRead((uintptr_t)ud, buf, cap);
}

static void body_close_tramp(void *ud) {
	rrgoBodyClose((uintptr_t)ud);
}

static int32_t write_tramp(void *ud, const uint8_t *buf, size_t len) {
	return rrgoWrite((uintptr_t)ud, (uint8_t *)buf, len);
}

static int64_t read_tramp(void *ud, uint8_t *buf, size_t cap) {
	return rrgoRead((uintptr_t)ud, buf, cap);
}

static int32_t page_tramp(void *ud, const char *const *entries, size_t count) {
	return rrgoPage((uintptr_t)ud, (char **)entries, count);
}

rr_status rrgo_set_auth(rr_client *c, uintptr_t h) {
	return rr_client_set_auth_callback(c, h ? auth_tramp : NULL, (void *)h);
}

rr_status rrgo_set_progress(rr_client *c, uintptr_t h) {
	return rr_client_set_progress_callback(c, h ? progress_tramp : NULL, (void *)h);
}

rr_status rrgo_set_blob_progress(rr_client *c, uintptr_t h) {
	return rr_client_set_blob_progress_callback(c, h ? blob_progress_tramp : NULL, (void *)h);
}

rr_status rrgo_set_log(rr_client *c, uintptr_t h) {
	return rr_client_set_log_callback(c, h ? log_tramp : NULL, (void *)h);
}

rr_status rrgo_set_transport(rr_client *c, uintptr_t h) {
	return rr_client_set_transport(c, h ? transport_tramp : NULL, (void *)h);
}

rr_status rrgo_response_set_body(rr_http_response *resp, uintptr_t h) {
	return rr_http_response_set_body(resp, body_read_tramp, body_close_tramp, (void *)h);
}

rr_status rrgo_image_layer_read(const rr_image *img, size_t i, uintptr_t h) {
	return rr_image_layer_read(img, i, write_tramp, (void *)h);
}

rr_status rrgo_list_pages(rr_client *c, const char *repository, uintptr_t h) {
	return rr_list_pages(c, repository, page_tramp, (void *)h);
}

rr_status rrgo_catalog_pages(rr_client *c, const char *registry, uintptr_t h) {
	return rr_catalog_pages(c, registry, page_tramp, (void *)h);
}

rr_status rrgo_blob_read(rr_client *c, const char *reference, uintptr_t h) {
	return rr_blob_read(c, reference, write_tramp, (void *)h);
}

rr_status rrgo_blob_write_reader(rr_client *c, const char *repository, uintptr_t h,
                                 const char *expected_digest, const char *from_repository,
                                 char *digest, size_t digest_cap, uint64_t *size) {
	return rr_blob_write_reader(c, repository, read_tramp, (void *)h, expected_digest,
	                            from_repository, digest, digest_cap, size);
}
