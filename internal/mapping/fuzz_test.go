package mapping

// Fuzz targets for filter translation, PATCH normalisation/application and
// SCIM resource decoding (issue 7, "Fuzzing"). FuzzNormalizePatchBody and
// FuzzRewriteFilter live in normalize_test.go; the targets here add
// semantic invariants on top of "never panics".
//
// Run one with, e.g.
//
//	go test -run '^$' -fuzz '^FuzzTranslateUserFilter$' -fuzztime 5m -parallel 1 ./internal/mapping/
//
// Without -fuzz, go test replays the seeds below and testdata/fuzz/<Name>/.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/elimity-com/scim"
	filter "github.com/scim2/filter-parser/v2"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// fzHangGuard crashes the fuzz worker (which the engine records as a
// failing input) when one execution runs longer than d: Go's fuzzer has
// no per-input timeout of its own.
func fzHangGuard(d time.Duration, what string) func() bool {
	return time.AfterFunc(d, func() { panic("fuzz: " + what + " did not terminate within " + d.String()) }).Stop
}

// fzFilterSeeds are filters the IdPs send (idp-clients.md 1.3, 1.4, 2.2,
// 2.3, Q10, Q24) plus hostile and edge shapes.
var fzFilterSeeds = []string{
	`userName eq "test.user@okta.local"`,
	`userName eq "abcdefgh@atko.com"`,
	`userName eq "RUNSCOPE123XXXXXX123@ATKO.COM"`,
	`userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"`,
	`userName eq "non-existent user"`,
	`externalId eq "johnwong"`,
	`externalId eq jyoung`,
	`displayName eq "Test SCIMv2"`,
	`id eq "5d48a0a8e9f04aa38008"`,
	`emails[type eq "work"].value eq "Test_User_11bb@testuser.com"`,
	`emails[type eq "work" and value eq "a@b.c"]`,
	`emails[value eq "a@b.c"]`,
	`emails.value eq "a@b.c"`,
	`emails eq "a@b.c"`,
	`emails[primary eq true]`,
	`emails.primary eq "true"`,
	`userName eq "a" and externalId eq "b"`,
	`userName eq "a" AND externalId eq "b" and displayName eq ""`,
	`userName Eq "x" or userName EQ "y"`,
	`not (userName eq "a") and emails[type eq "work"]`,
	`userName sw "t" and not (emails.value co "okta")`,
	`active eq true`,
	`active eq "False"`,
	`name.familyName pr or title ne "x"`,
	`name.givenName ge "A" and name.givenName lt "Z"`,
	`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`,
	`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`,
	`urn:ietf:params:scim:schemas:extension:webflow:2.0:User:data.country eq "NZ"`,
	`meta.lastModified gt "2011-05-13T04:42:34Z"`,
	`members[value eq "x"]`,
	`DisplayName eq "displayName"`,
	`userName eq "a\"b" or userName eq "c\\d" or userName eq "\u00e9"`,
	`userName eq null`,
	`userName ne null`,
	`userName eq 1`,
	`emails[type eq "work" or value ew ".com"].value eq "x"`,
	`emails[not (type eq "home")]`,
	`((userName eq "a"))`,
	`userName eq "` + strings.Repeat("a", 300) + `"`,
	`userName eq "a" and (`, `"`, `[`, `]`, ``,
}

// fzStringValues collects the string compare values of expr, unescaped as
// the translator unescapes them, so that the users fzUsers builds can make
// the filter's conditions true.
func fzStringValues(e filter.Expression, out *[]string) {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		if s, ok := compareString(x.CompareValue); ok {
			*out = append(*out, s)
		}
	case *filter.LogicalExpression:
		fzStringValues(x.Left, out)
		fzStringValues(x.Right, out)
	case *filter.NotExpression:
		fzStringValues(x.Expression, out)
	case *filter.ValuePath:
		fzStringValues(x.ValueFilter, out)
	}
}

// fzUsers returns users for evaluating expr on: a realistic one, an empty
// one, and users whose every string attribute is one of the filter's own
// compare values (in both letter cases), so that eq/sw/… conditions can be
// true.
func fzUsers(e filter.Expression) []User {
	us := []User{
		{
			UserName: "test.user@okta.local", ExternalID: "00ujl29u0le5T6Aj10h7", DisplayName: "Test User",
			Name:   Name{GivenName: "Test", FamilyName: "User", Formatted: "Test User"},
			Emails: []Email{{Value: "test.user@okta.local", Type: "work", Primary: true}, {Value: "t@home.example", Type: "home"}},
			Active: true, NickName: "Testy", Title: "QA", Locale: "en-US",
		},
		{},
	}
	var vals []string
	fzStringValues(e, &vals)
	if len(vals) > 6 {
		vals = vals[:6]
	}
	for i, v := range vals {
		for _, s := range []string{v, strings.ToUpper(v)} {
			u := User{
				UserName: s, ExternalID: s, DisplayName: s, NickName: s, Title: s, UserType: s,
				PreferredLanguage: s, Locale: s, Timezone: s, Active: i%2 == 0,
				Name: Name{Formatted: s, FamilyName: s, GivenName: s, MiddleName: s, HonorificPrefix: s, HonorificSuffix: s},
			}
			for j, w := range vals {
				u.Emails = append(u.Emails, Email{Value: w, Type: vals[(j+1)%len(vals)], Primary: j == i})
			}
			us = append(us, u)
		}
	}
	return us
}

// fzCondHolds evaluates one index condition with Matches' semantics: an
// empty attribute matches nothing; userName, displayName and emails
// compare after strings.ToLower (as the indexes store them), externalId
// and id exactly.
func fzCondHolds(c Cond, u User, id string) bool {
	eqFold := func(a, b string) bool { return a != "" && strings.ToLower(a) == strings.ToLower(b) }
	switch c.Attr {
	case CondUserName:
		return eqFold(u.UserName, c.Value)
	case CondDisplayName:
		return eqFold(u.DisplayName, c.Value)
	case CondExternalID:
		return u.ExternalID != "" && u.ExternalID == c.Value
	case CondID:
		return id != "" && id == c.Value
	case CondEmail:
		for _, e := range u.Emails {
			if eqFold(e.Value, c.Value) {
				return true
			}
		}
		return false
	}
	panic("unknown Cond attribute " + c.Attr)
}

func fzWantFilterError(t *testing.T, what string, err error) {
	t.Helper()
	var me *Error
	if !errors.As(err, &me) {
		t.Fatalf("%s: error %T %v is not a *mapping.Error", what, err, err)
	}
	if me.ScimType != ScimTypeInvalidFilter || me.Status != 400 || me.Detail == "" {
		t.Fatalf("%s: error %+v, want invalidFilter/400 with a detail", what, me)
	}
}

// FuzzTranslateUserFilter: RewriteFilter → filter.ParseFilter →
// TranslateUserFilter and Matches. Invariants:
//   - nothing panics, everything terminates;
//   - every error is an invalidFilter *Error (status 400, detail set);
//   - TranslateUserFilter and Matches accept exactly the same filters;
//   - the translation is exact: for every user, Matches(expr) equals
//     "every Eq condition holds and Matches(Residual)";
//   - a query with no Eq conditions keeps the whole filter as Residual.
func FuzzTranslateUserFilter(f *testing.F) {
	for _, s := range fzFilterSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		defer fzHangGuard(10*time.Second, "filter translation")()
		rewritten := RewriteFilter(raw)
		expr, err := filter.ParseFilter([]byte(rewritten))
		if err != nil {
			return
		}
		q, terr := TranslateUserFilter(expr)
		users := fzUsers(expr)
		if terr != nil {
			fzWantFilterError(t, "TranslateUserFilter", terr)
			if _, merr := Matches(expr, users[0], "u1"); merr == nil {
				t.Fatalf("Matches accepts %q which TranslateUserFilter rejects: %v", rewritten, terr)
			}
			return
		}
		if len(q.Eq) == 0 && q.Residual == nil {
			t.Fatalf("%q translated to an empty query (would list everyone)", rewritten)
		}
		for _, c := range q.Eq {
			switch c.Attr {
			case CondUserName, CondExternalID, CondID, CondEmail, CondDisplayName:
			default:
				t.Fatalf("non-canonical Cond %+v", c)
			}
		}
		for i, u := range users {
			id := "u1"
			if i > 1 {
				id = u.ExternalID // lets id eq conditions be true
			}
			whole, err := Matches(expr, u, id)
			if err != nil {
				t.Fatalf("Matches rejects %q which TranslateUserFilter accepted: %v", rewritten, err)
			}
			split := true
			for _, c := range q.Eq {
				split = split && fzCondHolds(c, u, id)
			}
			if q.Residual != nil {
				r, err := Matches(q.Residual, u, id)
				if err != nil {
					fzWantFilterError(t, "Matches(Residual)", err)
					t.Fatalf("Residual of %q rejected: %v", rewritten, err)
				}
				split = split && r
			}
			if whole != split {
				t.Fatalf("filter %q on user %+v (id %q): Matches=%v but Eq %+v + Residual %v gives %v",
					rewritten, u, id, whole, q.Eq, q.Residual, split)
			}
		}
	})
}

// fzPatchSeeds are PATCH bodies the IdPs send (idp-clients.md 1.3, 1.4,
// 2.2, 2.3, 2.4, Q1–Q15) and malformed ones.
var fzPatchSeeds = []string{
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"password":"1mz050nq"}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@microsoft.com"},{"op":"Replace","path":"name.familyName","value":"updatedFamilyName"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"userName","value":"5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}]}`,
	`{"Operations":[{"op":"Replace","path":"active","value":false}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"nickName","value":"Babs"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"displayName","value":"Bjfe"},{"op":"Replace","path":"emails[type eq \"work\"].value","value":"x@y.com"},{"op":"Replace","path":"name.givenName","value":"Kkom"},{"op":"Replace","path":"name.familyName","value":"Unua"},{"op":"Replace","path":"externalId","value":"e1"},{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"Aklq"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"emails[type eq \"work\"].value","value":"x@y.com"},{"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom","name.familyName":"Unua","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"Aklq"}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"manager","value":[{"$ref":"http://example.com/Users/00aa","value":"00aa"}]}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"00aa"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"manager[value eq \"00aa\"]"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"emails[type eq \"untyped\"].value","value":"u@x.com"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":""},{"op":"replace","path":"title","value":null},{"op":"replace","path":"name","value":""}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"emails","value":[{"value":"a@b.c","primary":true},{"value":"d@e.f","primary":"True","type":"home"}]},{"op":"add","path":"emails","value":{"value":"g@h.i"}},{"op":"remove","path":"emails","value":[{"value":"a@b.c"}]}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"emails.value","value":""},{"op":"add","path":"emails.primary","value":true},{"op":"remove","path":"emails[value eq \"x\"].type"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:webflow:2.0:User":{"data":{"country":"NZ","accept-privacy":"true","job-title":null}}}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:webflow:2.0:User:data.Accept-Communications","value":1},{"op":"replace","path":"data","value":{"country":7}},{"op":"remove","path":"data.country"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:webflow:2.0:User:data.Accept-Communications","value":"1"},{"op":"replace","path":"data","value":{"country":"7"}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"emails","value":"g@h.i"},{"op":"replace","path":"userName","value":42},{"op":"replace","value":{"name":{"givenName":5}}},{"op":"add","path":"title"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"urn:ietf:params:scim:schemas:core:2.0:User":{"userName":"new@x.com","name":{"givenName":"A","familyName":null}},"id":"x","meta":{},"schemas":[]}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"id","value":"x"},{"op":"remove","path":"userName"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]"},{"op":"add","path":"members","value":[{"value":"23a35c27","display":"test.user@okta.local"}]}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"id":"abf4dd94","displayName":"Test SCIMv2"}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members","value":[{"$ref":null,"value":"f648f8d5ea4e4cd38e9c"}]},{"op":"replace","value":{"members":["a","b"]}}]}`,
	`{"Operations":[null,1,"x",{"op":1},{"op":"add","path":1},{"op":"move","path":"userName"},{"op":"add","path":"emails[","value":1}]}`,
	`{"Operations":[{"op":"add","path":"emails[type eq \"work\" and primary eq true]","value":{"value":"w@x.com","display":"d"}}]}`,
	`{"Operations":[],"operations":[]}`, `{"Operations":{}}`, `{}`, `[]`, `{`, `null`,
}

// fzUser is the stored user PATCHes are applied to.
func fzUser() User {
	return User{
		UserName: "test.user@okta.local", ExternalID: "00ujl29u0le5T6Aj10h7", DisplayName: "Test User",
		Name:   Name{GivenName: "Test", FamilyName: "User", MiddleName: "M"},
		Emails: []Email{{Value: "test.user@okta.local", Type: "work", Primary: true}, {Value: "t@home.example", Type: "home"}},
		Active: true, NickName: "Testy", Locale: "en-US",
		Data: webflowdata.UserData{"country": "NZ", "accept-privacy": true},
	}
}

// fzOps decodes a PATCH body's operations the way elimity hands them to
// the handler: op string, path parsed with filter.ParsePath, value decoded
// with UseNumber. Operations elimity would reject as a whole (non-object,
// non-string op or path, unparsable path) are skipped.
func fzOps(body []byte) []scim.PatchOperation {
	var top map[string]any
	if decodeJSON(body, &top) != nil {
		return nil
	}
	var list []any
	for k, v := range top {
		if strings.EqualFold(k, "Operations") {
			list, _ = v.([]any)
		}
	}
	var ops []scim.PatchOperation
	for _, raw := range list {
		m, ok := raw.(map[string]any)
		if !ok {
			continue
		}
		var op scim.PatchOperation
		bad := false
		for k, v := range m {
			switch strings.ToLower(k) {
			case "op":
				op.Op, ok = v.(string)
				bad = bad || !ok
			case "path":
				s, ok := v.(string)
				if !ok {
					bad = bad || v != nil
					continue
				}
				p, err := filter.ParsePath([]byte(s))
				if err != nil {
					bad = true
					continue
				}
				op.Path = &p
			case "value":
				op.Value = v
			}
		}
		if !bad {
			ops = append(ops, op)
		}
	}
	return ops
}

// fzCheckUser checks what ApplyPatch and FromAttributes promise about a
// User they return.
func fzCheckUser(t *testing.T, what string, u User) {
	t.Helper()
	primaries := 0
	for _, e := range u.Emails {
		if e.Primary {
			primaries++
		}
		if strings.TrimSpace(e.Value) == "" || e.Value != strings.TrimSpace(e.Value) {
			t.Fatalf("%s: email element with an empty or untrimmed value: %+v", what, u.Emails)
		}
	}
	if primaries > 1 {
		t.Fatalf("%s: %d primary emails: %+v", what, primaries, u.Emails)
	}
	for k, v := range u.Data {
		if strings.EqualFold(k, webflowdata.DataEmail) || strings.EqualFold(k, webflowdata.DataName) {
			t.Fatalf("%s: data holds derived key %q", what, k)
		}
		switch x := v.(type) {
		case bool, float64:
		case string:
			if x == "" {
				t.Fatalf("%s: data.%s holds \"\" (should be deleted)", what, k)
			}
		default:
			t.Fatalf("%s: data.%s holds %T %v", what, k, v, v)
		}
		if isConsentKey(k) {
			if _, ok := v.(bool); !ok {
				t.Fatalf("%s: consent flag data.%s is %T", what, k, v)
			}
		}
	}
	if u.Data != nil && len(u.Data) == 0 {
		t.Fatalf("%s: empty non-nil Data", what)
	}
	if u.Emails != nil && len(u.Emails) == 0 {
		t.Fatalf("%s: empty non-nil Emails", what)
	}
}

// fzRoundTrip checks that u survives rendering (ToAttributes →
// FromAttributes) and storage (JSON blob) unchanged.
func fzRoundTrip(t *testing.T, what string, u User) {
	t.Helper()
	back, err := FromAttributes(ToAttributes(u, WebflowView{UserID: "wf1", Status: "verified", AccessGroups: []string{"members"}}))
	if err != nil {
		t.Fatalf("%s: FromAttributes(ToAttributes(u)) failed: %v\nu=%+v", what, err, u)
	}
	if !reflect.DeepEqual(back, u) {
		t.Fatalf("%s: ToAttributes/FromAttributes round trip changed the user\n got %#v\nwant %#v", what, back, u)
	}
	blob, err := json.Marshal(u)
	if err != nil {
		t.Fatalf("%s: json.Marshal: %v", what, err)
	}
	var stored User
	if err := json.Unmarshal(blob, &stored); err != nil {
		t.Fatalf("%s: stored blob does not decode: %v", what, err)
	}
	if !reflect.DeepEqual(stored, u) {
		t.Fatalf("%s: JSON blob round trip changed the user\n got %#v\nwant %#v", what, stored, u)
	}
}

// FuzzApplyPatch: a PATCH body → operations (as decoded by elimity, both
// raw and after NormalizePatchBody) → ApplyPatch. Invariants:
//   - never panics, terminates;
//   - the input user is never modified (ApplyPatch works on a copy);
//   - on error it returns the input user unchanged and a *mapping.Error
//     with one of the documented ScimTypes and status 400;
//   - on success the user is well formed (fzCheckUser), keeps a non-empty
//     userName, and survives the render and storage round trips.
func FuzzApplyPatch(f *testing.F) {
	for _, s := range fzPatchSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		defer fzHangGuard(10*time.Second, "ApplyPatch")()
		bodies := [][]byte{body}
		if norm, _, err := NormalizePatchBody(body, testCustomFields...); err == nil && !bytes.Equal(norm, body) {
			bodies = append(bodies, norm)
		}
		for bi, b := range bodies {
			ops := fzOps(b)
			if len(ops) == 0 {
				continue
			}
			in := fzUser()
			orig := in.Clone()
			out, err := ApplyPatch(in, ops)
			if !reflect.DeepEqual(in, orig) {
				t.Fatalf("body %d: ApplyPatch modified its input\n got %#v\nwant %#v", bi, in, orig)
			}
			if err != nil {
				var me *Error
				if !errors.As(err, &me) {
					t.Fatalf("body %d: error %T %v is not a *mapping.Error", bi, err, err)
				}
				switch me.ScimType {
				case ScimTypeInvalidPath, ScimTypeNoTarget, ScimTypeMutability, ScimTypeInvalidValue:
				default:
					t.Fatalf("body %d: undocumented ScimType %q (%v)", bi, me.ScimType, err)
				}
				if me.Status != 400 || me.Detail == "" {
					t.Fatalf("body %d: error %+v", bi, me)
				}
				if !reflect.DeepEqual(out, orig) {
					t.Fatalf("body %d: on error ApplyPatch returned a changed user\n got %#v\nwant %#v", bi, out, orig)
				}
				continue
			}
			if strings.TrimSpace(out.UserName) == "" {
				t.Fatalf("body %d: userName emptied: %#v", bi, out)
			}
			what := fmt.Sprintf("body %d (%q)", bi, b)
			fzCheckUser(t, what, out)
			fzRoundTrip(t, what, out)
		}
	})
}

// FuzzNormalizeIdempotent: normalising an already normalised body gives
// the same bytes (users and groups), "empty" agrees with the output, and
// the output keeps only the operations ApplyPatch understands.
func FuzzNormalizeIdempotent(f *testing.F) {
	for _, s := range fzPatchSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		defer fzHangGuard(10*time.Second, "NormalizePatchBody")()
		for _, kind := range []struct {
			name string
			norm func([]byte) ([]byte, bool, error)
		}{
			{"users", func(b []byte) ([]byte, bool, error) { return NormalizePatchBody(b, testCustomFields...) }},
			{"groups", NormalizeGroupPatchBody},
		} {
			once, empty, err := kind.norm(body)
			if err != nil {
				var me *Error
				if !errors.As(err, &me) || (me.ScimType != ScimTypeInvalidSyntax && me.ScimType != ScimTypeInvalidValue) || me.Detail == "" {
					t.Fatalf("%s: error %T %v, want an invalidSyntax or invalidValue *Error", kind.name, err, err)
				}
				continue
			}
			if bytes.Equal(once, body) {
				if empty {
					t.Fatalf("%s: unchanged body reported empty", kind.name)
				}
				continue // passed through for elimity to judge
			}
			var top map[string]any
			if err := json.Unmarshal(once, &top); err != nil {
				t.Fatalf("%s: output is not a JSON object: %q", kind.name, once)
			}
			n := -1
			for k, v := range top {
				if strings.EqualFold(k, "Operations") {
					l, ok := v.([]any)
					if !ok {
						t.Fatalf("%s: Operations is %T in %q", kind.name, v, once)
					}
					n = len(l)
				}
			}
			if n < 0 || empty != (n == 0) {
				t.Fatalf("%s: empty=%v with %d operations: %q", kind.name, empty, n, once)
			}
			twice, empty2, err := kind.norm(once)
			if err != nil {
				t.Fatalf("%s: normalising the normalised body failed: %v\n%q", kind.name, err, once)
			}
			// An emptied list is passed through on the second pass (empty
			// is only reported for lists the normaliser emptied itself).
			if !bytes.Equal(once, twice) || (n > 0 && empty2) {
				t.Fatalf("%s: not idempotent\n in   %q\n once %q\n twice %q", kind.name, body, once, twice)
			}
		}
	})
}

// fzAttrSeeds are POST/PUT bodies (idp-clients.md 1.3, 1.4, 2.2, Q12).
var fzAttrSeeds = []string{
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local","name":{"givenName":"Test","familyName":"User"},"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],"displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"1mz050nq","active":true}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"abc","userName":"test.user@okta.local","name":{"givenName":"Another","middleName":"Excited","familyName":"User"},"emails":[{"primary":true,"value":"test.user@okta.local","type":"work","display":"test.user@okta.local"}],"active":true,"groups":[],"meta":{"resourceType":"User"}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee","active":true,"emails":[{"primary":true,"type":"work","value":"Test_User_11bb11bb@testuser.com"}],"meta":{"resourceType":"User"},"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],"userName":"Runscope123Xxxxxxxx123@atko.com","addresses":null,"phoneNumbers":null,"preferredLanguage":null,"title":null,"department":null,"manager":null,"active":"True"}`,
	`{"userName":"u","emails":"solo@example.com","urn:ietf:params:scim:schemas:extension:webflow:2.0:User":{"data":{"country":"NZ","accept-privacy":"TRUE","Accept-Communications":0,"email":"x@y.z","name":"N","n":1e3}}}`,
	`{"USERNAME":"Mixed@Case.example","Emails":{"Value":" spaced@example.com ","Primary":"false"},"Active":false,"Name":{"GIVENNAME":"G"},"timezone":"Pacific/Auckland","userType":1.5}`,
	`{"userName":"x","emails":[null,{"value":""},{"value":"a@b"},{"value":"c@d","primary":true},{"value":"e@f","primary":true}]}`,
	`{"userName":"\"quoted\"@example.com","displayName":"<b>&amp;</b>","nickName":"\u0000\ud800"}`,
	`{"userName":["list"]}`, `{"active":{}}`, `{"name":"flat"}`, `{"emails":[1]}`, `{}`, `null`, `[]`,
}

// FuzzFromAttributes: an arbitrary JSON object (decoded with UseNumber,
// as elimity does) → FromAttributes. Invariants:
//   - never panics; errors are invalidValue *Errors;
//   - the user is well formed (fzCheckUser) and round-trips through
//     ToAttributes/FromAttributes and its JSON blob unchanged;
//   - WebflowEmail either fails with an invalidValue *Error or returns an
//     address ValidateEmail accepts unchanged, taken from the user's
//     emails or userName.
func FuzzFromAttributes(f *testing.F) {
	for _, s := range fzAttrSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		defer fzHangGuard(10*time.Second, "FromAttributes")()
		var attrs map[string]any
		if err := decodeJSON(b, &attrs); err != nil {
			return
		}
		u, err := FromAttributes(scim.ResourceAttributes(attrs))
		if err != nil {
			var me *Error
			if !errors.As(err, &me) || me.ScimType != ScimTypeInvalidValue || me.Status != 400 || me.Detail == "" {
				t.Fatalf("FromAttributes error %T %+v, want an invalidValue *Error", err, err)
			}
			return
		}
		fzCheckUser(t, "FromAttributes", u)
		fzRoundTrip(t, "FromAttributes", u)

		addr, err := u.WebflowEmail()
		if err != nil {
			var me *Error
			if !errors.As(err, &me) || me.ScimType != ScimTypeInvalidValue {
				t.Fatalf("WebflowEmail error %T %v, want an invalidValue *Error", err, err)
			}
			return
		}
		if v, err := ValidateEmail(addr); err != nil || v != addr {
			t.Fatalf("WebflowEmail returned %q which ValidateEmail maps to %q, %v", addr, v, err)
		}
		from := []string{strings.TrimSpace(u.UserName)}
		for _, e := range u.Emails {
			from = append(from, strings.TrimSpace(e.Value))
		}
		found := false
		for _, s := range from {
			found = found || s == addr
		}
		if !found {
			t.Fatalf("WebflowEmail %q is neither userName nor one of the emails of %+v", addr, u)
		}
	})
}
