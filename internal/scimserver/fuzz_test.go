package scimserver

// Differential fuzz of the GET /Users filter fast path (issue 7,
// "Fuzzing"):
//
//	go test -run '^$' -fuzz '^FuzzParseUserFilter$' -fuzztime 5m -parallel 1 ./internal/scimserver/

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/webflowscim/bridge/internal/mapping"
)

// FuzzParseUserFilter compares parseUserFilter's regexp fast path with the
// full parser it short-cuts. Invariants:
//   - parseUserFilter never panics and terminates;
//   - whatever the fast path accepts translates to exactly one index
//     condition and no residual;
//   - for inputs both the fast path and filter.ParseFilter accept,
//     TranslateUserFilter gives equal queries and Matches agrees on
//     users built from the compared value;
//   - when the fast path declines, parseUserFilter is filter.ParseFilter.
func FuzzParseUserFilter(f *testing.F) {
	for _, s := range []string{
		`userName eq "test.user@okta.local"`,
		`userName eq "abcdefgh@atko.com"`,
		`userName eq "RUNSCOPE123XXXXXX123@ATKO.COM"`,
		`userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"`,
		`userName eq "non-existent user"`,
		`externalId eq "johnwong"`,
		`externalId eq jyoung`,
		`displayName eq "Test SCIMv2"`,
		`id eq "5d48a0a8e9f04aa38008"`,
		`emails.value eq "a@b.c"`,
		`emails[type eq "work"].value eq "x@y.com"`,
		`userName EQ "x"`, `userName Eq ""`, `  userName   eq   "x"  `, "userName\teq\t\"x\"\n",
		`username eq "x"`, `userName eq "a\"b"`, `userName eq "a\\b"`, `userName eq "é€😀"`,
		`userName eq "x" and active eq true`, `userName eq "x" or userName eq "y"`,
		`userName eq "\u0000"`, "userName eq \"\x00\xff\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		guard := time.AfterFunc(10*time.Second, func() { panic("fuzz: parseUserFilter did not terminate") })
		defer guard.Stop()

		got, gerr := parseUserFilter(raw)
		fast := simpleEq.FindStringSubmatch(raw) != nil
		full, ferr := filter.ParseFilter([]byte(raw))
		if !fast {
			if (gerr == nil) != (ferr == nil) || !reflect.DeepEqual(got, full) {
				t.Fatalf("slow path differs from filter.ParseFilter: %#v,%v vs %#v,%v", got, gerr, full, ferr)
			}
			return
		}
		if gerr != nil {
			t.Fatalf("fast path matched %q but returned %v", raw, gerr)
		}
		qf, err := mapping.TranslateUserFilter(got)
		if err != nil {
			t.Fatalf("fast path expression for %q does not translate: %v", raw, err)
		}
		if len(qf.Eq) != 1 || qf.Residual != nil {
			t.Fatalf("fast path %q translated to %+v, want one index condition", raw, qf)
		}
		if ferr != nil {
			return // the fast path is more lenient (e.g. tabs); nothing to compare
		}
		qp, err := mapping.TranslateUserFilter(full)
		if err != nil {
			var me *mapping.Error
			if !errors.As(err, &me) {
				t.Fatalf("TranslateUserFilter error %T %v", err, err)
			}
			t.Fatalf("parser accepts %q but its translation fails (%v) while the fast path gives %+v", raw, err, qf)
		}
		if !reflect.DeepEqual(qf, qp) {
			t.Fatalf("filter %q: fast path query %+v, parser query %+v", raw, qf, qp)
		}
		v := qf.Eq[0].Value
		for _, s := range []string{v, strings.ToUpper(v), strings.ToLower(v), "other"} {
			u := mapping.User{UserName: s, ExternalID: s, DisplayName: s, Emails: []mapping.Email{{Value: s, Type: "work"}}}
			mf, err1 := mapping.Matches(got, u, s)
			mp, err2 := mapping.Matches(full, u, s)
			if err1 != nil || err2 != nil || mf != mp {
				t.Fatalf("filter %q on %q: fast path Matches %v,%v; parser %v,%v", raw, s, mf, err1, mp, err2)
			}
		}
	})
}
