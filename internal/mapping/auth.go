package mapping

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"strings"
)

// TokenSet holds the SHA-256 digests of the bearer tokens one SCIM surface
// (a site, or the workspace) accepts. Config may give a token in plain text
// or as "sha256:<hex>", so secrets need not sit in config files. It lives
// here, beside the other pure SCIM helpers, so that both SCIM surfaces
// authenticate the same way.
type TokenSet [][sha256.Size]byte

// ParseTokens builds a TokenSet from config values.
func ParseTokens(list []string) (TokenSet, error) {
	var ts TokenSet
	for i, t := range list {
		t = strings.TrimSpace(t)
		if t == "" {
			return nil, fmt.Errorf("scim token %d is empty", i+1)
		}
		if hexd, ok := strings.CutPrefix(t, "sha256:"); ok {
			b, err := hex.DecodeString(hexd)
			if err != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("scim token %d: sha256: needs 64 hex digits", i+1)
			}
			ts = append(ts, [sha256.Size]byte(b))
			continue
		}
		ts = append(ts, sha256.Sum256([]byte(t)))
	}
	if len(ts) == 0 {
		return nil, errors.New("at least one scim token is required")
	}
	return ts, nil
}

// MatchIndex returns the 0-based position of the matching token (for an
// audit label that is not the secret), or -1. It compares against every
// digest in constant time, with no early exit.
func (ts TokenSet) MatchIndex(presented string) int {
	d := sha256.Sum256([]byte(presented))
	idx := -1
	for i := range ts {
		if subtle.ConstantTimeCompare(d[:], ts[i][:]) == 1 {
			idx = i
		}
	}
	return idx
}

// Match compares in constant time against every digest, with no early exit.
func (ts TokenSet) Match(presented string) bool {
	d := sha256.Sum256([]byte(presented))
	ok := 0
	for i := range ts {
		ok |= subtle.ConstantTimeCompare(d[:], ts[i][:])
	}
	return ok == 1
}

// Bearer extracts the token from an Authorization header.
func Bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// AcceptedMediaType reports whether a request body's Content-Type is one
// SCIM clients send: application/scim+json, application/json (or the odd
// text/json). A missing type is accepted (some scripts omit it). Both SCIM
// surfaces use it.
func AcceptedMediaType(ct string) bool {
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	switch mt {
	case "application/scim+json", "application/json", "text/json":
		return true
	}
	return false
}
