package rr

/*
#include "rr.h"
*/
import "C"

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
