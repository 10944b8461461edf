package webflowsim

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/webflowscim/bridge/internal/webflowdata"
)

// Messages Webflow uses; tests and the bridge match on codes, these keep
// the bodies realistic.
const (
	msgNotAuthorized  = "Request not authorized"
	msgForbidden      = "User is not authorized to perform this action"
	msgBadRequest     = "Bad Request: Request is malformed"
	msgRouteNotFound  = "Requested resource not found: The route cannot be found"
	msgSiteNotFound   = "Requested resource not found: The site cannot be found"
	msgUserNotFound   = "Requested resource not found: The user cannot be found"
	msgHookNotFound   = "Requested resource not found: The webhook cannot be found"
	msgTooMany        = "Too Many Requests"
	msgInternal       = "An Internal Error occurred"
	msgMissingScopes  = "OAuthForbidden: You are missing the following scopes - '"
	contentTypeJSON   = "application/json; charset=utf-8"
	headerContentType = "Content-Type"
)

var ctJSON = []string{contentTypeJSON}

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, webflowdata.CodeInternalError, msgInternal)
		return
	}
	writeRaw(w, status, b)
}

// writeRaw writes pre-encoded JSON; the hot paths use it to skip encoding.
func writeRaw(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h[headerContentType] = ctJSON
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError writes Webflow's full error envelope: every error carries
// code, message, externalReference:null and details:[].
func writeError(w http.ResponseWriter, status int, code, msg string) {
	b, _ := json.Marshal(webflowdata.ErrorBody{Code: code, Message: msg, Details: []json.RawMessage{}})
	writeRaw(w, status, b)
}

// codeForStatus picks the Webflow code a bare status maps to (faults).
func codeForStatus(status int) (string, string) {
	switch {
	case status == http.StatusTooManyRequests:
		return webflowdata.CodeTooManyRequests, msgTooMany
	case status == http.StatusUnauthorized:
		return webflowdata.CodeNotAuthorized, msgNotAuthorized
	case status == http.StatusForbidden:
		return webflowdata.CodeForbidden, msgForbidden
	case status == http.StatusNotFound:
		return webflowdata.CodeResourceNotFound, msgRouteNotFound
	case status == http.StatusConflict:
		return "conflict", http.StatusText(status)
	case status >= 500:
		return webflowdata.CodeInternalError, msgInternal
	default:
		return webflowdata.CodeBadRequest, msgBadRequest
	}
}
