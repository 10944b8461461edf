package mapping

import (
	"reflect"
	"testing"

	filter "github.com/scim2/filter-parser/v2"
)

// samePath compares parsePath with the library's parser: the same error
// outcome and, on success, the same structure.
func samePath(t *testing.T, p string) {
	t.Helper()
	got, gerr := parsePath(p)
	want, werr := filter.ParsePath([]byte(p))
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("%q: parsePath error %v, ParsePath error %v", p, gerr, werr)
	}
	if gerr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: parsePath %#v, ParsePath %#v", p, got, want)
	}
}

func TestParsePathMatchesTheParser(t *testing.T) {
	for _, p := range []string{
		"active", "userName", "name.givenName", "name.familyName", "emails", "x-1_y",
		"urn", "a", "A9", "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
		`emails[type eq "work"].value`, `members[value eq "x"]`, "name.givenName.x",
		"", ".", "name.", ".name", "1abc", "_a", "-a", "a b", "a.b c", "name..x",
		"émail", "a\x00", "name.1", "name.-x", "name._x", "n.a.m.e",
	} {
		samePath(t, p)
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"active", "name.givenName", `emails[type eq "work"].value`, "urn:x:y", "a.b.c", "1a", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) { samePath(t, p) })
}

func BenchmarkParsePath(b *testing.B) {
	for _, p := range []string{"active", "name.givenName"} {
		b.Run(p, func(b *testing.B) {
			b.Run("fast", func(b *testing.B) {
				for b.Loop() {
					_, _ = parsePath(p)
				}
			})
			b.Run("parser", func(b *testing.B) {
				for b.Loop() {
					_, _ = filter.ParsePath([]byte(p))
				}
			})
		})
	}
}
