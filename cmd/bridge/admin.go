package main

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/webflowscim/bridge/internal/authguard"
	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/statuspage"
)

// opsEndpoints serves /readyz and /metrics. Their details (site ids, each
// site's token status, queue depths, budgets) are for operators only:
//
//   - on the main listener, /readyz answers the overall status alone
//     (200 or 503, {"status": …}) to a caller without a token, which is
//     all a Kubernetes readiness probe needs, and the full per-component
//     JSON to a caller with an admin token (adminTokens); /metrics needs
//     an admin token;
//   - on the admin listener (admin.listen), both answer in full without a
//     token: whoever can reach that port is an operator (keep it off the
//     Ingress).
//
// /healthz stays open everywhere: it says only that the process serves.
type opsEndpoints struct {
	health  *health
	metrics http.Handler
	tokens  mapping.TokenSet // adminTokens; empty: no admin token is accepted
	guard   *authguard.Guard
	page    http.Handler // the status page, /admin/ (statuspage)
}

// adminAuth checks an admin bearer token under the failure budget.
func (o *opsEndpoints) adminAuth(r *http.Request) authguard.Result {
	tok, has := mapping.Bearer(r.Header.Get("Authorization"))
	return o.guard.Check(r, func() bool { return has && len(o.tokens) > 0 && o.tokens.Match(tok) })
}

// writeAdminAuthFailure answers a failed admin authentication.
func writeAdminAuthFailure(w http.ResponseWriter, auth authguard.Result, detail string) {
	if auth.Limited() {
		secs := auth.RetryAfterSeconds()
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeAdminError(w, http.StatusTooManyRequests, fmt.Sprintf("too many failed authentications from this address; retry in %d s", secs))
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="admin"`)
	writeAdminError(w, http.StatusUnauthorized, detail)
}

func writeAdminError(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	_, _ = w.Write(mapping.SCIMErrorJSON(status, "", detail))
}

// serveReadyz is /readyz on the main listener.
func (o *opsEndpoints) serveReadyz(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") == "" {
		o.health.serveReady(w, r, false)
		return
	}
	// A token was sent: it must be right (a typo should not silently
	// answer the short form).
	if auth := o.adminAuth(r); !auth.OK {
		writeAdminAuthFailure(w, auth, "the details of /readyz need an admin token (adminTokens); without an Authorization header it answers the overall status only")
		return
	}
	o.health.serveReady(w, r, true)
}

// serveMetrics is /metrics on the main listener.
func (o *opsEndpoints) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if auth := o.adminAuth(r); !auth.OK {
		writeAdminAuthFailure(w, auth, "/metrics needs an admin token (adminTokens) as a bearer token, or scrape the admin listener (admin.listen)")
		return
	}
	o.metrics.ServeHTTP(w, r)
}

// adminHandler serves the admin listener: /healthz, and /readyz and
// /metrics in full, without a token; the status page, with its login.
func (o *opsEndpoints) adminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		get := r.Method == http.MethodGet || r.Method == http.MethodHead
		switch {
		case r.URL.Path == "/healthz" && get:
			serveLive(w, r)
		case r.URL.Path == "/readyz" && get:
			o.health.serveReady(w, r, true)
		case r.URL.Path == "/metrics" && r.Method == http.MethodGet:
			o.metrics.ServeHTTP(w, r)
		case o.page != nil && statuspage.Owns(r.URL.Path):
			// The status page logs in with an admin token here too.
			o.page.ServeHTTP(w, r)
		default:
			writeAdminError(w, http.StatusNotFound, "the admin listener serves /healthz, /readyz, /metrics and the status page (/admin/) only")
		}
	})
}

// serveLive is /healthz: the process serves HTTP.
func serveLive(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok"}`))
}
