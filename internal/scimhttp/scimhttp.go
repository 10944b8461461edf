// Package scimhttp holds what the bridge's own hand-written SCIM surfaces
// (workspace Groups, workspace members-mode Users) share on the wire: the
// bearer-token check with its failed-authentication budget, and SCIM
// error and resource answers. The site surface answers through elimity.
package scimhttp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/webflowscim/bridge/internal/authguard"
	"github.com/webflowscim/bridge/internal/mapping"
)

// WriteError answers a SCIM error (RFC 7644 §3.12) with its detail.
func WriteError(w http.ResponseWriter, status int, scimType, detail string) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	_, _ = w.Write(mapping.SCIMErrorJSON(status, scimType, detail))
}

// WriteJSON answers v as a SCIM resource or list.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Authenticate checks the request's bearer token against tokens, counting
// failures against guard's per-address budget. On failure it has answered
// (429 with Retry-After while the address is slowed down, else 401 with a
// WWW-Authenticate challenge in realm) and returns false.
func Authenticate(w http.ResponseWriter, r *http.Request, guard *authguard.Guard, tokens mapping.TokenSet, realm, surface string) bool {
	tok, ok := mapping.Bearer(r.Header.Get("Authorization"))
	auth := guard.Check(r, func() bool { return ok && tokens.Match(tok) })
	if auth.Limited() {
		secs := auth.RetryAfterSeconds()
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		WriteError(w, http.StatusTooManyRequests, "", fmt.Sprintf("too many failed authentications from this address; retry in %d s", secs))
		return false
	}
	if !auth.OK {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
		WriteError(w, http.StatusUnauthorized, "", "Authentication failed: missing or invalid bearer token for the "+surface)
		return false
	}
	return true
}
