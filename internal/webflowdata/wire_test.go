package webflowdata

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestTimeDecoding(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		zero bool
	}{
		{in: `"2022-05-20T13:46:12.093Z"`, want: time.Date(2022, 5, 20, 13, 46, 12, 93e6, time.UTC)},
		{in: `"2022-05-20T13:46:12Z"`, want: time.Date(2022, 5, 20, 13, 46, 12, 0, time.UTC)},
		{in: `"2022-05-20T15:46:12.5+02:00"`, want: time.Date(2022, 5, 20, 13, 46, 12, 5e8, time.UTC)},
		{in: `null`, zero: true},
		{in: `""`, zero: true},
	}
	for _, tc := range tests {
		var got Time
		if err := json.Unmarshal([]byte(tc.in), &got); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if tc.zero != got.IsZero() || (!tc.zero && !got.Equal(tc.want)) {
			t.Errorf("%s: got %v", tc.in, got)
		}
	}
	var bad Time
	if err := json.Unmarshal([]byte(`"yesterday"`), &bad); err == nil {
		t.Error("a malformed timestamp must fail to decode")
	}
	b, _ := json.Marshal(struct{ A, B Time }{NewTime(time.Date(2023, 1, 2, 3, 4, 5, 678912345, time.UTC)), Time{}})
	if string(b) != `{"A":"2023-01-02T03:04:05.678Z","B":null}` {
		t.Errorf("encoding: %s", b)
	}
}

func TestUserDecodingAcceptsEveryKnownShape(t *testing.T) {
	tests := []struct {
		name, in          string
		id, email, name2  string
		status            string
		slugs             string
		verified, updated bool
	}{
		{
			name: "reference (flat data)",
			in:   `{"id":"6287ec36a841b25637c663df","isEmailVerified":true,"lastUpdated":"2023-12-28T07:47:27.893Z","invitedOn":null,"createdOn":"2023-01-10T10:43:12.936Z","lastLogin":"2023-12-27T23:29:33.668Z","status":"verified","accessGroups":[{"slug":"client","type":"admin"},{"slug":"premium","type":"ecommerce"}],"data":{"name":"Michael","email":"mike@example.com","accept-privacy":true,"accept-communications":false,"country":"NZ"}}`,
			id:   "6287ec36a841b25637c663df", email: "mike@example.com", name2: "Michael", status: "verified", slugs: "client,premium", verified: true, updated: true,
		},
		{
			name: "seed (top-level email and name, updatedOn, slug-only groups)",
			in:   `{"id":"u1","email":"a@b.co","name":"Ann","status":"invited","updatedOn":"2024-01-01T00:00:00Z","accessGroups":[{"slug":"premium"}]}`,
			id:   "u1", email: "a@b.co", name2: "Ann", status: "invited", slugs: "premium", updated: true,
		},
		{
			name: "v1 (_id, emailVerified)",
			in:   `{"_id":"u2","emailVerified":true,"data":{"email":"c@d.co"},"accessGroups":["gold"]}`,
			id:   "u2", email: "c@d.co", slugs: "gold", verified: true,
		},
		{
			name: "Fern artifact (data.data)",
			in:   `{"id":"u3","data":{"data":{"email":"e@f.co","name":"Eve","country":"DE"}}}`,
			id:   "u3", email: "e@f.co", name2: "Eve",
		},
		{
			name: "list item without data",
			in:   `{"id":"u4","status":"unverified","accessGroups":[{"slug":"vogon-construction-crew","type":"admin"}]}`,
			id:   "u4", status: "unverified", slugs: "vogon-construction-crew",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var u User
			if err := json.Unmarshal([]byte(tc.in), &u); err != nil {
				t.Fatal(err)
			}
			if u.ID != tc.id || u.Email() != tc.email || u.Data.Name() != tc.name2 || u.Status != tc.status ||
				strings.Join(u.Slugs(), ",") != tc.slugs || u.IsEmailVerified != tc.verified || u.LastUpdated.IsZero() == tc.updated {
				t.Errorf("decoded %+v", u)
			}
			if u.Data == nil {
				t.Error("Data must never be nil after decoding")
			}
		})
	}
}

func TestUpdateUserRequestDistinguishesOmittedFromEmptyGroups(t *testing.T) {
	tests := []struct {
		req  UpdateUserRequest
		want string
	}{
		{UpdateUserRequest{Data: UserData{"name": "A"}}, `{"data":{"name":"A"}}`},
		{UpdateUserRequest{AccessGroups: []string{}}, `{"accessGroups":[]}`},
		{UpdateUserRequest{Data: UserData{"name": "A"}, AccessGroups: []string{"a", "b"}}, `{"accessGroups":["a","b"],"data":{"name":"A"}}`},
	}
	for _, tc := range tests {
		b, err := json.Marshal(tc.req)
		if err != nil || string(b) != tc.want {
			t.Errorf("got %s %v, want %s", b, err, tc.want)
		}
		var back UpdateUserRequest
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if (back.AccessGroups == nil) != (tc.req.AccessGroups == nil) {
			t.Errorf("round trip lost the nil/empty distinction: %s", b)
		}
	}
	var objs UpdateUserRequest
	if err := json.Unmarshal([]byte(`{"accessGroups":[{"slug":"x","type":"admin"},"y"]}`), &objs); err != nil || strings.Join(objs.AccessGroups, ",") != "x,y" {
		t.Errorf("slug objects and strings: %v %v", objs.AccessGroups, err)
	}
}

func TestTokenNeverPrints(t *testing.T) {
	const secret = "wf-very-secret-token-123"
	tok := Token(secret)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "token", tok)
	js, _ := json.Marshal(struct{ T Token }{tok})
	c, err := NewClient(Config{Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%s %v %+v %#v %q", tok, tok, tok, tok, tok), logs.String(), string(js), c.String(), fmt.Sprintf("%+v", c)} {
		if strings.Contains(s, secret) {
			t.Errorf("token leaked: %s", s)
		}
	}
	if tok.Reveal() != secret || !strings.HasPrefix(tok.Fingerprint(), "tok_") || Token("other").Fingerprint() == tok.Fingerprint() {
		t.Error("Reveal/Fingerprint broken")
	}
}

func TestWebhookSignature(t *testing.T) {
	key := []byte("test-client-secret")
	body := []byte(`{"triggerType":"user_account_added","payload":{"id":"6287ec36a841b25637c663df"}}`)
	const ts = "1722370035277"
	const want = "0aed1d0ab2577035ce5df351fd972afeca73fc7cc4b1525f939514d1d1d10bd8"
	if got := SignWebhook(key, ts, body); got != want {
		t.Fatalf("signature %s, want the reference vector %s", got, want)
	}
	sent := time.UnixMilli(1722370035277)
	tests := []struct {
		name string
		key  []byte
		sig  string
		body []byte
		now  time.Time
		want error
	}{
		{"valid", key, want, body, sent.Add(time.Minute), nil},
		{"tampered body", key, want, append(append([]byte{}, body...), ' '), sent, ErrWebhookSignature},
		{"wrong key", []byte("other"), want, body, sent, ErrWebhookSignature},
		{"replayed after 5 minutes", key, want, body, sent.Add(5*time.Minute + time.Millisecond), ErrWebhookStale},
	}
	for _, tc := range tests {
		if err := VerifyWebhook(tc.key, ts, tc.sig, tc.body, tc.now); err != tc.want {
			t.Errorf("%s: got %v want %v", tc.name, err, tc.want)
		}
	}
}

func TestBackoffPolicy(t *testing.T) {
	p := BackoffPolicy{MaxAttempts: 3, Base: time.Millisecond, Max: 10 * time.Millisecond, MaxElapsed: time.Second}
	get := Call{Method: "GET", Endpoint: EPGetUser, Idempotent: true}
	invite := Call{Method: "POST", Endpoint: EPInviteUser}
	e500 := &APIError{Status: 500}
	tests := []struct {
		name string
		call Call
		a    Attempt
		want bool
	}{
		{"GET 500 retried", get, Attempt{N: 1, Err: e500}, true},
		{"GET 503 retried", get, Attempt{N: 2, Err: &APIError{Status: 503}}, true},
		{"GET transport error retried", get, Attempt{N: 1, Err: &TransportError{Err: fmt.Errorf("connection reset by peer")}}, true},
		{"bounded in count", get, Attempt{N: 3, Err: e500}, false},
		{"bounded in time", get, Attempt{N: 1, Err: e500, Elapsed: time.Second}, false},
		{"invite never blindly retried", invite, Attempt{N: 1, Err: e500}, false},
		{"400 not retried", get, Attempt{N: 1, Err: &APIError{Status: 400, Code: CodeValidationError}}, false},
		{"401 not retried", get, Attempt{N: 1, Err: &APIError{Status: 401}}, false},
		{"403 not retried", get, Attempt{N: 1, Err: &APIError{Status: 403, Code: CodeMissingScopes}}, false},
		{"sunset not retried", get, Attempt{N: 1, Err: &APIError{Status: 404, Code: CodeResourceNotFound, unavailable: true}}, false},
		{"501 not retried", get, Attempt{N: 1, Err: &APIError{Status: 501}}, false},
	}
	for _, tc := range tests {
		d, got := p.Retry(tc.call, tc.a)
		if got != tc.want {
			t.Errorf("%s: retry=%v want %v", tc.name, got, tc.want)
		}
		if got && (d <= 0 || d > 10*time.Millisecond) {
			t.Errorf("%s: wait %v out of bounds", tc.name, d)
		}
	}
}

func TestErrorHelpers(t *testing.T) {
	wrap := func(e *APIError) error { return fmt.Errorf("ctx: %w", e) }
	sunset := &APIError{Status: 404, Code: CodeResourceNotFound, Endpoint: EPListUsers, unavailable: true}
	tests := []struct {
		name string
		err  error
		is   func(error) bool
		want bool
	}{
		{"not found", wrap(&APIError{Status: 404, Code: CodeUserNotFound}), IsNotFound, true},
		{"sunset is not plain not-found", wrap(sunset), IsNotFound, false},
		{"sunset", wrap(sunset), IsUserAccountsUnavailable, true},
		{"duplicate", wrap(&APIError{Status: 409, Code: CodeDuplicateUserEmail}), IsDuplicateEmail, true},
		{"user limit is not duplicate", wrap(&APIError{Status: 409, Code: CodeUserLimitReached}), IsDuplicateEmail, false},
		{"user limit", wrap(&APIError{Status: 409, Code: CodeUserLimitReached}), IsUserLimit, true},
		{"validation", wrap(&APIError{Status: 400, Code: CodeValidationError}), IsValidation, true},
		{"rate limited", wrap(&APIError{Status: 429, Code: CodeTooManyRequests}), IsRateLimited, true},
		{"401", wrap(&APIError{Status: 401, Code: CodeNotAuthorized}), IsUnauthorized, true},
		{"missing scope", wrap(&APIError{Status: 403, Code: CodeMissingScopes}), IsUnauthorized, true},
		{"users_not_enabled is not unauthorized", wrap(&APIError{Status: 403, Code: CodeUsersNotEnabled}), IsUnauthorized, false},
		{"plain error", fmt.Errorf("x"), IsNotFound, false},
	}
	for _, tc := range tests {
		if got := tc.is(tc.err); got != tc.want {
			t.Errorf("%s: got %v", tc.name, got)
		}
	}
	if !strings.Contains(sunset.Error(), "2026-01-29") {
		t.Errorf("sunset error must name the date: %s", sunset.Error())
	}
}

// TestUpdateUserBodyAsMap: the PATCH body is byte for byte what encoding
// it as a map of the fields present wrote (keys sorted, nil omitted,
// empty sent as [] or {}).
func TestUpdateUserBodyAsMap(t *testing.T) {
	asMap := func(r UpdateUserRequest) []byte {
		m := map[string]any{}
		if r.Data != nil {
			m["data"] = r.Data
		}
		if r.AccessGroups != nil {
			m["accessGroups"] = r.AccessGroups
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, r := range []UpdateUserRequest{
		{},
		{AccessGroups: []string{}},
		{Data: UserData{}},
		{Data: UserData{}, AccessGroups: []string{}},
		{AccessGroups: []string{"premium", "staff"}},
		{Data: UserData{"name": "Ada <Lovelace> & co", "accept-privacy": true, "n": 1.5, "nil": nil, "zz": []any{"x"}}},
		{Data: UserData{"name": "Ünïcode \u2028", "country": "UK"}, AccessGroups: []string{"a&b", ""}},
	} {
		got, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if want := asMap(r); string(got) != string(want) {
			t.Errorf("%#v:\n got %s\nwant %s", r, got, want)
		}
	}
}
