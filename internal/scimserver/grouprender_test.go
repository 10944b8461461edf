package scimserver

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/webflowscim/bridge/internal/state"
)

// TestAppendGroupMatchesMarshal: the typed group renderer writes the bytes
// json.Marshal writes for the map the projection path builds, for names
// that need escaping too.
func TestAppendGroupMatchesMarshal(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	base := "https://bridge.example/sites/s1/scim/v2"
	tests := []struct {
		name        string
		v           groupView
		members     []state.GroupMember
		withMembers bool
	}{
		{"plain", groupView{ID: "6b087a7ee91ee8385b007a31", Slug: "members", Name: "Members", DisplayName: "Members", Created: created, Modified: created}, nil, true},
		{"no members asked", groupView{ID: "g1", Slug: "s", Name: "N", DisplayName: "D", ExternalID: "ext-1", Created: created, Modified: created.Add(time.Hour)}, []state.GroupMember{{ID: "u1", UserName: "a"}}, false},
		{"escapes", groupView{ID: "g/ü 1", Slug: "a&b", Name: "<Staff>", DisplayName: "Quote \" back \\ tab \t nl \n \u2028 \x01 é 🙂", ExternalID: "x<y>", Created: created, Modified: created},
			[]state.GroupMember{{ID: "u 1/é", UserName: "ann+<&>@example.com"}, {ID: "u2", UserName: "bo\"\\\u2029"}, {ID: "u3", UserName: "\xff bad utf8"}}, true},
	}
	// Enough members for several streamed pieces, some needing escapes.
	many := make([]state.GroupMember, 2000)
	for i := range many {
		many[i] = state.GroupMember{ID: fmt.Sprintf("%024x", i), UserName: fmt.Sprintf("member.%06d@example.com", i)}
		if i%7 == 0 {
			many[i] = state.GroupMember{ID: fmt.Sprintf("u %d/é", i), UserName: fmt.Sprintf("<m&%d>\u2028\"", i)}
		}
	}
	tests = append(tests, struct {
		name        string
		v           groupView
		members     []state.GroupMember
		withMembers bool
	}{"2,000 members", groupView{ID: "g2", Slug: "big", Name: "Big", DisplayName: "Big", Created: created, Modified: created}, many, true})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := appendGroup(nil, tc.v, tc.members, tc.withMembers, base, nil)
			// Streamed in pieces: the same bytes.
			var streamed []byte
			last := appendGroup(nil, tc.v, tc.members, tc.withMembers, base, func(b []byte) []byte {
				streamed = append(streamed, b...)
				return b[:0]
			})
			if streamed = append(streamed, last...); string(streamed) != string(got) || (len(got) > 2*streamChunk && len(last) >= len(got)/2) {
				t.Errorf("streamed:\n got %s\nwant %s", streamed, got)
			}
			attrs := map[string]any{
				"displayName":     tc.v.DisplayName,
				GroupExtensionURN: map[string]any{"slug": tc.v.Slug, "accessGroupName": tc.v.Name, "linked": true},
				"id":              tc.v.ID,
				"schemas":         groupSchemas,
				"meta": map[string]any{"resourceType": "Group", "location": base + "/Groups/" + url.PathEscape(tc.v.ID),
					"created": tc.v.Created.UTC().Format(time.RFC3339), "lastModified": tc.v.Modified.UTC().Format(time.RFC3339)},
			}
			if tc.v.ExternalID != "" {
				attrs["externalId"] = tc.v.ExternalID
			}
			if tc.withMembers {
				ms := []map[string]any{}
				for _, m := range tc.members {
					ms = append(ms, map[string]any{"value": m.ID, "display": m.UserName, "$ref": base + "/Users/" + url.PathEscape(m.ID), "type": "User"})
				}
				attrs["members"] = ms
			}
			want, err := json.Marshal(attrs)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("appendGroup:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestGroupBytes: the buffer groupBytes sizes holds the whole answer when
// no name or id needs escaping (a 10,000-member answer is never copied to
// a larger buffer), and is not much larger than it.
func TestGroupBytes(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v := groupView{ID: "6b087a7ee91ee8385b007a31", Slug: "premium", Name: "Premium", DisplayName: "Premium (Okta)", ExternalID: "00g1", Created: created, Modified: created}
	for _, n := range []int{0, 1, 10_000} {
		ms := make([]state.GroupMember, n)
		for i := range ms {
			ms[i] = state.GroupMember{ID: fmt.Sprintf("%024x", i), UserName: fmt.Sprintf("member.%06d@example.com", i)}
		}
		for _, base := range []string{"", "https://bridge.example/sites/6b087a7ee91ee8385b007a00/scim/v2"} {
			size := groupBytes(v, ms, base)
			b := appendGroup(make([]byte, 0, size), v, ms, true, base, nil)
			if len(b) > size || cap(b) != size {
				t.Errorf("%d members, base %q: answer %d bytes, sized %d (cap %d)", n, base, len(b), size, cap(b))
			}
			if slack := size - len(b); slack > 1024+n {
				t.Errorf("%d members, base %q: %d bytes more than the answer", n, base, slack)
			}
		}
	}
}

// TestPlainGroupRender: only no projection, or leaving out the members,
// takes the typed renderer.
func TestPlainGroupRender(t *testing.T) {
	tests := []struct {
		inc, exc           []string
		plain, withMembers bool
	}{
		{nil, nil, true, true},
		{nil, []string{"members"}, true, false},
		{nil, []string{"MEMBERS", groupSchemaURN + ":members"}, true, false},
		{nil, []string{"displayName"}, false, false},
		{[]string{"members"}, nil, false, false},
	}
	for _, tc := range tests {
		if plain, with := plainGroupRender(tc.inc, tc.exc); plain != tc.plain || with != tc.withMembers {
			t.Errorf("plainGroupRender(%v, %v) = %v, %v; want %v, %v", tc.inc, tc.exc, plain, with, tc.plain, tc.withMembers)
		}
	}
}
