package scimserver

import (
	"reflect"
	"testing"

	"github.com/elimity-com/scim"
	"github.com/scim2/filter-parser/v2"

	"github.com/webflowscim/bridge/internal/mapping"
)

// activePatchOps takes only bodies that set the active flag, and gives the
// operations the library's validation gives (its path is what the filter
// grammar parses "active" into).
func TestActivePatchOps(t *testing.T) {
	parsed, err := filter.ParsePath([]byte("active"))
	if err != nil {
		t.Fatal(err)
	}
	body := func(ops string) []byte {
		return []byte(`{"schemas":["` + patchOpSchema + `"],"Operations":` + ops + `}`)
	}
	for _, tc := range []struct {
		name string
		body []byte
		want []scim.PatchOperation // nil: left to the library
	}{
		{"Okta deactivate", body(`[{"op":"replace","value":{"active":false}}]`), []scim.PatchOperation{{Op: "replace", Value: map[string]any{"active": false}}}},
		{"Entra reactivate", body(`[{"op":"Replace","path":"active","value":true}]`), []scim.PatchOperation{{Op: "replace", Path: &parsed, Value: true}}},
		{"add, two ops", body(`[{"op":"add","value":{"active":true}},{"op":"replace","path":"active","value":false}]`),
			[]scim.PatchOperation{{Op: "add", Value: map[string]any{"active": true}}, {Op: "replace", Path: &parsed, Value: false}}},
		{"no schemas", []byte(`{"Operations":[{"op":"replace","value":{"active":false}}]}`), nil},
		{"other schema", []byte(`{"schemas":["urn:x"],"Operations":[{"op":"replace","value":{"active":false}}]}`), nil},
		{"no operations", body(`[]`), nil},
		{"remove", body(`[{"op":"remove","path":"active"}]`), nil},
		{"string value", body(`[{"op":"replace","path":"active","value":"false"}]`), nil},
		{"null value", body(`[{"op":"replace","path":"active","value":null}]`), nil},
		{"no value", body(`[{"op":"replace","path":"active"}]`), nil},
		{"other attribute", body(`[{"op":"replace","value":{"active":false,"displayName":"x"}}]`), nil},
		{"key in another case", body(`[{"op":"replace","value":{"Active":false}}]`), nil},
		{"Op key in another case", body(`[{"Op":"replace","value":{"active":false}}]`), nil},
		{"empty path", body(`[{"op":"replace","path":"","value":{"active":false}}]`), nil},
		{"path in another case", body(`[{"op":"replace","path":"Active","value":false}]`), nil},
		{"extra key", body(`[{"op":"replace","value":{"active":false},"x":1}]`), nil},
		{"bad op", body(`[{"op":"move","value":{"active":false}}]`), nil},
		{"not JSON", []byte(`{`), nil},
		{"empty body", nil, nil},
	} {
		got, ok := activePatchOps(tc.body)
		if ok != (tc.want != nil) {
			t.Errorf("%s: taken %v, want %v", tc.name, ok, tc.want != nil)
			continue
		}
		if ok && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %#v\nwant %#v", tc.name, got, tc.want)
		}
	}
}

// memberAddOps takes only member adds of value (and display) strings, and
// gives the operations the library's validation gives.
func TestMemberAddOps(t *testing.T) {
	parsed, err := filter.ParsePath([]byte("members"))
	if err != nil {
		t.Fatal(err)
	}
	body := func(ops string) []byte {
		return []byte(`{"schemas":["` + patchOpSchema + `"],"Operations":` + ops + `}`)
	}
	for _, tc := range []struct {
		name string
		body []byte
		want []scim.PatchOperation // nil: left to the library
	}{
		{"Okta add", body(`[{"op":"add","path":"members","value":[{"value":"u1","display":"ann@example.com"}]}]`),
			[]scim.PatchOperation{{Op: "add", Path: &parsed, Value: []any{map[string]any{"value": "u1", "display": "ann@example.com"}}}}},
		{"Entra Add, no display, two members", body(`[{"op":"Add","path":"members","value":[{"value":"u1"},{"value":"u2"}]}]`),
			[]scim.PatchOperation{{Op: "add", Path: &parsed, Value: []any{map[string]any{"value": "u1"}, map[string]any{"value": "u2"}}}}},
		{"remove", body(`[{"op":"remove","path":"members[value eq \"u1\"]"}]`), nil},
		{"replace", body(`[{"op":"replace","path":"members","value":[{"value":"u1"}]}]`), nil},
		{"no schemas", []byte(`{"Operations":[{"op":"add","path":"members","value":[{"value":"u1"}]}]}`), nil},
		{"empty list", body(`[{"op":"add","path":"members","value":[]}]`), nil},
		{"one member, not a list", body(`[{"op":"add","path":"members","value":{"value":"u1"}}]`), nil},
		{"number value", body(`[{"op":"add","path":"members","value":[{"value":1}]}]`), nil},
		{"null display", body(`[{"op":"add","path":"members","value":[{"value":"u1","display":null}]}]`), nil},
		{"type key", body(`[{"op":"add","path":"members","value":[{"value":"u1","type":"User"}]}]`), nil},
		{"Value key", body(`[{"op":"add","path":"members","value":[{"Value":"u1"}]}]`), nil},
		{"no value key", body(`[{"op":"add","path":"members","value":[{"display":"x"}]}]`), nil},
		{"path in another case", body(`[{"op":"add","path":"Members","value":[{"value":"u1"}]}]`), nil},
		{"path-less", body(`[{"op":"add","value":{"members":[{"value":"u1"}]}}]`), nil},
		{"extra op key", body(`[{"op":"add","path":"members","value":[{"value":"u1"}],"x":1}]`), nil},
	} {
		got, ok := memberAddOps(tc.body)
		if ok != (tc.want != nil) {
			t.Errorf("%s: taken %v, want %v", tc.name, ok, tc.want != nil)
			continue
		}
		if ok && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %#v\nwant %#v", tc.name, got, tc.want)
		}
	}
}

// activePatchSeeds are PATCH bodies of the active flag as IdPs send them,
// and near misses.
func activePatchSeeds() []string {
	return []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":true}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"active","value":false},{"op":"REPLACE","value":{"active":true}}]}`,
		`{"Operations":[{"value":{"active":true},"op":"add"}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"operations":[{"op":"replace","value":{"active":false}}]}`,
		` {"schemas" : ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations" : [ {"op" : "replace" , "path" : "active" , "value" : false } ] } `,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":"False"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}],"Operations":[]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false,"active":true}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","op":"remove","value":{"active":false}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":" replace ","path":" active","value":true}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}],"OPERATIONS":[{"op":"replace","value":{"active":true}}]}`,
	}
}

// rawActivePatchAsNormalised checks, for one body, what lets the server
// read Okta's and Entra's PATCH of active without the normaliser
// (rawActivePatch): a body activePatchOps takes is one the normaliser
// accepts, and activePatchOps reads the same operations from what the
// normaliser makes of it.
func rawActivePatchAsNormalised(t *testing.T, body []byte) {
	raw, ok := activePatchOps(body)
	if !ok {
		return
	}
	norm, empty, err := mapping.NormalizePatchBody(body)
	if err != nil || empty {
		t.Fatalf("%s: taken as sent, but the normaliser says %v (empty %v)", body, err, empty)
	}
	got, ok := activePatchOps(norm)
	if !ok || !reflect.DeepEqual(got, raw) {
		t.Fatalf("%s: as sent %#v, after the normaliser (%s) %#v (taken %v)", body, raw, norm, got, ok)
	}
}

func TestRawActivePatchAsNormalised(t *testing.T) {
	taken := 0
	for _, body := range activePatchSeeds() {
		if _, ok := activePatchOps([]byte(body)); ok {
			taken++
		}
		rawActivePatchAsNormalised(t, []byte(body))
	}
	if taken < 6 {
		t.Errorf("only %d seeds taken: the check checks little", taken)
	}
}

func FuzzRawActivePatchAsNormalised(f *testing.F) {
	for _, s := range activePatchSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rawActivePatchAsNormalised(t, body)
	})
}
