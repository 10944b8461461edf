package passthrough

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

const (
	scimContentType = "application/scim+json"
	errorSchema     = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// errorBody is the SCIM Error JSON (RFC 7644 §3.12), the same shape the
// site surface answers (internal/scimserver/errors.go): status is a string,
// because Okta parses error bodies and checks it.
type errorBody struct {
	Schemas  []string `json:"schemas"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail"`
	Status   string   `json:"status"`
}

func errorJSON(status int, scimType, detail string) []byte {
	if detail == "" {
		detail = http.StatusText(status)
	}
	b, _ := json.Marshal(errorBody{Schemas: []string{errorSchema}, ScimType: scimType, Detail: detail, Status: strconv.Itoa(status)})
	return b
}

// writeError answers the IdP with a SCIM Error of the bridge's own making.
func writeError(w http.ResponseWriter, status int, scimType, detail string) {
	h := w.Header()
	h.Set("Content-Type", scimContentType)
	h.Del("Content-Length")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(errorJSON(status, scimType, detail))
}

// retryAfterSeconds renders d as whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	secs := int((d + time.Second - 1) / time.Second)
	return strconv.Itoa(max(secs, 1))
}
