package mapping

import (
	"errors"
	"net/http"
	"reflect"
	"testing"

	filter "github.com/scim2/filter-parser/v2"
)

func parseF(t *testing.T, s string) filter.Expression {
	t.Helper()
	e, err := filter.ParseFilter([]byte(s))
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return e
}

func TestTranslateUserFilter(t *testing.T) {
	tests := []struct {
		filter   string
		eq       []Cond
		residual bool
		err      bool
	}{
		{`userName eq "Test.User@okta.local"`, []Cond{{CondUserName, "Test.User@okta.local"}}, false, false},
		{`USERNAME EQ "x"`, []Cond{{CondUserName, "x"}}, false, false},
		{`externalId eq "00u1"`, []Cond{{CondExternalID, "00u1"}}, false, false},
		{`id eq "u1"`, []Cond{{CondID, "u1"}}, false, false},
		{`displayName eq "D"`, []Cond{{CondDisplayName, "D"}}, false, false},
		{`emails.value eq "a@b.c"`, []Cond{{CondEmail, "a@b.c"}}, false, false},
		{`emails eq "a@b.c"`, []Cond{{CondEmail, "a@b.c"}}, false, false},
		{`emails[value eq "a@b.c"]`, []Cond{{CondEmail, "a@b.c"}}, false, false},
		{`emails[type eq "work" and value eq "a@b.c"]`, []Cond{{CondEmail, "a@b.c"}}, true, false},
		{`emails[value eq "a@b.c" and type eq "work"]`, []Cond{{CondEmail, "a@b.c"}}, true, false},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`, []Cond{{CondUserName, "x"}}, false, false},
		{`userName eq "a\"b"`, []Cond{{CondUserName, `a"b`}}, false, false},
		{`userName eq "x" and externalId eq "y"`, []Cond{{CondUserName, "x"}, {CondExternalID, "y"}}, false, false},
		{`userName eq "x" and active eq true`, []Cond{{CondUserName, "x"}}, true, false},
		{`userName eq "x" or externalId eq "y"`, nil, true, false},
		{`userName co "x"`, nil, true, false},
		{`userName sw "x"`, nil, true, false},
		{`not (userName eq "x")`, nil, true, false},
		{`name.familyName eq "F"`, nil, true, false},
		{`userName pr`, nil, true, false},
		{`emails[type eq "work"]`, nil, true, false},
		{`emails[type eq "work" or value co "x"]`, nil, true, false},
		{`userName eq 5`, nil, true, false},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`, nil, false, true},
		{`meta.lastModified gt "2020-01-01T00:00:00Z"`, nil, false, true},
		{`members[value eq "u1"]`, nil, false, true},
		{`emails[foo eq "x"]`, nil, false, true},
		{`addresses[type eq "work"]`, nil, false, true},
		{`department eq "x"`, nil, false, true},
		{`name eq "x"`, nil, false, true},
		{`active gt true`, nil, false, true},
		{`userName eq "x" and groups eq "g"`, nil, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			q, err := TranslateUserFilter(parseF(t, tc.filter))
			if tc.err {
				var e *Error
				if !errors.As(err, &e) || e.ScimType != ScimTypeInvalidFilter {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(q.Eq, tc.eq) || (q.Residual != nil) != tc.residual {
				t.Fatalf("got %+v residual=%v", q.Eq, q.Residual)
			}
		})
	}
	if q, err := TranslateUserFilter(nil); err != nil || q.Eq != nil || q.Residual != nil {
		t.Fatal("nil filter")
	}
	// Malformed ASTs do not panic.
	for _, e := range []filter.Expression{
		&filter.LogicalExpression{Operator: "xor"},
		&filter.LogicalExpression{Operator: filter.AND},
		&filter.NotExpression{},
		&filter.ValuePath{AttributePath: filter.AttributePath{AttributeName: "emails"}},
		(*filter.AttributeExpression)(nil),
	} {
		if _, err := TranslateUserFilter(e); err == nil {
			t.Errorf("%#v: no error", e)
		}
		if _, err := Matches(e, baseUser(), "u1"); err == nil {
			t.Errorf("%#v: Matches no error", e)
		}
	}
}

// TestTranslateUserFilterThroughElimity uses the ASTs elimity hands over
// for the IdP filters (idp-clients.md §0 item 7).
func TestTranslateUserFilterThroughElimity(t *testing.T) {
	tests := []struct {
		raw string
		eq  []Cond
	}{
		{`userName eq "test.user@okta.local"`, []Cond{{CondUserName, "test.user@okta.local"}}},
		{`externalId eq "johnwong"`, []Cond{{CondExternalID, "johnwong"}}},
		{`id eq "u1" and userName eq "x"`, []Cond{{CondID, "u1"}, {CondUserName, "x"}}},
		{RewriteFilter(`emails[type eq "work"].value eq "a@b.c"`), []Cond{{CondEmail, "a@b.c"}}},
		{`DisplayName eq "x"`, []Cond{{CondDisplayName, "x"}}},
	}
	for _, tc := range tests {
		expr, code, body := elimityFilter(t, tc.raw)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", tc.raw, code, body)
		}
		q, err := TranslateUserFilter(expr)
		if err != nil || !reflect.DeepEqual(q.Eq, tc.eq) {
			t.Fatalf("%s: %+v %v", tc.raw, q, err)
		}
	}
	// B23: elimity lets members[...] on Users through; we reject it.
	expr, code, _ := elimityFilter(t, `members[value eq "u"]`)
	if code == http.StatusOK {
		if _, err := TranslateUserFilter(expr); err == nil {
			t.Fatal("members filter on Users accepted")
		}
	}
}

func TestMatches(t *testing.T) {
	u := baseUser()
	u.Emails = append(u.Emails, Email{Value: "home@x.com", Type: "home"})
	tests := []struct {
		filter string
		want   bool
	}{
		{`userName eq "TEST.USER@OKTA.LOCAL"`, true},
		{`userName ne "TEST.USER@OKTA.LOCAL"`, false},
		{`externalId eq "00ujl29u0le5t6aj10h7"`, false},
		{`externalId eq "00ujl29u0le5T6Aj10h7"`, true},
		{`id eq "U1"`, false},
		{`id eq "u1"`, true},
		{`displayName co "st us"`, true},
		{`userName sw "test."`, true},
		{`userName ew "LOCAL"`, true},
		{`userName gt "a"`, true},
		{`userName lt "a"`, false},
		{`userName ge "test.user@okta.local"`, true},
		{`userName le "test"`, false},
		{`title pr`, false},
		{`nickName pr`, true},
		{`active eq true`, true},
		{`active ne true`, false},
		{`active pr`, true},
		{`name.givenName eq "test"`, true},
		{`emails.value eq "HOME@x.com"`, true},
		{`emails eq "home@x.com"`, true},
		{`emails.type eq "other"`, false},
		{`emails.primary eq true`, true},
		{`emails[type eq "work" and value eq "test.user@okta.local"]`, true},
		{`emails[type eq "work" and value eq "home@x.com"]`, false},
		{`emails[type eq "home" or primary eq true]`, true},
		{`emails[not (type eq "home")]`, true},
		{`emails[value co "nothing"]`, false},
		{`userName eq "x" or nickName eq "testy"`, true},
		{`not (userName eq "x")`, true},
		{`userName eq "x" and nickName eq "testy"`, false},
		{`userName eq "a\"b"`, false},
		{`userName eq true`, false},
		{`active eq "true"`, false},
		{`locale eq null`, false},
		{`title eq null`, true},
	}
	for _, tc := range tests {
		got, err := Matches(parseF(t, tc.filter), u, "u1")
		if err != nil || got != tc.want {
			t.Errorf("%s: got %v %v want %v", tc.filter, got, err, tc.want)
		}
	}
	if _, err := Matches(parseF(t, `department eq "x"`), u, "u1"); err == nil {
		t.Error("unknown attribute accepted")
	}
	if ok, err := Matches(nil, u, "u1"); !ok || err != nil {
		t.Error("nil filter")
	}
	quoted := User{UserName: `a"b`}
	if ok, _ := Matches(parseF(t, `userName eq "A\"B"`), quoted, "x"); !ok {
		t.Error("escaped quote not unescaped")
	}
}

// IndexedOnly is true only where Holds reads nothing but the indexed
// values: there, a zero User gives the same answer as the decoded one.
func TestQueryIndexedOnly(t *testing.T) {
	ix := Indexed{ID: "id1", UserName: "Ada@Example.com", ExternalID: "00u1", DisplayName: "Ada L", Email: "ada@example.com"}
	u := User{UserName: "Ada@Example.com", ExternalID: "00u1", DisplayName: "Ada L", Active: true,
		Name: Name{GivenName: "Ada", FamilyName: "L"}, Emails: []Email{{Value: "ada@example.com", Type: "work", Primary: true}, {Value: "other@example.com"}}}
	for _, tc := range []struct {
		filter  string
		indexed bool
	}{
		{`userName eq "ada@example.com"`, true},
		{`userName eq "bob@example.com"`, true},
		{`USERNAME eq "ADA@EXAMPLE.COM"`, true},
		{`externalId eq "00u1"`, true},
		{`id eq "id1"`, true},
		{`displayName eq "ada l"`, true},
		{`userName eq "ada@example.com" and externalId eq "00u1"`, true},
		{`emails.value eq "other@example.com"`, false},
		{`emails[type eq "work" and value eq "ada@example.com"]`, false},
		{`userName eq "ada@example.com" and active eq true`, false},
		{`name.givenName eq "Ada"`, false},
		{`userName sw "ada"`, false},
	} {
		q, err := TranslateUserFilter(parseF(t, tc.filter))
		if err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		if got := q.IndexedOnly(); got != tc.indexed {
			t.Errorf("%s: IndexedOnly %v, want %v", tc.filter, got, tc.indexed)
			continue
		}
		if !tc.indexed {
			continue
		}
		full, err1 := q.Holds(ix, u)
		zero, err2 := q.Holds(ix, User{})
		if full != zero || (err1 == nil) != (err2 == nil) {
			t.Errorf("%s: Holds with the user %v (%v), with a zero user %v (%v)", tc.filter, full, err1, zero, err2)
		}
	}
}
