package mapping

import (
	"net/http"
	"strings"
	"testing"
)

// TestProbeElimityUnknownExtensionSubKeys documents what elimity does with
// sub-keys of our extension's complex data attribute that the schema does
// not declare. Answer: on POST/PUT they are silently DROPPED (declared
// custom fields survive, unknown keys vanish, read-only attributes vanish);
// on PATCH a path naming an unknown sub-attribute fails the WHOLE request
// with 400 invalidPath, while unknown keys inside a data object value are
// silently dropped. Hence UserExtensionSchema(customFields...) and the
// normaliser's data-key whitelist.
func TestProbeElimityUnknownExtensionSubKeys(t *testing.T) {
	body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + ExtensionSchemaURN + `"],
	 "userName":"a@example.com",
	 "` + ExtensionSchemaURN + `":{"webflowUserId":"wf-1","status":"verified",
	   "data":{"accept-privacy":"true","Country":"DE","favourite-colour":"blue","email":"x@y.z"}}}`

	t.Run("POST without custom fields declared", func(t *testing.T) {
		attrs, code, resp := elimityCreate(t, UserExtensionSchema(), body)
		if code != http.StatusCreated {
			t.Fatalf("status %d: %s", code, resp)
		}
		ext := attrs[ExtensionSchemaURN].(map[string]any)
		data := ext["data"].(map[string]any)
		if len(data) != 1 || data["accept-privacy"] != true {
			t.Fatalf("data = %#v, want only accept-privacy (unknown sub-keys dropped)", data)
		}
		if _, ok := ext["webflowUserId"]; ok {
			t.Fatalf("read-only webflowUserId survived: %#v", ext)
		}
	})
	t.Run("POST with custom fields declared", func(t *testing.T) {
		attrs, code, resp := elimityCreate(t, UserExtensionSchema("country"), body)
		if code != http.StatusCreated {
			t.Fatalf("status %d: %s", code, resp)
		}
		data := attrs[ExtensionSchemaURN].(map[string]any)["data"].(map[string]any)
		if data["country"] != "DE" { // canonicalised to the declared name
			t.Fatalf("data = %#v, want country=DE", data)
		}
		if _, ok := data["favourite-colour"]; ok {
			t.Fatalf("undeclared key survived: %#v", data)
		}
		u, err := FromAttributes(attrs)
		if err != nil {
			t.Fatal(err)
		}
		if u.Data["country"] != "DE" || u.Data["accept-privacy"] != true || u.Data["email"] != nil {
			t.Fatalf("FromAttributes data = %#v", u.Data)
		}
	})
	t.Run("PATCH unknown sub-attribute path fails the whole request", func(t *testing.T) {
		raw := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		  {"op":"replace","path":"displayName","value":"X"},
		  {"op":"replace","path":"` + ExtensionSchemaURN + `:data.favourite-colour","value":"blue"}]}`
		ops, code, resp := elimityPatch(t, raw)
		if ops != nil || code != http.StatusBadRequest || !strings.Contains(resp, "invalidPath") {
			t.Fatalf("got ops=%v code=%d body=%s; want 400 invalidPath", ops, code, resp)
		}
		norm, empty, err := NormalizePatchBody([]byte(raw), testCustomFields...)
		if err != nil || empty {
			t.Fatalf("normalise: %v %v", empty, err)
		}
		ops, code, resp = elimityPatch(t, string(norm))
		if code != http.StatusOK || len(ops) != 1 {
			t.Fatalf("after normalising: code=%d ops=%d body=%s", code, len(ops), resp)
		}
	})
	t.Run("PATCH unknown key inside a data object is dropped", func(t *testing.T) {
		raw := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		  {"op":"add","path":"` + ExtensionSchemaURN + `:data","value":{"country":"FR","favourite-colour":"blue"}}]}`
		ops, code, resp := elimityPatch(t, raw)
		if code != http.StatusOK || len(ops) != 1 {
			t.Fatalf("code=%d body=%s", code, resp)
		}
		v := ops[0].Value.(map[string]any)
		if len(v) != 1 || v["country"] != "FR" {
			t.Fatalf("value = %#v", v)
		}
	})
}
