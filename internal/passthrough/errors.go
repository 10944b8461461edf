package passthrough

import (
	"net/http"
	"strconv"
	"time"

	"github.com/webflowscim/bridge/internal/mapping"
)

const scimContentType = "application/scim+json"

// writeError answers the IdP with a SCIM Error of the bridge's own making.
func writeError(w http.ResponseWriter, status int, scimType, detail string) {
	h := w.Header()
	h.Set("Content-Type", scimContentType)
	h.Del("Content-Length")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(mapping.SCIMErrorJSON(status, scimType, detail))
}

// retryAfterSeconds renders d as whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	secs := int((d + time.Second - 1) / time.Second)
	return strconv.Itoa(max(secs, 1))
}
