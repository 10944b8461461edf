package scimserver

import (
	"strings"
	"testing"

	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/state"
)

// Cond.Holds on a record (indexed) agrees with the indexes' lower-casing (strings.ToLower), also
// where strings.EqualFold would not: Go lowers İ to i, EqualFold keeps
// them apart.
func TestCondHoldsFoldsLikeTheIndex(t *testing.T) {
	rec := &state.UserRecord{ID: "u1", UserName: "İnci@Example.com", Email: "İnci@example.com", DisplayName: "İnci K"}
	for _, tc := range []struct {
		attr, value string
		want        bool
	}{
		{"userName", strings.ToLower("İnci@Example.com"), true},
		{"userName", "İNCI@EXAMPLE.COM", true},
		{"userName", "inci@example.com", true},  // the index holds ToLower, which is this
		{"userName", "ınci@example.com", false}, // dotless ı is another letter for both
		{"email", strings.ToLower("İnci@example.com"), true},
		{"displayName", strings.ToLower("İnci K"), true},
		{"displayName", "İnci", false},
		{"displayName", "inci k", true},
		{"externalId", "x", false},
		{"id", "u1", true},
		{"userName", "", false},
	} {
		got, err := mapping.Cond{Attr: tc.attr, Value: tc.value}.Holds(indexed(rec), mapping.User{UserName: rec.UserName})
		if err != nil || got != tc.want {
			t.Errorf("%s eq %q: %v %v, want %v", tc.attr, tc.value, got, err, tc.want)
		}
	}
}
