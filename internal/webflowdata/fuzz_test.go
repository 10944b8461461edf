package webflowdata

// Fuzz targets for Webflow payload decoding and webhook signatures (issue
// 7, "Fuzzing"). Run one with, e.g.
//
//	go test -run '^$' -fuzz '^FuzzUserJSON$' -fuzztime 5m -parallel 1 ./internal/webflowdata/

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// fzUserSeeds are Webflow user payloads from webflow-api.md (2.1, 2.2,
// 4.3), the seed's and v1's legacy shapes, the Fern double nesting, and
// malformed ones.
var fzUserSeeds = []string{
	`{"id":"6287ec36a841b25637c663df","isEmailVerified":true,"lastUpdated":"2023-12-28T07:47:27.893Z","invitedOn":null,"createdOn":"2023-01-10T10:43:12.936Z","lastLogin":"2023-12-27T23:29:33.668Z","status":"verified","accessGroups":[{"slug":"client","type":"admin"},{"slug":"premium","type":"ecommerce"}],"data":{"name":"Michael","email":"mike@example.com","accept-privacy":true,"accept-communications":false,"country":"NZ"}}`,
	`{"id":"6287ec36a841b25637c663df","isEmailVerified":false,"lastUpdated":"2022-05-20T13:46:12Z","invitedOn":"2016-10-24T19:41:29Z","createdOn":"2022-05-20T13:46:12Z","lastLogin":"2016-10-24T19:41:29Z","status":"unverified","accessGroups":[{"slug":"vogon-construction-crew","type":"admin"}]}`,
	`{"id":"6287ec36a841b25637c663df","lastUpdated":"2022-05-20T13:46:12.093Z","createdOn":"2022-05-20T13:46:12.093Z","isEmailVerified":false,"status":"unverified","accessGroups":[{"slug":"webflowers","type":"admin"}],"data":{"accept-privacy":false,"accept-communications":false,"email":"arthur.dent@heartofgold.ship","name":"Arthur Dent"}}`,
	`{"_id":"5f0c8a7e","emailVerified":true,"updatedOn":"2020-07-13T16:12:46.102Z","email":"legacy@example.com","name":"Legacy","accessGroups":["members","staff"],"data":null}`,
	`{"id":"u1","data":{"data":{"email":"fern@example.com","additionalProperties":{}},"x":1}}`,
	`{"id":"u1","data":{"data":{"data":{"email":"x@y"}}}}`,
	`{"id":"u1","lastUpdated":"","invitedOn":"2023-01-10T10:43:12+13:00","createdOn":"2023-01-10T10:43:12.123456789-00:30","accessGroups":[{}, "", {"slug":1}],"data":[]}`,
	`{"id":1}`, `{"lastLogin":"yesterday"}`, `{"accessGroups":{}}`, `null`, `[]`, `{`, `"x"`,
}

// FuzzUserJSON: json.Unmarshal into User never panics, and a decoded user
// survives encoding and decoding again (times at Webflow's millisecond
// precision). The other decoded payloads (lists, PATCH bodies, webhook
// envelopes) never panic either.
func FuzzUserJSON(f *testing.F) {
	for _, s := range fzUserSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"count":5,"limit":5,"offset":0,"total":201,"users":[{"id":"6287ec36a841b25637c663df","isEmailVerified":false,"lastUpdated":"2022-05-20T13:46:12Z","status":"unverified","accessGroups":[{"slug":"vogon-construction-crew","type":"admin"}]}]}`))
	f.Add([]byte(`{"data":{"name":"Some One","accept-privacy":false,"accept-communications":false},"accessGroups":["webflowers","platinum","free-tier"]}`))
	f.Add([]byte(`{"triggerType":"user_account_added","payload":{"id":"6287ec36a841b25637c663df","data":{"email":"arthur.dent@heartofgold.ship"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var list UserList
		_ = json.Unmarshal(b, &list)
		var upd UpdateUserRequest
		if json.Unmarshal(b, &upd) == nil {
			if _, err := json.Marshal(upd); err != nil {
				t.Fatalf("UpdateUserRequest re-encode: %v", err)
			}
		}
		var ev WebhookEvent
		if json.Unmarshal(b, &ev) == nil && len(ev.Payload) > 0 {
			var pu User
			_ = json.Unmarshal(ev.Payload, &pu)
		}

		var u User
		if err := json.Unmarshal(b, &u); err != nil {
			return
		}
		if u.Data == nil {
			t.Fatalf("decoded user has nil Data: %q", b)
		}
		_ = u.Email()
		_ = u.Slugs()
		enc, err := json.Marshal(u)
		if err != nil {
			t.Fatalf("re-encoding a decoded user: %v", err)
		}
		var back User
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatalf("a re-encoded user does not decode: %v\n%s", err, enc)
		}
		want := u
		for _, p := range []*Time{&want.LastUpdated, &want.InvitedOn, &want.CreatedOn, &want.LastLogin} {
			*p = NewTime(p.Time)
			if p.IsZero() {
				*p = Time{}
			}
		}
		if _, nested := want.Data["data"].(map[string]any); nested && want.Email() == "" {
			// The Fern artifact is flattened one level per decode; a
			// payload nested twice is not Webflow's and flattens again.
			return
		}
		if !reflect.DeepEqual(back, want) {
			t.Fatalf("user changed across encode/decode\n got %#v\nwant %#v\nwire %s", back, want, enc)
		}
	})
}

// FuzzTimeJSON: Time.UnmarshalJSON never panics, and whatever it accepts
// MarshalJSON writes in a form it accepts again, equal to the value at
// millisecond precision.
func FuzzTimeJSON(f *testing.F) {
	for _, s := range []string{
		`"2023-12-28T07:47:27.893Z"`, `"2022-05-20T13:46:12Z"`, `null`, `""`, ` null `,
		`"2023-01-10T10:43:12+13:00"`, `"2023-01-10T10:43:12.123456789-00:30"`,
		`"0001-01-01T00:00:00Z"`, `"9999-12-31T23:59:59.999Z"`, `"0000-01-01T00:00:00+00:01"`,
		`"9999-12-31T23:59:59-00:01"`, `"2023-02-30T00:00:00Z"`, `"yesterday"`, `1722370035277`, `"\u0032023-01-01T00:00:00Z"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var tm Time
		if err := tm.UnmarshalJSON(b); err != nil {
			return
		}
		if !tm.IsZero() && tm.Location() != time.UTC {
			t.Fatalf("decoded time %v is not UTC", tm)
		}
		enc, err := tm.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON(%v): %v", tm, err)
		}
		var back Time
		if err := back.UnmarshalJSON(enc); err != nil {
			t.Fatalf("%q decodes to %v, which encodes to %s, which does not decode: %v", b, tm.Time, enc, err)
		}
		want := NewTime(tm.Time)
		if tm.IsZero() || want.IsZero() {
			want = Time{}
		}
		if !back.Equal(want.Time) {
			t.Fatalf("%q: round trip %v -> %s -> %v", b, tm.Time, enc, back.Time)
		}
	})
}

// FuzzVerifyWebhook: VerifyWebhook never panics on any header values; it
// accepts only the exact SignWebhook signature over the exact timestamp
// string within the replay window; a signature from SignWebhook always
// verifies within the window; flipping any one byte of the body or of the
// signature makes it fail.
func FuzzVerifyWebhook(f *testing.F) {
	body := []byte(`{"triggerType":"user_account_added","payload":{"id":"6287ec36a841b25637c663df","lastUpdated":"2022-05-20T13:46:12.093Z","createdOn":"2022-05-20T13:46:12.093Z","isEmailVerified":false,"status":"unverified","accessGroups":[{"slug":"webflowers","type":"admin"}],"data":{"accept-privacy":false,"accept-communications":false,"email":"arthur.dent@heartofgold.ship","name":"Arthur Dent"}}}`)
	f.Add([]byte("test-client-secret"), "1722370035277", "", body, int64(0), uint16(0), byte(1))
	f.Add([]byte("2b4acfd1"), "+1722370035277", "00", body, int64(-300000), uint16(7), byte(0x20))
	f.Add([]byte{}, "-9223372036854775808", "zz", []byte{}, int64(300000), uint16(65535), byte(0xff))
	f.Add([]byte("k"), "9223372036854775807", "x", []byte("{}"), int64(300001), uint16(3), byte(0))
	f.Fuzz(func(t *testing.T, key []byte, ts, sig string, body []byte, offsetMS int64, pos uint16, flip byte) {
		now := time.UnixMilli(1722370035277 + 123)

		// Arbitrary headers: never panics; success only for the real thing.
		err := VerifyWebhook(key, ts, sig, body, now)
		if err != nil && !errors.Is(err, ErrWebhookSignature) && !errors.Is(err, ErrWebhookStale) {
			t.Fatalf("unexpected error %v", err)
		}
		if err == nil {
			ms, perr := strconv.ParseInt(ts, 10, 64)
			age := now.Sub(time.UnixMilli(ms))
			if perr != nil || age > WebhookReplayWindow || age < -WebhookReplayWindow || sig != SignWebhook(key, ts, body) {
				t.Fatalf("accepted ts=%q sig=%q", ts, sig)
			}
		}

		// A fresh signature within the window verifies.
		win := WebhookReplayWindow.Milliseconds()
		off := offsetMS % (win + 1) // [-win, win]
		tsOK := strconv.FormatInt(now.UnixMilli()-off, 10)
		good := SignWebhook(key, tsOK, body)
		if len(good) != 64 {
			t.Fatalf("signature %q is not 64 hex digits", good)
		}
		if err := VerifyWebhook(key, tsOK, good, body, now); err != nil {
			t.Fatalf("fresh signature (ts offset %dms) rejected: %v", off, err)
		}
		// Outside the window it is stale, whatever the signature.
		tsOld := strconv.FormatInt(now.UnixMilli()-win-1-fzAbs64(off), 10)
		if err := VerifyWebhook(key, tsOld, SignWebhook(key, tsOld, body), body, now); !errors.Is(err, ErrWebhookStale) {
			t.Fatalf("stale delivery accepted: %v", err)
		}
		if flip == 0 {
			flip = 1
		}
		// One byte of the body changed.
		if len(body) > 0 {
			b2 := append([]byte(nil), body...)
			b2[int(pos)%len(b2)] ^= flip
			if err := VerifyWebhook(key, tsOK, good, b2, now); !errors.Is(err, ErrWebhookSignature) {
				t.Fatalf("body byte %d ^ %#x still verifies: %v", int(pos)%len(b2), flip, err)
			}
		}
		// One byte of the signature changed.
		s2 := []byte(good)
		s2[int(pos)%len(s2)] ^= flip
		if err := VerifyWebhook(key, tsOK, string(s2), body, now); !errors.Is(err, ErrWebhookSignature) {
			t.Fatalf("signature byte %d ^ %#x still verifies: %v", int(pos)%len(s2), flip, err)
		}
		// Signature truncated or extended.
		if err := VerifyWebhook(key, tsOK, good[:int(pos)%len(good)], body, now); !errors.Is(err, ErrWebhookSignature) {
			t.Fatalf("truncated signature verifies: %v", err)
		}
		if err := VerifyWebhook(key, tsOK, good+"0", body, now); !errors.Is(err, ErrWebhookSignature) {
			t.Fatalf("extended signature verifies: %v", err)
		}
	})
}

func fzAbs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
