package scimserver

// Fuzz targets for the GET /Users filter fast path (differential) and the
// webhook receiver's dedupe key (issue 7, "Fuzzing"):
//
//	go test -run '^$' -fuzz '^FuzzParseUserFilter$' -fuzztime 5m -parallel 1 ./internal/scimserver/

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// FuzzParseUserFilter compares parseUserFilter's regexp fast path with the
// full parser it short-cuts. Invariants:
//   - parseUserFilter never panics and terminates;
//   - whatever the fast path accepts translates to exactly one index
//     condition and no residual;
//   - for inputs both the fast path and filter.ParseFilter accept,
//     TranslateUserFilter gives equal queries and Matches agrees on
//     users built from the compared value;
//   - when the fast path declines, parseUserFilter is filter.ParseFilter.
func FuzzParseUserFilter(f *testing.F) {
	for _, s := range []string{
		`userName eq "test.user@okta.local"`,
		`userName eq "abcdefgh@atko.com"`,
		`userName eq "RUNSCOPE123XXXXXX123@ATKO.COM"`,
		`userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"`,
		`userName eq "non-existent user"`,
		`externalId eq "johnwong"`,
		`externalId eq jyoung`,
		`displayName eq "Test SCIMv2"`,
		`id eq "5d48a0a8e9f04aa38008"`,
		`emails.value eq "a@b.c"`,
		`emails[type eq "work"].value eq "x@y.com"`,
		`userName EQ "x"`, `userName Eq ""`, `  userName   eq   "x"  `, "userName\teq\t\"x\"\n",
		`username eq "x"`, `userName eq "a\"b"`, `userName eq "a\\b"`, `userName eq "é€😀"`,
		`userName eq "x" and active eq true`, `userName eq "x" or userName eq "y"`,
		`userName eq "\u0000"`, "userName eq \"\x00\xff\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		guard := time.AfterFunc(10*time.Second, func() { panic("fuzz: parseUserFilter did not terminate") })
		defer guard.Stop()

		got, gerr := parseUserFilter(raw)
		fast := simpleEq.FindStringSubmatch(raw) != nil
		full, ferr := filter.ParseFilter([]byte(raw))
		if !fast {
			if (gerr == nil) != (ferr == nil) || !reflect.DeepEqual(got, full) {
				t.Fatalf("slow path differs from filter.ParseFilter: %#v,%v vs %#v,%v", got, gerr, full, ferr)
			}
			return
		}
		if gerr != nil {
			t.Fatalf("fast path matched %q but returned %v", raw, gerr)
		}
		qf, err := mapping.TranslateUserFilter(got)
		if err != nil {
			t.Fatalf("fast path expression for %q does not translate: %v", raw, err)
		}
		if len(qf.Eq) != 1 || qf.Residual != nil {
			t.Fatalf("fast path %q translated to %+v, want one index condition", raw, qf)
		}
		if ferr != nil {
			t.Fatalf("the fast path accepts %q, the parser refuses it: %v", raw, ferr)
		}
		qp, err := mapping.TranslateUserFilter(full)
		if err != nil {
			var me *mapping.Error
			if !errors.As(err, &me) {
				t.Fatalf("TranslateUserFilter error %T %v", err, err)
			}
			t.Fatalf("parser accepts %q but its translation fails (%v) while the fast path gives %+v", raw, err, qf)
		}
		if !reflect.DeepEqual(qf, qp) {
			t.Fatalf("filter %q: fast path query %+v, parser query %+v", raw, qf, qp)
		}
		v := qf.Eq[0].Value
		for _, s := range []string{v, strings.ToUpper(v), strings.ToLower(v), "other"} {
			u := mapping.User{UserName: s, ExternalID: s, DisplayName: s, Emails: []mapping.Email{{Value: s, Type: "work"}}}
			mf, err1 := mapping.Matches(got, u, s)
			mp, err2 := mapping.Matches(full, u, s)
			if err1 != nil || err2 != nil || mf != mp {
				t.Fatalf("filter %q on %q: fast path Matches %v,%v; parser %v,%v", raw, s, mf, err1, mp, err2)
			}
		}
	})
}

// FuzzWebhookDedupeKey: the replay-dedupe key of a webhook delivery never
// panics, is 64 hex digits, ignores the payload's formatting (whitespace,
// key order) and separates trigger types.
func FuzzWebhookDedupeKey(f *testing.F) {
	f.Add("user_account_added", []byte(`{"id":"6287ec36a841b25637c663df","lastUpdated":"2022-05-20T13:46:12.093Z","createdOn":"2022-05-20T13:46:12.093Z","isEmailVerified":false,"status":"unverified","accessGroups":[{"slug":"webflowers","type":"admin"}],"data":{"accept-privacy":false,"accept-communications":false,"email":"arthur.dent@heartofgold.ship","name":"Arthur Dent"}}`))
	f.Add("user_account_deleted", []byte(`{"id":"u1","n":1.50,"big":123456789012345678901234567890,"s":"<&>\u00e9"}`))
	f.Add("user_account_updated", []byte(`{"b":1,"a":[true,null,{}]}`))
	f.Add("", []byte(`null`))
	f.Fuzz(func(t *testing.T, trigger string, payload []byte) {
		var ev webflowdata.WebhookEvent
		envelope, err := json.Marshal(map[string]any{"triggerType": trigger, "payload": json.RawMessage(payload)})
		if err != nil || json.Unmarshal(envelope, &ev) != nil {
			return // not a JSON payload: the receiver rejects the envelope
		}
		k := webhookDedupeKey(ev)
		if len(k) != 64 || strings.Trim(k, "0123456789abcdef") != "" {
			t.Fatalf("key %q", k)
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, ev.Payload, " ", "\t"); err != nil {
			t.Fatalf("payload %q: %v", ev.Payload, err)
		}
		ev2 := ev
		ev2.Payload = append(pretty.Bytes(), '\n', ' ')
		if k2 := webhookDedupeKey(ev2); k2 != k {
			t.Fatalf("key depends on formatting: %q vs %q", ev.Payload, ev2.Payload)
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(ev.Payload, &m) == nil && len(m) > 1 {
			// Same members, reversed order.
			keys := make([]string, 0, len(m))
			for key := range m {
				keys = append(keys, key)
			}
			var b bytes.Buffer
			b.WriteByte('{')
			for i := len(keys) - 1; i >= 0; i-- {
				kb, _ := json.Marshal(keys[i])
				b.Write(kb)
				b.WriteByte(':')
				b.Write(m[keys[i]])
				if i > 0 {
					b.WriteByte(',')
				}
			}
			b.WriteByte('}')
			ev3 := ev
			ev3.Payload = b.Bytes()
			if k3 := webhookDedupeKey(ev3); k3 != k {
				t.Fatalf("key depends on member order: %q vs %q", ev.Payload, ev3.Payload)
			}
		}
		ev4 := ev
		ev4.TriggerType += "x"
		if webhookDedupeKey(ev4) == k {
			t.Fatalf("trigger types %q and %q share a key", ev.TriggerType, ev4.TriggerType)
		}
	})
}
