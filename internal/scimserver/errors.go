package scimserver

import (
	"context"
	"net/http"
	"strconv"
	"time"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/webflowscim/bridge/internal/mapping"
)

const scimContentType = "application/scim+json"

// writeError writes a SCIM Error JSON body with the given status.
func writeError(w http.ResponseWriter, status int, scimType, detail string) {
	h := w.Header()
	h.Set("Content-Type", scimContentType)
	h.Del("Content-Length")
	w.WriteHeader(status)
	_, _ = w.Write(mapping.SCIMErrorJSON(status, scimType, detail))
}

// override is what a handler wants the client to see when the library
// would otherwise turn its status into 500.
type override struct {
	status     int
	scimType   string
	detail     string
	retryAfter time.Duration
}

type overrideKey struct{}

func withOverride(ctx context.Context) (context.Context, *override) {
	ov := &override{}
	return context.WithValue(ctx, overrideKey{}, ov), ov
}

// failWith records the intended status in ctx and returns the error the
// library must see: for statuses it accepts for this method, the real
// ScimError; for the rest (429, 503, 502, 409 on GET …), an internal error
// whose 500 the overrideWriter replaces.
func failWith(ctx context.Context, status int, scimType, detail string, retryAfter time.Duration) error {
	if ov, ok := ctx.Value(overrideKey{}).(*override); ok {
		*ov = override{status: status, scimType: scimType, detail: detail, retryAfter: retryAfter}
		return scimerrors.ScimErrorInternal
	}
	return scimerrors.ScimError{Status: status, ScimType: scimerrors.ScimType(scimType), Detail: detail}
}

// overrideWriter swaps the library's 500 for the handler's intended answer.
type overrideWriter struct {
	http.ResponseWriter
	ov      *override
	swallow bool
	wrote   bool
	status  int
}

func (w *overrideWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	if code == http.StatusInternalServerError && w.ov.status != 0 {
		if w.ov.retryAfter > 0 {
			secs := int((w.ov.retryAfter + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
		}
		w.status = w.ov.status
		writeError(w.ResponseWriter, w.ov.status, w.ov.scimType, w.ov.detail)
		w.swallow = true
		return
	}
	if code == http.StatusInternalServerError {
		// The library puts a plain error's text into detail, which can
		// leak internals (addresses, upstream bodies). Never pass it on.
		w.status = code
		writeError(w.ResponseWriter, code, "", "internal error in the bridge; the bridge log has the cause")
		w.swallow = true
		return
	}
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *overrideWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.swallow {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *overrideWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
