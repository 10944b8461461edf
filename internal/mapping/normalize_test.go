package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	filter "github.com/scim2/filter-parser/v2"
)

func normOps(t *testing.T, out []byte) []any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	ops, _ := m["Operations"].([]any)
	return ops
}

func TestNormalizePatchBody(t *testing.T) {
	tests := []struct {
		name      string
		ops       string
		want      string // JSON of the resulting Operations
		wantEmpty bool
	}{
		{"op lower-cased", `[{"op":"Replace","path":"title","value":"x"}]`, `[{"op":"replace","path":"title","value":"x"}]`, false},
		{"null to remove", `[{"op":"Add","path":"nickName","value":null}]`, `[{"op":"remove","path":"nickName"}]`, false},
		{"active string", `[{"op":"Replace","path":"active","value":"False"}]`, `[{"op":"replace","path":"active","value":false}]`, false},
		{"active string path-less", `[{"op":"replace","value":{"active":"TRUE"}}]`, `[{"op":"replace","value":{"active":true}}]`, false},
		{"password kept out", `[{"op":"replace","value":{"password":"p","active":false}}]`, `[{"op":"replace","value":{"active":false}}]`, false},
		{"password op dropped", `[{"op":"replace","path":"password","value":"p"}]`, `[]`, true},
		{"manager any case", `[{"op":"add","path":"MANAGER","value":"x"},{"op":"remove","path":"Manager[value eq \"x\"]"}]`, `[]`, true},
		{"path-less null key split", `[{"op":"replace","value":{"title":null,"nickName":"n"}}]`,
			`[{"op":"replace","value":{"nickName":"n"}},{"op":"remove","path":"title"}]`, false},
		{"path-less all dropped", `[{"op":"replace","value":{"roles":[],"groups":[]}}]`, `[]`, true},
		{"path-less null value", `[{"op":"replace","value":null}]`, `[]`, true},
		{"bare data path qualified", `[{"op":"add","path":"data.COUNTRY","value":"DE"}]`,
			`[{"op":"add","path":"` + ExtensionSchemaURN + `:data.country","value":"DE"}]`, false},
		{"bare data key qualified path-less", `[{"op":"add","value":{"data.country":"DE","data.nope":"x"}}]`,
			`[{"op":"add","value":{"` + ExtensionSchemaURN + `:data.country":"DE"}}]`, false},
		{"emails single object wrapped", `[{"op":"add","path":"emails","value":{"Value":"a@b.c"}}]`,
			`[{"op":"add","path":"emails","value":[{"value":"a@b.c"}]}]`, false},
		{"emails empty string clears", `[{"op":"replace","path":"emails","value":""}]`,
			`[{"op":"replace","path":"emails","value":[]}]`, false},
		{"email primary string", `[{"op":"add","path":"emails","value":[{"value":"a@b.c","primary":"true","display":"x"}]}]`,
			`[{"op":"add","path":"emails","value":[{"value":"a@b.c","primary":true,"display":"x"}]}]`, false},
		{"unknown op passed through", `[{"op":"move","path":"title"}]`, `[{"op":"move","path":"title"}]`, false},
		{"non-object op passed through", `["x"]`, `["x"]`, false},
		{"unparseable path passed through", `[{"op":"add","path":"a b","value":1}]`, `[{"op":"add","path":"a b","value":1}]`, false},
		{"remove without path passed through", `[{"op":"remove"}]`, `[{"op":"remove"}]`, false},
		{"enterprise dropped", `[{"op":"add","path":"` + EnterpriseSchemaURN + `:department","value":"S"}]`, `[]`, true},
		{"read-only extension attribute dropped", `[{"op":"add","path":"` + ExtensionSchemaURN + `:status","value":"verified"}]`, `[]`, true},
		{"microsoft schema container dropped", `[{"op":"add","value":{"http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/User":{"x":1},"title":"t"}}]`,
			`[{"op":"add","value":{"title":"t"}}]`, false},
		{"members unknown on users", `[{"op":"add","path":"members","value":"u1"}]`, `[]`, true},
		{"name sub null in object", `[{"op":"replace","path":"name","value":{"givenName":"G","familyName":null}}]`,
			`[{"op":"replace","path":"name","value":{"givenName":"G"}}]`, false},
		{"path-less name object null sub", `[{"op":"replace","value":{"name":{"givenName":null,"familyName":"F"}}}]`,
			`[{"op":"replace","value":{"name":{"familyName":"F"}}},{"op":"remove","path":"name.givenName"}]`, false},
		{"Entra remove listed members shape on emails", `[{"op":"Remove","path":"emails","value":[{"value":"a@b.c"}]}]`,
			`[{"op":"remove","path":"emails","value":[{"value":"a@b.c"}]}]`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, empty, err := NormalizePatchBody([]byte(patchBody(tc.ops)), testCustomFields...)
			if err != nil {
				t.Fatal(err)
			}
			if empty != tc.wantEmpty {
				t.Fatalf("empty=%v want %v: %s", empty, tc.wantEmpty, out)
			}
			var want []any
			if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatal(err)
			}
			if got := normOps(t, out); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("got  %s\nwant %s", mustJSON(t, got), tc.want)
			}
		})
	}
}

func TestNormalizePatchBodyEnvelope(t *testing.T) {
	t.Run("malformed JSON", func(t *testing.T) {
		for _, b := range []string{``, `{`, `[1]`, `null`, `"x"`} {
			_, _, err := NormalizePatchBody([]byte(b))
			var e *Error
			if !errors.As(err, &e) || e.ScimType != ScimTypeInvalidSyntax {
				t.Fatalf("%q: err = %v", b, err)
			}
		}
	})
	t.Run("unknown top-level keys kept, Operations key spelling kept", func(t *testing.T) {
		out, _, err := NormalizePatchBody([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"operations":[{"op":"Add","path":"title","value":"x"}],"x-extra":{"n":1.50}}`))
		if err != nil {
			t.Fatal(err)
		}
		s := string(out)
		if !strings.Contains(s, `"operations":[{"op":"add"`) || !strings.Contains(s, `"x-extra":{"n":1.50}`) {
			t.Fatalf("got %s", s)
		}
	})
	t.Run("no Operations is passed through", func(t *testing.T) {
		in := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`
		out, empty, err := NormalizePatchBody([]byte(in))
		if err != nil || empty || string(out) != in {
			t.Fatalf("%s %v %v", out, empty, err)
		}
	})
}

func TestNormalizeGroupPatchBody(t *testing.T) {
	tests := []struct {
		name, ops, want string
		empty           bool
	}{
		{"okta rename path-less with id", `[{"op":"replace","value":{"id":"g1","displayName":"Test SCIMv2"}}]`, `[{"op":"replace","value":{"displayName":"Test SCIMv2"}}]`, false},
		{"single member object wrapped", `[{"op":"Add","path":"members","value":{"value":"u1"}}]`, `[{"op":"add","path":"members","value":[{"value":"u1"}]}]`, false},
		{"entra remove listed members", `[{"op":"Remove","path":"members","value":[{"$ref":null,"value":"u1"}]}]`, `[{"op":"remove","path":"members","value":[{"$ref":null,"value":"u1"}]}]`, false},
		{"okta remove by filter", `[{"op":"remove","path":"members[value eq \"u1\"]"}]`, `[{"op":"remove","path":"members[value eq \"u1\"]"}]`, false},
		{"unknown dropped", `[{"op":"add","path":"owner","value":"x"}]`, `[]`, true},
		{"Microsoft group schema container dropped", `[{"op":"add","value":{"http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group":{"x":1}}}]`, `[]`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, empty, err := NormalizeGroupPatchBody([]byte(patchBody(tc.ops)))
			if err != nil || empty != tc.empty {
				t.Fatalf("%v %v %s", err, empty, out)
			}
			var want []any
			_ = json.Unmarshal([]byte(tc.want), &want)
			if got := normOps(t, out); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("got  %s\nwant %s", mustJSON(t, got), tc.want)
			}
		})
	}
}

func TestRewriteFilter(t *testing.T) {
	tests := []struct{ in, want string }{
		{`emails[type eq "work"].value eq "x@y.com"`, `emails[type eq "work" and value eq "x@y.com"]`},
		{`emails[type eq "work"].value eq "a]b.c\"d"`, `emails[type eq "work" and value eq "a]b.c\"d"]`},
		{`emails[type eq "wo]rk"].value eq "x"`, `emails[type eq "wo]rk" and value eq "x"]`},
		{`emails[Type EQ "work"].Value EQ "x" and userName eq "u"`, `emails[Type EQ "work" and Value EQ "x"] and userName eq "u"`},
		{`emails[type eq "work"].value pr`, `emails[type eq "work" and value pr]`},
		{`addresses[type eq "work"].postalCode ne 1234`, `addresses[type eq "work" and postalCode ne 1234]`},
		{`userName eq "emails[type eq \"work\"].value eq \"x\""`, `userName eq "emails[type eq \"work\"].value eq \"x\""`},
		{`emails[type eq "work" or type eq "home"].value eq "x"`, `emails[type eq "work" or type eq "home"].value eq "x"`},
		{`emails[type eq "work"]`, `emails[type eq "work"]`},
		{`userName eq "x"`, `userName eq "x"`},
		{`emails[type eq "work"].value`, `emails[type eq "work"].value`},
		{`emails[type eq "work"].value eq`, `emails[type eq "work"].value eq`},
		{`emails[type eq "work"].value eq "unterminated`, `emails[type eq "work"].value eq "unterminated`},
		{``, ``},
	}
	for _, tc := range tests {
		got := RewriteFilter(tc.in)
		if got != tc.want {
			t.Errorf("RewriteFilter(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
	// The rewritten Entra filter must pass elimity (the original does not, B6).
	raw := `emails[type eq "work"].value eq "x@y.com"`
	if _, code, _ := elimityFilter(t, raw); code != http.StatusBadRequest {
		t.Fatalf("elimity accepted the raw Entra filter (%d); B6 fixed upstream?", code)
	}
	expr, code, body := elimityFilter(t, RewriteFilter(raw))
	if code != http.StatusOK {
		t.Fatalf("rewritten: %d %s", code, body)
	}
	q, err := TranslateUserFilter(expr)
	if err != nil || len(q.Eq) != 1 || q.Eq[0] != (Cond{CondEmail, "x@y.com"}) {
		t.Fatalf("query %+v %v", q, err)
	}
	if _, ok := q.Residual.(*filter.ValuePath); !ok {
		t.Fatalf("residual %#v", q.Residual)
	}
}

func FuzzNormalizePatchBody(f *testing.F) {
	seeds := []string{
		patchBody(`[{"op":"replace","value":{"active":false}}]`),
		patchBody(`[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"x"}]`),
		patchBody(`[{"op":"replace","value":{"name.givenName":"K","` + EnterpriseSchemaURN + `:employeeNumber":"A","` + ExtensionSchemaURN + `":{"data":{"country":null}}}}]`),
		patchBody(`[{"op":"Add","path":"manager","value":[{"$ref":null,"value":"x"}]},{"op":"remove","path":"members[value eq \"x\"]"}]`),
		patchBody(`[null,1,"x",{"op":1},{"op":"add","path":1},{"op":"add","path":"data","value":{"accept-privacy":""}}]`),
		`{"Operations":{}}`, `{}`, `[]`, `{`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, _, err := NormalizePatchBody(b, testCustomFields...)
		// Bodies without Operations are passed through verbatim (elimity
		// reads only the first JSON value, B14); rewritten ones must be JSON.
		if err == nil && !bytes.Equal(out, b) && !json.Valid(out) {
			t.Fatalf("invalid JSON output %q", out)
		}
		_, _, _ = NormalizeGroupPatchBody(b)
	})
}

func FuzzRewriteFilter(f *testing.F) {
	for _, s := range []string{
		`emails[type eq "work"].value eq "x"`, `a[b eq "\"]"].c pr`, `x[`, `]`, `"`, `a["\`, `a[b].c eq "`,
		`emails[type eq "work"].value eq x]`, `[].a eq 1`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := RewriteFilter(s)
		if out != s && !strings.Contains(out, " and ") {
			t.Fatalf("rewrite without and: %q -> %q", s, out)
		}
		// Whatever parses after rewriting must not panic the translator.
		if e, err := filter.ParseFilter([]byte(out)); err == nil {
			if q, err := TranslateUserFilter(e); err == nil && q.Residual != nil {
				_, _ = Matches(q.Residual, baseUser(), "u1")
			}
		}
	})
}
