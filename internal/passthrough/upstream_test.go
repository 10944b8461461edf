package passthrough

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestUpstream429PassesThrough: Webflow's 429 reaches the IdP unchanged,
// Retry-After included, and pauses the token through Observe.
func TestUpstream429PassesThrough(t *testing.T) {
	e := newEnv(t, nil)
	e.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Retry-After", "7")
		return false
	})
	e.sim.InjectFault(webflowsim.Fault{Method: "GET", Path: "/scim/v2/Users", Status: 429})
	res, b := e.do("GET", "/workspace/scim/v2/Users?count=1", nil)
	assertSCIMError(t, res, b, http.StatusTooManyRequests)
	if res.Header.Get("Retry-After") != "7" {
		t.Errorf("Retry-After %q", res.Header.Get("Retry-After"))
	}
	e.limiter.mu.Lock()
	defer e.limiter.mu.Unlock()
	if len(e.limiter.observed) != 1 || e.limiter.observed[0].Status != 429 || e.limiter.observed[0].RetryAfter != 7*time.Second || e.limiter.keys[0] != e.proxy.key {
		t.Errorf("observed %+v %v", e.limiter.observed, e.limiter.keys)
	}
}

// TestUpstream5xx: SCIM errors from upstream pass through; anything else
// with an error status is wrapped into a SCIM error with the same status.
func TestUpstream5xx(t *testing.T) {
	for _, status := range []int{500, 502, 503} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			e := newEnv(t, nil)
			e.sim.InjectFault(webflowsim.Fault{Path: "/scim/v2/Users", Status: status})
			res, b := e.do("GET", "/workspace/scim/v2/Users", nil)
			assertSCIMError(t, res, b, status)
		})
		t.Run(http.StatusText(status)+" html", func(t *testing.T) {
			e := newEnv(t, nil)
			e.setHook(func(w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Content-Type", "text/html")
				w.Header().Set("Retry-After", "3")
				w.WriteHeader(status)
				_, _ = io.WriteString(w, "<html>bad gateway at 10.0.0.7</html>")
				return true
			})
			res, b := e.do("GET", "/workspace/scim/v2/Users", nil)
			m := assertSCIMError(t, res, b, status)
			if strings.Contains(m["detail"].(string), "10.0.0.7") {
				t.Errorf("upstream body leaked: %v", m["detail"])
			}
			if status == 503 && res.Header.Get("Retry-After") != "3" {
				t.Errorf("Retry-After dropped on 503")
			}
		})
	}
	t.Run("json but not SCIM", func(t *testing.T) {
		e := newEnv(t, nil)
		e.setHook(func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(500)
			_, _ = io.WriteString(w, `{"message":"oops"}`)
			return true
		})
		res, b := e.do("GET", "/workspace/scim/v2/Users", nil)
		assertSCIMError(t, res, b, 500)
	})
}

// TestUpstreamTimeout: no answer within Timeout is a 504 SCIM error.
func TestUpstreamTimeout(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Timeout = 200 * time.Millisecond })
	e.sim.InjectFault(webflowsim.Fault{Path: "/scim/v2/Users", Delay: 3 * time.Second, Status: 200})
	start := time.Now()
	res, b := e.do("GET", "/workspace/scim/v2/Users", nil)
	m := assertSCIMError(t, res, b, http.StatusGatewayTimeout)
	if !strings.Contains(m["detail"].(string), "did not answer within 200ms") {
		t.Errorf("detail %v", m["detail"])
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s", d)
	}
}

// TestUpstreamDropped: a connection closed without an answer is a 502
// SCIM error (POST: the Transport does not retry it).
func TestUpstreamDropped(t *testing.T) {
	e := newEnv(t, nil)
	e.sim.InjectFault(webflowsim.Fault{Path: "/scim/v2/Users", Drop: true, Count: 5})
	res, b := e.do("POST", "/workspace/scim/v2/Users", oktaUser)
	m := assertSCIMError(t, res, b, http.StatusBadGateway)
	if !strings.Contains(m["detail"].(string), "could not reach") {
		t.Errorf("detail %v", m["detail"])
	}
	res, b = e.do("GET", "/workspace/scim/v2/Users", nil)
	assertSCIMError(t, res, b, http.StatusBadGateway)
}

// TestUpstreamUnreachable: nothing listening is a 502 SCIM error.
func TestUpstreamUnreachable(t *testing.T) {
	e := newEnv(t, nil)
	e.up.Close()
	res, b := e.do("GET", "/workspace/scim/v2/Users", nil)
	assertSCIMError(t, res, b, http.StatusBadGateway)
}

// TestLimiterRefusal: a budget timeout is a 429 with the limiter's
// Retry-After; any other limiter failure a 503; neither reaches upstream.
func TestLimiterRefusal(t *testing.T) {
	e := newEnv(t, nil)
	e.limiter.waitErr = &state.WaitTimeoutError{Key: "tok_x", RetryAfter: 2500 * time.Millisecond}
	res, b := e.do("GET", "/workspace/scim/v2/Users", nil)
	assertSCIMError(t, res, b, http.StatusTooManyRequests)
	if res.Header.Get("Retry-After") != "3" {
		t.Errorf("Retry-After %q", res.Header.Get("Retry-After"))
	}
	e.limiter.waitErr = errors.New("redis down")
	res, b = e.do("GET", "/workspace/scim/v2/Users", nil)
	assertSCIMError(t, res, b, http.StatusServiceUnavailable)
	if len(e.upstream()) != 0 {
		t.Error("reached upstream")
	}
}

// TestBodyTooLarge: 413 for a body over the bound, with or without a
// Content-Length, and nothing sent upstream.
func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxBodyBytes = 1024 })
	big := `{"userName":"big@example.com","displayName":"` + strings.Repeat("x", 2048) + `"}`
	res, b := e.do("POST", "/workspace/scim/v2/Users", big)
	assertSCIMError(t, res, b, http.StatusRequestEntityTooLarge)

	req, _ := http.NewRequest("POST", e.srv.URL+"/workspace/scim/v2/Users", io.MultiReader(strings.NewReader(big)))
	req.Header.Set("Authorization", "Bearer "+idpToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if req.ContentLength != 0 {
		t.Fatalf("expected a chunked request")
	}
	assertSCIMError(t, resp, body, http.StatusRequestEntityTooLarge)
	if len(e.upstream()) != 0 {
		t.Error("reached upstream")
	}
	// Exactly at the bound is fine.
	ok := `{"userName":"ok@example.com","displayName":"` + strings.Repeat("y", 1024-len(`{"userName":"ok@example.com","displayName":""}`)) + `"}`
	if len(ok) != 1024 {
		t.Fatalf("len %d", len(ok))
	}
	if res, b := e.do("POST", "/workspace/scim/v2/Users", ok); res.StatusCode != 201 {
		t.Errorf("%d %s", res.StatusCode, b)
	}
}

// TestObserverSeesCalls: every upstream attempt reaches the Observer with a
// route template (no ids) and the status.
func TestObserverSeesCalls(t *testing.T) {
	var mu sync.Mutex
	var calls []webflowdata.CallInfo
	e := newEnv(t, func(o *Options) {
		o.Observer = webflowdata.ObserverFunc(func(ci webflowdata.CallInfo) {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, ci)
		})
	})
	id := e.simUser("owner@example.com")["id"].(string)
	e.do("GET", "/workspace/scim/v2/Users/"+id, nil)
	e.do("GET", "/workspace/scim/v2/Users/missing", nil)
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 2 || calls[0].Endpoint != "GET /scim/v2/Users/{id}" || calls[0].Status != 200 || calls[1].Status != 404 {
		t.Errorf("%+v", calls)
	}
}

// TestResponseBounds: a JSON answer over MaxResponseBytes (which would have
// to be buffered for the rewrite) is a 502 SCIM error; a non-JSON answer is
// streamed untouched, whatever its size.
func TestResponseBounds(t *testing.T) {
	e := newEnv(t, nil)
	e.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/Schemas") {
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = io.WriteString(w, strings.Repeat("z", MaxResponseBytes+10))
			return true
		}
		w.Header().Set("Content-Type", "application/scim+json")
		_, _ = io.WriteString(w, `{"Resources":["`+strings.Repeat("x", MaxResponseBytes)+`"]}`)
		return true
	})
	res, b := e.do("GET", "/workspace/scim/v2/Users", nil)
	assertSCIMError(t, res, b, http.StatusBadGateway)
	res, b = e.do("GET", "/workspace/scim/v2/Schemas", nil)
	if res.StatusCode != 200 || len(b) != MaxResponseBytes+10 || res.Header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("streamed: %d %d %q", res.StatusCode, len(b), res.Header.Get("Content-Type"))
	}
}
