package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestTokenSet(t *testing.T) {
	d := sha256.Sum256([]byte("secret-b"))
	ts, err := ParseTokens([]string{"secret-a", "sha256:" + hex.EncodeToString(d[:])})
	if err != nil {
		t.Fatal(err)
	}
	for tok, want := range map[string]bool{"secret-a": true, "secret-b": true, "secret-c": false, "": false, "sha256:" + hex.EncodeToString(d[:]): false} {
		if ts.Match(tok) != want {
			t.Errorf("%q: %v", tok, !want)
		}
	}
	for _, bad := range [][]string{nil, {""}, {"sha256:zz"}, {"sha256:abcd"}} {
		if _, err := ParseTokens(bad); err == nil {
			t.Errorf("%q must be refused", bad)
		}
	}
	for h, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "Basic abc": "", "Bearer": "", "": ""} {
		if got, _ := Bearer(h); got != want {
			t.Errorf("%q: %q", h, got)
		}
	}
}
