package mapping

import (
	"encoding/json"
	"strings"
)

// Required attributes of the resources a POST or PUT creates or replaces
// (RFC 7643 §4.1 and §4.2: "REQUIRED").
const (
	requiredUser  = "userName"
	requiredGroup = "displayName"
)

// CheckRequired answers the POST or PUT body of a User (group false) or a
// Group without its required attribute with an invalidValue *Error that
// names the attribute. elimity's own check answers with a detail that
// names nothing ("A required value was missing…"), which leaves an
// operator reading IdP logs guessing. The attribute is matched as SCIM
// matches names, case-insensitively, also with its schema URN prefix; a
// null value counts as absent. Bodies that are not a JSON object are left
// to elimity's usual 400.
func CheckRequired(body []byte, group bool) error {
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
