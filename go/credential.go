package rr

/*
#include "rr.h"
*/
import "C"

import "fmt"

// Credential is what an AuthFunc gives for a registry: Basic, IdentityToken,
// RegistryToken, or nil for "none from me" (the client then tries its keychain).
type Credential interface {
	apply(a *cstrs, cred *C.rr_credential) C.rr_status
}

// Basic is a username and password.
type Basic struct {
	Username string
	Password string
}

// IdentityToken is an OAuth2 refresh token, exchanged at the registry's token server.
type IdentityToken string

// RegistryToken is a bearer token sent to the registry as it is.
type RegistryToken string

func (b Basic) apply(a *cstrs, cred *C.rr_credential) C.rr_status {
	u, p := a.str(b.Username, "the username"), a.str(b.Password, "the password")
	if a.err != nil {
		return C.RR_ERR_INVALID_ARGUMENT
	}
	return C.rr_credential_set_basic(cred, u, p)
}

func (t IdentityToken) apply(a *cstrs, cred *C.rr_credential) C.rr_status {
	s := a.str(string(t), "the identity token")
	if a.err != nil {
		return C.RR_ERR_INVALID_ARGUMENT
	}
	return C.rr_credential_set_identity_token(cred, s)
}

func (t RegistryToken) apply(a *cstrs, cred *C.rr_credential) C.rr_status {
	s := a.str(string(t), "the registry token")
	if a.err != nil {
		return C.RR_ERR_INVALID_ARGUMENT
	}
	return C.rr_credential_set_registry_token(cred, s)
}

// AuthFunc supplies credentials for a registry ("host[:port]", "index.docker.io" for
// Docker Hub). It is asked after the client's WithBasicAuth entries and before the
// keychain, at most once per registry per operation (once more after the registry
// rejected its answer). A nil Credential and nil error means "none from me"; an error
// fails the operation with StatusCallback. It may be called from several threads at
// once.
type AuthFunc func(registry string) (Credential, error)

// ProgressFunc receives the bytes done and in total of an operation's blobs; returning
// false cancels the operation (StatusCancelled). Calls are serialised, possibly on a
// library thread.
type ProgressFunc func(complete, total uint64) bool

// BlobPhase is where a blob stands in its operation (rr_blob_phase).
type BlobPhase int

const (
	BlobStarted     BlobPhase = C.RR_BLOB_STARTED     // the operation's first event; no blob named
	BlobWaiting     BlobPhase = C.RR_BLOB_WAITING     // planned, not begun (all blobs, in order, at the start)
	BlobChecking    BlobPhase = C.RR_BLOB_CHECKING    // asking the destination whether it has it
	BlobMounting    BlobPhase = C.RR_BLOB_MOUNTING    // asking the destination to mount it from another repository
	BlobUploading   BlobPhase = C.RR_BLOB_UPLOADING   // sending its bytes
	BlobDownloading BlobPhase = C.RR_BLOB_DOWNLOADING // receiving its bytes
	BlobVerifying   BlobPhase = C.RR_BLOB_VERIFYING   // every byte in, digest being checked
	BlobExists      BlobPhase = C.RR_BLOB_EXISTS      // final: the destination had it; nothing sent
	BlobMounted     BlobPhase = C.RR_BLOB_MOUNTED     // final: mounted; nothing sent
	BlobDone        BlobPhase = C.RR_BLOB_DONE        // final: sent or received, and verified
)

// String is the phase's name in lower case ("downloading", "exists", ...).
func (p BlobPhase) String() string {
	if p < 0 || p > BlobDone {
		return fmt.Sprintf("BlobPhase(%d)", int(p))
	}
	return C.GoString(C.rr_blob_phase_name(C.uint32_t(p)))
}

// Final reports whether the blob's part of its operation is over.
func (p BlobPhase) Final() bool { return p == BlobExists || p == BlobMounted || p == BlobDone }

// BlobProgress is one per-blob progress event (see WithBlobProgress).
type BlobProgress struct {
	Operation uint64 // unique in the process, the same for every event of one call
	Digest    string // "" for BlobStarted
	Phase     BlobPhase
	BlobSize  uint64
	BlobDone  uint64 // never decreases, at most BlobSize
	Complete  uint64 // the operation's bytes done
	Total     uint64 // and in total
}

// BlobProgressFunc receives per-blob progress events; returning false cancels the
// operation (StatusCancelled). Calls are serialised per operation, possibly on a library
// thread; two operations running at once call it concurrently, told apart by Operation.
type BlobProgressFunc func(BlobProgress) bool
