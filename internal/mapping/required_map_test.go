package mapping

import (
	"encoding/json"
	"strings"
	"testing"
)

// checkRequiredMap is CheckRequired as it was, through a map of every
// member: the specification hasRequired is compared with.
func checkRequiredMap(body []byte, group bool) error {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return nil
	}
	name, urn, kind := requiredUser, CoreUserSchemaURN, "User"
	if group {
		name, urn, kind = requiredGroup, "urn:ietf:params:scim:schemas:core:2.0:Group", "Group"
	}
	for k, v := range obj {
		k = strings.TrimPrefix(strings.ToLower(k), strings.ToLower(urn)+":")
		if strings.EqualFold(k, name) && string(v) != "null" {
			return nil
		}
	}
	return newError(ScimTypeInvalidValue, "a "+kind+" needs "+name+", which is required (RFC 7643); this body has none")
}

var requiredSeeds = []string{
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a@b.c","name":{"givenName":"A"},"active":true}`,
	`{"displayName":"Staff","members":[]}`, `{"USERNAME":"x"}`, `{"userName":null}`, `{"userName":null,"UserName":"x"}`,
	`{"userName":"x","userName":null}`, `{"userName":null,"userName":"x"}`, `{"urn:ietf:params:scim:schemas:core:2.0:User:userName":"x"}`,
	`{"URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:USERNAME":"x"}`, `{"urn:ietf:params:scim:schemas:core:2.0:User:":"x"}`,
	`{"urn:ietf:params:scim:schemas:core:2.0:Group:displayName":1}`, `{"user\u004eame":"x"}`, `{"uſerName":"x"}`, `{"ÜserName":"x"}`,
	`{"urn:ietf:params:scim:schemas:core:2.0:User:uſerName":"x"}`, `{"urn:ietf:params:ſcim:schemas:core:2.0:User:userName":"x"}`,
	`{"userName":"x"} `, `{"userName":"x"}x`, `{"userName":"x"}{}`, `{"userName":"x"`, `null`, ` null `, `null x`, `null null`, `[]`, `"x"`, `1`,
	``, `{}`, `{"a":{"userName":"x"}}`, `{"userName":[]}`, `{"userName":{}}`, `{"userName":false}`, "{\"user\xffName\":\"x\"}",
	`{"\ud800userName":"x"}`, `{"userName":"\ud800"}`, `{"displayName":"x","displayName":"y"}`, `{ "userName" : null , "userName" : "" }`,
}

func checkRequiredAgree(t *testing.T, b []byte) {
	t.Helper()
	for _, group := range []bool{false, true} {
		want, got := checkRequiredMap(b, group), CheckRequired(b, group)
		if (want == nil) != (got == nil) || (want != nil && want.Error() != got.Error()) {
			t.Fatalf("%q (group %v): CheckRequired %v, through the map %v", b, group, got, want)
		}
	}
}

func TestCheckRequiredAsTheMap(t *testing.T) {
	for _, s := range requiredSeeds {
		checkRequiredAgree(t, []byte(s))
	}
}

func FuzzCheckRequiredAsTheMap(f *testing.F) {
	for _, s := range requiredSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkRequiredAgree(t, b) })
}

// BenchmarkCheckRequired: Okta's POST /Users body, read in one pass
// against through the map of every member (the former CheckRequired).
func BenchmarkCheckRequired(b *testing.B) {
	body := []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"isabell.kunde@example.com","name":{"givenName":"Isabell","familyName":"Kunde"},"emails":[{"primary":true,"value":"isabell.kunde@example.com","type":"work"}],"displayName":"Isabell Kunde","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"1mz050nq","active":true}`)
	for _, c := range []struct {
		name  string
		check func([]byte, bool) error
	}{{"one pass", CheckRequired}, {"map", checkRequiredMap}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if c.check(body, false) != nil {
					b.Fatal("userName not found")
				}
			}
		})
	}
}
