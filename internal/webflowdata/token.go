package webflowdata

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
)

// Token is a Webflow API token. It never prints: String, GoString, JSON and
// slog all show a redaction, so a token cannot leak into logs or errors by
// accident. Use Reveal only to build the Authorization header.
type Token string

const redacted = "[REDACTED]"

func (Token) String() string               { return redacted }
func (Token) GoString() string             { return redacted }
func (Token) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (Token) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
func (Token) MarshalText() ([]byte, error) { return []byte(redacted), nil }
func (t Token) Reveal() string             { return string(t) }

// Fingerprint is a stable, non-reversible label for the token: the first 16
// hex digits of its SHA-256. Rate limits are counted per token, so this is
// the key the Limiter sees and what logs may show.
func (t Token) Fingerprint() string {
	sum := sha256.Sum256([]byte(t))
	return "tok_" + hex.EncodeToString(sum[:8])
}
