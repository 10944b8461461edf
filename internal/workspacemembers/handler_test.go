package workspacemembers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/webflowscim/bridge/internal/authguard"
	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
	"github.com/webflowscim/bridge/internal/workspaceroles"
)

const testToken = "idp-token-0123456789abcdef0123456789"

type fixture struct {
	h   *Handler
	sim *webflowsim.Simulator
	ts  *httptest.Server
	rs  *state.RedisStore
	now *time.Time // the handler's clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	sim := webflowsim.New(webflowsim.Options{})
	if err := sim.LoadSeed(webflowsim.DemoSeed()); err != nil {
		t.Fatal(err)
	}
	simTS := httptest.NewServer(sim)
	t.Cleanup(func() { simTS.Close(); sim.Close() })
	client, err := webflowdata.NewClient(webflowdata.Config{BaseURL: simTS.URL + "/v2", Token: webflowdata.Token(webflowsim.DemoWorkspaceToken)})
	if err != nil {
		t.Fatal(err)
	}
	mr := miniredis.RunT(t)
	rs := state.NewRedisStore(redis.NewClient(&redis.Options{Addr: mr.Addr()}), state.Options{})
	m, err := workspaceroles.NewMapping(workspaceroles.Spec{Groups: map[string]workspaceroles.RoleSpec{"Marketing": {Workspace: "member", Site: "marketer"}}})
	if err != nil {
		t.Fatal(err)
	}
	toks, err := mapping.ParseTokens([]string{testToken})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	h, err := NewHandler(Options{Store: rs, Client: client, WorkspaceID: webflowsim.DemoWorkspaceID, Mapping: m, Tokens: toks,
		Guard: authguard.New(authguard.Options{Burst: 1 << 20}), PublicURL: "https://bridge.test/workspace/scim/v2", Prefix: "/workspace/scim/v2",
		LockWait: 200 * time.Millisecond, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return &fixture{h: h, sim: sim, ts: ts, rs: rs, now: &now}
}

func (f *fixture) do(t *testing.T, method, path, ctype, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, f.ts.URL+"/workspace/scim/v2"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

// Bad input gets a SCIM error with a detail, before anything reaches
// Webflow.
func TestBadInputIsAnsweredWithoutWebflow(t *testing.T) {
	f := newFixture(t)
	const scimJSON = "application/scim+json"
	for _, tc := range []struct {
		name, method, path, ctype, body string
		want                            int
		scimType                        string
	}{
		{"no userName", "POST", "/Users", scimJSON, `{"emails":[{"value":"a@example.com"}]}`, 400, "invalidValue"},
		{"no usable email", "POST", "/Users", scimJSON, `{"userName":"not an address"}`, 400, "invalidValue"},
		{"not JSON", "POST", "/Users", scimJSON, `{"userName":`, 400, "invalidSyntax"},
		{"not an object", "POST", "/Users", scimJSON, `["a"]`, 400, ""},
		{"active not a boolean", "POST", "/Users", scimJSON, `{"userName":"a@example.com","active":"maybe"}`, 400, "invalidValue"},
		{"wrong media type", "POST", "/Users", "text/plain", `{"userName":"a@example.com"}`, 415, "invalidSyntax"},
		{"invalid UTF-8", "POST", "/Users", scimJSON, "{\"userName\":\"a\xff@example.com\"}", 400, "invalidSyntax"},
		{"body too large", "POST", "/Users", scimJSON, `{"userName":"` + strings.Repeat("a", maxBodyBytes) + `"}`, 413, ""},
		{"filter does not parse", "GET", "/Users?filter=" + "userName%20eq", "", "", 400, "invalidFilter"},
		{"filter on an attribute not stored", "GET", "/Users?filter=" + "manager%20eq%20%22x%22", "", "", 400, "invalidFilter"},
		{"count not an integer", "GET", "/Users?count=ten", "", "", 400, "invalidValue"},
		{"malformed query", "GET", "/Users?filter=%zz", "", "", 400, "invalidSyntax"},
		{"method on the collection", "DELETE", "/Users", "", "", 405, ""},
		{"unknown endpoint", "GET", "/Bulk", "", "", 404, ""},
		{"write to discovery", "POST", "/ServiceProviderConfig", scimJSON, `{}`, 405, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(f.sim.Requests())
			status, body := f.do(t, tc.method, tc.path, tc.ctype, tc.body)
			if status != tc.want {
				t.Errorf("%d %v, want %d", status, body, tc.want)
			}
			if d, _ := body["detail"].(string); d == "" {
				t.Errorf("no detail: %v", body)
			}
			if tc.scimType != "" && body["scimType"] != tc.scimType {
				t.Errorf("scimType %v, want %s", body["scimType"], tc.scimType)
			}
			if n := len(f.sim.Requests()) - before; n != 0 {
				t.Errorf("%d Webflow calls", n)
			}
		})
	}
}

// Every error maps to a 4xx the IdP can fix or a 429/503 with
// Retry-After, never a 500.
func TestAnswerNeverFiveHundred(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name       string
		err        error
		want       int
		retryAfter bool
	}{
		{"not found", state.ErrNotFound, 404, false},
		{"conflict", &state.ConflictError{Index: state.IndexUserName, Value: "a"}, 409, false},
		{"create in flight", errCreateInFlight, 503, true},
		{"user busy", errBusy, 503, true},
		{"budget used up", &state.WaitTimeoutError{RetryAfter: 3 * time.Second}, 429, true},
		{"webflow 429", &webflowdata.APIError{Status: 429, RetryAfter: 2 * time.Second}, 429, true},
		{"webflow 500", &webflowdata.APIError{Status: 500}, 503, true},
		{"webflow 401", &webflowdata.APIError{Status: 401}, 503, true},
		{"not enterprise", &webflowdata.APIError{Status: 403, Code: webflowdata.CodeNotEnterpriseWorkspace}, 503, true},
		{"webflow 400", &webflowdata.APIError{Status: 400, Message: "bad"}, 400, false},
		{"scim lock", &webflowdata.APIError{Status: 409, Code: webflowdata.CodeMemberManagedBySCIM}, 409, false},
		{"webflow 409 unexplained", &webflowdata.APIError{Status: 409, Code: "conflict"}, 409, false},
		{"transport", &webflowdata.TransportError{Err: errors.New("reset")}, 503, true},
		{"deadline", context.DeadlineExceeded, 503, true},
		{"redis down", errors.New("dial tcp: refused"), 503, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			he := f.h.answer(context.Background(), "POST", tc.err)
			if he.status != tc.want || he.detail == "" || (he.retryAfter > 0) != tc.retryAfter {
				t.Errorf("%+v, want %d (Retry-After %v)", he, tc.want, tc.retryAfter)
			}
		})
	}
}

// The record's reference keeps the invite and member id spaces apart.
func TestRefKeepsIDSpacesApart(t *testing.T) {
	for _, tc := range []struct {
		stored string
		want   ref
	}{
		{"invite:63fa5e47f6b8256f4641c5bf", ref{invite: "63fa5e47f6b8256f4641c5bf"}},
		{"member:63fa5e47f6b8256f4641c5bf", ref{member: "63fa5e47f6b8256f4641c5bf"}},
		{"", ref{}},
		{"63fa5e47f6b8256f4641c5bf", ref{}}, // a bare id names neither
	} {
		got := refOf(&state.UserRecord{WebflowUserID: tc.stored})
		if got != tc.want {
			t.Errorf("%q: %+v, want %+v", tc.stored, got, tc.want)
		}
		if tc.want != (ref{}) && got.String() != tc.stored {
			t.Errorf("%q round-trips as %q", tc.stored, got.String())
		}
	}
}

// The surface is behind workspace.scimTokens.
func TestUnauthenticatedIs401(t *testing.T) {
	f := newFixture(t)
	req, _ := http.NewRequest("GET", f.ts.URL+"/workspace/scim/v2/Users", nil)
	req.Header.Set("Authorization", "Bearer wrong-token-0123456789abcdef0123456")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("%d %v", res.StatusCode, res.Header)
	}
}

func userBody(email string) string {
	return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + email + `","emails":[{"primary":true,"value":"` + email + `"}],"active":true}`
}

// A GET of a pending user serves the record while its last look at
// Webflow is fresh, and lists the email once it is older than
// AcceptanceCheckAge: an accepted invite is then recorded as the member
// and the user queued for the worker's per-site access.
func TestGetNoticesAcceptanceWhenTheLookIsOld(t *testing.T) {
	f := newFixture(t)
	status, body := f.do(t, "POST", "/Users", "application/scim+json", userBody("gina@example.com"))
	if status != 201 {
		t.Fatalf("POST: %d %v", status, body)
	}
	id := body["id"].(string)
	if _, err := f.sim.AcceptInvite("gina@example.com", "Gina", "G"); err != nil {
		t.Fatal(err)
	}
	statusOf := func(b map[string]any) string {
		ext, _ := b[mapping.ExtensionSchemaURN].(map[string]any)
		s, _ := ext["status"].(string)
		return s
	}
	before := len(f.sim.Requests())
	if _, b := f.do(t, "GET", "/Users/"+id, "", ""); statusOf(b) != "invited" || len(f.sim.Requests()) != before {
		t.Fatalf("a fresh GET: status %q, %d Webflow calls", statusOf(b), len(f.sim.Requests())-before)
	}
	*f.now = f.now.Add(31 * time.Second)
	_, b := f.do(t, "GET", "/Users/"+id, "", "")
	mem, _ := f.sim.MemberByEmail("gina@example.com")
	if statusOf(b) != "active" || b[mapping.ExtensionSchemaURN].(map[string]any)["webflowUserId"] != mem.ID || len(f.sim.Requests())-before != 1 {
		t.Fatalf("an old GET: %v, %d Webflow calls", b, len(f.sim.Requests())-before)
	}
	qs, err := f.rs.WorkspaceQueueStats(context.Background())
	if err != nil || qs.Pending != 1 {
		t.Errorf("queued after acceptance: %+v %v", qs, err)
	}
	// A member is never looked up again by a GET.
	*f.now = f.now.Add(time.Hour)
	before = len(f.sim.Requests())
	if f.do(t, "GET", "/Users/"+id, "", ""); len(f.sim.Requests()) != before {
		t.Error("a GET of a member called Webflow")
	}
}

// Listing pages through the records in creation order, from Redis only.
func TestListPages(t *testing.T) {
	f := newFixture(t)
	for _, e := range []string{"p1@example.com", "p2@example.com", "p3@example.com"} {
		*f.now = f.now.Add(time.Second)
		if status, b := f.do(t, "POST", "/Users", "application/scim+json", userBody(e)); status != 201 {
			t.Fatalf("POST %s: %d %v", e, status, b)
		}
	}
	before := len(f.sim.Requests())
	for _, tc := range []struct {
		query      string
		total, per int
		first      string
	}{
		{"", 3, 3, "p1@example.com"},
		{"?startIndex=2&count=1", 3, 1, "p2@example.com"},
		{"?count=0", 3, 0, ""},
		{"?startIndex=9", 3, 0, ""},
		{"?filter=" + "userName%20sw%20%22p%22&startIndex=3", 3, 1, "p3@example.com"},
		{"?filter=" + "userName%20eq%20%22P2@EXAMPLE.COM%22", 1, 1, "p2@example.com"},
		{"?filter=" + "emails%5Btype%20eq%20%22work%22%5D.value%20eq%20%22p2@example.com%22", 0, 0, ""},
	} {
		status, b := f.do(t, "GET", "/Users"+tc.query, "", "")
		res, _ := b["Resources"].([]any)
		first := ""
		if len(res) > 0 {
			first, _ = res[0].(map[string]any)["userName"].(string)
		}
		if status != 200 || b["totalResults"] != float64(tc.total) || len(res) != tc.per || b["itemsPerPage"] != float64(tc.per) || first != tc.first {
			t.Errorf("GET /Users%s: %d total %v per %v first %q; want %d, %d, %q", tc.query, status, b["totalResults"], b["itemsPerPage"], first, tc.total, tc.per, tc.first)
		}
	}
	if n := len(f.sim.Requests()) - before; n != 0 {
		t.Errorf("listing made %d Webflow calls", n)
	}
}

// A user created inactive costs no Webflow call and gets no invitation
// until it is activated; deactivating it again removes the invite.
func TestCreatedInactiveIsInvitedOnActivation(t *testing.T) {
	f := newFixture(t)
	const email = "ida@example.com"
	before := len(f.sim.Requests())
	status, b := f.do(t, "POST", "/Users", "application/scim+json", `{"userName":"`+email+`","active":false}`)
	if status != 201 || b["active"] != false || len(f.sim.Requests()) != before || f.sim.WorkspaceInvitesTo(email) != 0 {
		t.Fatalf("POST inactive: %d %v, %d Webflow calls", status, b, len(f.sim.Requests())-before)
	}
	id := b["id"].(string)
	for _, tc := range []struct {
		active  string
		invites int
		calls   int
	}{{"true", 1, 1}, {"true", 1, 1}, {"false", 1, 1}, {"false", 1, 0}, {"true", 2, 1}} {
		before := len(f.sim.Requests())
		status, b := f.do(t, "PATCH", "/Users/"+id, "application/scim+json", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":`+tc.active+`}]}`)
		if status != 200 || fmt.Sprint(b["active"]) != tc.active || f.sim.WorkspaceInvitesTo(email) != tc.invites || len(f.sim.Requests())-before != tc.calls {
			t.Errorf("active %s: %d %v, %d invitations (want %d), %d Webflow calls (want %d)", tc.active, status, b["active"], f.sim.WorkspaceInvitesTo(email), tc.invites, len(f.sim.Requests())-before, tc.calls)
		}
	}
}
