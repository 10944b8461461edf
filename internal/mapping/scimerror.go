package mapping

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// ErrorSchema is the SCIM Error message URN (RFC 7644 §3.12).
const ErrorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"

// SCIMErrorJSON is a SCIM Error body. Its status is a string, as Okta's
// parser expects; detail is never empty. Both SCIM surfaces answer with it.
func SCIMErrorJSON(status int, scimType, detail string) []byte {
	if detail == "" {
		detail = http.StatusText(status)
	}
	b, _ := json.Marshal(struct {
		Schemas  []string `json:"schemas"`
		ScimType string   `json:"scimType,omitempty"`
		Detail   string   `json:"detail"`
		Status   string   `json:"status"`
	}{[]string{ErrorSchema}, scimType, detail, strconv.Itoa(status)})
	return b
}
