package mapping

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// Wrong JSON values for each kind of attribute the bridge keeps, as POST
// and PUT refuse them (elimity's schema check, FromAttributes).
var (
	notStrings = []string{`42`, `4.2`, `true`, `{"a":1}`, `["a"]`}
	notBools   = []string{`1`, `0`, `"maybe"`, `"yes"`, `{}`, `[true]`}
	notObjects = []string{`42`, `true`, `["x"]`, `"Jane Doe"`}
	notLists   = []string{`"a@example.com"`, `42`, `true`, `[42]`, `["a@example.com"]`, `[[{"value":"a@example.com"}]]`, `[true]`}
)

type valueCase struct {
	name   string // attribute as the detail must name it
	ops    string // Operations
	groups bool   // a /Groups PATCH
}

// wrongValueCases goes through the attributes NormalizePatchBody keeps
// (storedStringAttrs, active, name and its sub-attributes, emails and its
// sub-attributes, filtered or not, our extension's data with its consent
// flags and custom fields; displayName, externalId and members of Groups)
// and puts each wrong value in each shape an IdP may use: a path, a
// path-less key, a dotted path-less key, a key inside the schema's URN
// container.
func wrongValueCases() []valueCase {
	var cs []valueCase
	add := func(name, ops string) { cs = append(cs, valueCase{name: name, ops: ops}) }
	op := func(o, path, v string) string {
		return `[{"op":"` + o + `","path":` + jsonString(path) + `,"value":` + v + `}]`
	}
	pathless := func(o, key, v string) string {
		return `[{"op":"` + o + `","value":{` + jsonString(key) + `:` + v + `}}]`
	}
	inCore := func(key, v string) string {
		return `[{"op":"replace","value":{"` + CoreUserSchemaURN + `":{` + jsonString(key) + `:` + v + `}}}]`
	}
	for _, a := range storedStringAttrs {
		for _, v := range notStrings {
			add(a, op("replace", a, v))
			add(a, op("Add", strings.ToUpper(a[:1])+a[1:], v))
			add(a, op("replace", CoreUserSchemaURN+":"+a, v))
			add(a, pathless("replace", a, v))
			add(a, inCore(a, v))
		}
	}
	for _, v := range notBools {
		add("active", op("replace", "active", v))
		add("active", pathless("replace", "active", v))
		add("active", inCore("active", v))
	}
	for _, sub := range nameSubAttrs {
		for _, v := range notStrings {
			add("name."+sub, op("replace", "name."+sub, v))
			add("name."+sub, pathless("replace", "name."+sub, v))
			add("name."+sub, pathless("add", "name", `{"`+sub+`":`+v+`}`))
			add("name."+sub, op("replace", "name", `{"`+sub+`":`+v+`}`))
			add("name."+sub, inCore("name", `{"`+sub+`":`+v+`}`))
		}
	}
	for _, v := range notObjects {
		add("name", op("replace", "name", v))
		add("name", pathless("replace", "name", v))
	}
	for _, v := range notLists {
		add("emails", op("replace", "emails", v))
		add("emails", op("add", "emails", v))
		add("emails", op("remove", "emails", v)) // Entra's "remove the listed" shape
		add("emails", pathless("replace", "emails", v))
		add("emails", inCore("emails", v))
	}
	for _, sub := range []string{"value", "type", "display"} {
		for _, v := range notStrings {
			add("emails."+sub, op("replace", "emails", `[{"`+sub+`":`+v+`}]`))
			add("emails."+sub, op("add", "emails", `{"`+sub+`":`+v+`}`))
			add("emails[…]."+sub, op("replace", `emails[type eq "work"]`, `{"`+sub+`":`+v+`}`))
		}
	}
	for _, sub := range []string{"value", "type"} {
		for _, v := range notStrings {
			add("emails."+sub, op("replace", "emails."+sub, v))
			add("emails[…]."+sub, op("replace", `emails[type eq "work"].`+sub, v))
		}
	}
	for _, v := range notBools {
		add("emails.primary", op("replace", "emails", `[{"value":"a@example.com","primary":`+v+`}]`))
		add("emails.primary", op("add", "emails.primary", v))
		add("emails[…].primary", op("replace", `emails[type eq "work"].primary`, v))
	}
	for _, v := range []string{`"a@example.com"`, `42`, `[{"value":"a@example.com"}]`} {
		add("emails[…]", op("replace", `emails[type eq "work"]`, v))
	}
	data := ExtensionSchemaURN + ":data"
	for _, v := range notObjects {
		add("data", op("replace", data, v))
		add("data", pathless("replace", data, v))
		add(ExtensionSchemaURN, pathless("replace", ExtensionSchemaURN, v))
		add(CoreUserSchemaURN, pathless("replace", CoreUserSchemaURN, v))
	}
	for _, flag := range []string{"accept-privacy", "accept-communications"} {
		for _, v := range notBools {
			add("data."+flag, op("replace", data+"."+flag, v))
			add("data."+flag, op("replace", data, `{"`+flag+`":`+v+`}`))
			add("data."+flag, pathless("replace", ExtensionSchemaURN, `{"data":{"`+flag+`":`+v+`}}`))
		}
	}
	for _, v := range notStrings {
		add("data.country", op("replace", "data.country", v))
		add("data.country", op("add", data, `{"Country":`+v+`}`))
		add("data.country", pathless("add", data+".country", v))
	}
	// /Groups
	gadd := func(name, ops string) { cs = append(cs, valueCase{name: name, ops: ops, groups: true}) }
	for _, a := range []string{"displayName", "externalId"} {
		for _, v := range notStrings {
			gadd(a, op("replace", a, v))
			gadd(a, pathless("replace", a, v))
		}
	}
	for _, v := range []string{`"2c5d0000000000000000000a"`, `42`, `true`, `[42]`, `["2c5d0000000000000000000a"]`, `[[]]`} {
		for _, o := range []string{"add", "replace", "remove"} {
			gadd("members", op(o, "members", v))
		}
		gadd("members", pathless("replace", "members", v))
	}
	for _, sub := range []string{"value", "display", "type", "$ref"} {
		for _, v := range notStrings {
			gadd("members."+sub, op("add", "members", `[{"value":"u1",`+jsonString(sub)+`:`+v+`}]`))
			gadd("members."+sub, op("replace", "members", `{"value":"u1",`+jsonString(sub)+`:`+v+`}`))
		}
	}
	return cs
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func normaliseFor(c valueCase) ([]byte, bool, error) {
	body := []byte(patchBody(c.ops))
	if c.groups {
		return NormalizeGroupPatchBody(body)
	}
	return NormalizePatchBody(body, testCustomFields...)
}

// TestNormalizeRefusesWrongValueTypes: a value of the wrong JSON type for
// an attribute the bridge keeps is invalidValue, and the detail names the
// attribute (issue 14 point 5). Before, numbers and booleans became
// strings, bare strings became emails or members, and everything else got
// elimity's detail, which names nothing.
func TestNormalizeRefusesWrongValueTypes(t *testing.T) {
	cases := wrongValueCases()
	for _, c := range cases {
		_, _, err := normaliseFor(c)
		var me *Error
		if !errors.As(err, &me) {
			t.Errorf("%s: accepted (err %v)", c.ops, err)
			continue
		}
		if me.ScimType != ScimTypeInvalidValue || me.Status != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400 invalidValue: %s", c.ops, me.Status, me.ScimType, me.Detail)
		}
		if !strings.Contains(me.Detail, `"`+c.name+`"`) && !strings.Contains(me.Detail, c.name+" ") {
			t.Errorf("%s: detail does not name %q: %s", c.ops, c.name, me.Detail)
		}
	}
	t.Logf("%d wrong values refused", len(cases))
}

// TestNormalizeRefusesAddReplaceWithoutValue: RFC 7644 §3.5.2.1 and
// §3.5.2.3 require a value; guessing "remove" would let a truncated body
// clear an attribute, or empty a group.
func TestNormalizeRefusesAddReplaceWithoutValue(t *testing.T) {
	cases := []valueCase{
		{ops: `[{"op":"add","path":"nickName"}]`},
		{ops: `[{"op":"Replace","path":"displayName"}]`},
		{ops: `[{"op":"replace","path":"active"}]`},
		{ops: `[{"op":"replace","path":"emails[type eq \"work\"].value"}]`},
		{ops: `[{"op":"replace","path":"` + ExtensionSchemaURN + `:data"}]`},
		{ops: `[{"op":"replace"}]`},
		{ops: `[{"op":"add","path":null}]`},
		{ops: `[{"op":"replace","value":{"active":false}},{"op":"add","path":"title"}]`},
		{ops: `[{"op":"add","path":"manager"}]`}, // an ignored attribute: still malformed
		{ops: `[{"op":"replace","path":"members"}]`, groups: true},
		{ops: `[{"op":"add","path":"members"}]`, groups: true},
		{ops: `[{"op":"replace"}]`, groups: true},
		{ops: `[{"op":"Replace","path":"displayName"}]`, groups: true},
	}
	for _, c := range cases {
		_, _, err := normaliseFor(c)
		var me *Error
		if !errors.As(err, &me) || me.ScimType != ScimTypeInvalidSyntax || !strings.Contains(me.Detail, `"value"`) {
			t.Errorf("%s (groups %v): err %v, want invalidSyntax about the missing value", c.ops, c.groups, err)
		}
	}
}

// TestNormalizeStillAcceptsWhatIdPsSend: the checks refuse wrong types
// only; what Okta and Entra send (idp-clients.md), the lenient shapes POST
// accepts, and values of attributes the bridge ignores all pass.
func TestNormalizeStillAcceptsWhatIdPsSend(t *testing.T) {
	cases := []valueCase{
		{ops: `[{"op":"Replace","path":"active","value":"False"}]`},
		{ops: `[{"op":"Replace","path":"active","value":"True"}]`},
		{ops: `[{"op":"replace","path":"active","value":"false"}]`},
		{ops: `[{"op":"replace","value":{"active":"TRUE"}}]`},
		{ops: `[{"op":"replace","path":"active","value":""}]`},
		{ops: `[{"op":"replace","path":"emails[type eq \"work\"].primary","value":"False"}]`},
		{ops: `[{"op":"replace","path":"emails","value":[{"value":"a@b.c","primary":"true","display":"A"},null]}]`},
		{ops: `[{"op":"replace","path":"emails","value":{"value":"a@b.c"}}]`},
		{ops: `[{"op":"replace","path":"emails","value":""}]`},
		{ops: `[{"op":"replace","path":"emails","value":[{"value":"a@b.c","x-unknown":7}]}]`},
		{ops: `[{"op":"replace","path":"displayName","value":""},{"op":"replace","path":"title","value":null},{"op":"replace","path":"name","value":""}]`},
		{ops: `[{"op":"replace","path":"name","value":{"givenName":"G","familyName":null,"nickname":5}}]`},
		{ops: `[{"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom","` + EnterpriseSchemaURN + `:employeeNumber":42}}]`},
		{ops: `[{"op":"Add","path":"manager","value":[{"$ref":null,"value":"00aa"}]},{"op":"add","path":"` + EnterpriseSchemaURN + `:manager","value":7}]`},
		{ops: `[{"op":"replace","value":{"roles":[],"groups":42,"addresses":null,"phoneNumbers":5,"password":1,"x-unknown":{}}}]`},
		{ops: `[{"op":"replace","value":{"` + EnterpriseSchemaURN + `":42,"http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/User":"x"}}]`},
		{ops: `[{"op":"replace","path":"` + ExtensionSchemaURN + `:data","value":{"accept-privacy":"TRUE","country":"NZ","unknown":5}}]`},
		{ops: `[{"op":"replace","path":"id","value":5},{"op":"replace","path":"meta","value":1}]`},
		{ops: `[{"op":"replace","value":{"id":"g1","displayName":"Test SCIMv2"}}]`, groups: true},
		{ops: `[{"op":"Add","path":"members","value":[{"$ref":null,"value":"u1","display":"x","displayName":7}]}]`, groups: true},
		{ops: `[{"op":"Remove","path":"members","value":[{"$ref":null,"value":"u1"}]}]`, groups: true},
		{ops: `[{"op":"remove","path":"members[value eq \"u1\"]"}]`, groups: true},
		{ops: `[{"op":"replace","path":"members","value":[]}]`, groups: true},
		{ops: `[{"op":"replace","path":"members","value":{"value":"u1"}}]`, groups: true},
		{ops: `[{"op":"add","value":{"http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group":{"x":1},"owner":5}}]`, groups: true},
	}
	for _, c := range cases {
		out, _, err := normaliseFor(c)
		if err != nil {
			t.Errorf("%s (groups %v): %v", c.ops, c.groups, err)
			continue
		}
		if c.groups {
			continue
		}
		// What the normaliser lets through, elimity accepts too.
		var top map[string]any
		_ = json.Unmarshal(out, &top)
		if ops, _ := top["Operations"].([]any); len(ops) == 0 {
			continue
		}
		if _, code, resp := elimityPatch(t, string(out)); code != http.StatusOK {
			t.Errorf("%s: elimity refuses the normalised body %s: %d %s", c.ops, out, code, resp)
		}
	}
}
