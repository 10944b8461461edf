package state

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRecordEncodingRoundTrip(t *testing.T) {
	ns := time.Date(2026, 11, 26, 20, 38, 0, 473944944, time.UTC)
	base := func() *UserRecord {
		return &UserRecord{ID: "u1", SiteID: siteA, WebflowUserID: "u1", UserName: "alice@example.com", Email: "alice@example.com",
			Active: true, Version: 3, Created: ns, Modified: ns.Add(time.Second), SyncedAt: ns.Add(-time.Second),
			SCIM: json.RawMessage(`{"name":{"givenName":"Alice"}}`), Webflow: json.RawMessage(`{"f":1,"s":"verified"}`)}
	}
	tests := []struct {
		name   string
		change func(r *UserRecord)
		// in and out are substrings the document must (not) contain.
		in, out []string
	}{
		{"typical", func(*UserRecord) {}, []string{`{"v":3,`, `"u":"alice@example.com"`},
			[]string{`"e"`, `"w"`, `"_ix"`, `"u1"`, siteA, `"x"`, `"d"`, `"tombstone"`, `"adopted"`}},
		{"email differs", func(r *UserRecord) { r.Email = "alice@corp.example" }, []string{`"e":"alice@corp.example"`}, nil},
		{"email differs in case only", func(r *UserRecord) { r.Email = "Alice@example.com" },
			[]string{`"e":"Alice@example.com"`, `"_ix":{"email":"alice@example.com"}`}, nil},
		{"no email", func(r *UserRecord) { r.Email = "" }, []string{`"e":""`}, nil},
		{"userName not normalised", func(r *UserRecord) { r.UserName, r.Email = "ÉMILE@x", "ÉMILE@x" },
			[]string{`"_ix":{"userName":"émile@x","email":"émile@x"}`}, []string{`"e"`}},
		{"webflow id differs", func(r *UserRecord) { r.WebflowUserID = "wf-9" }, []string{`"w":"wf-9"`}, nil},
		{"no webflow user", func(r *UserRecord) { r.WebflowUserID = "" }, []string{`"w":""`}, nil},
		{"everything", func(r *UserRecord) {
			r.ExternalID, r.DisplayName, r.Tombstone, r.Adopted = "ext-1", "Alice Liddell", true, true
		}, []string{`"x":"ext-1"`, `"d":"Alice Liddell"`, `"tombstone":true`, `"adopted":true`}, []string{`"_ix"`}},
		{"inactive, zero times, no blobs", func(r *UserRecord) {
			r.Active, r.Created, r.Modified, r.SyncedAt, r.SCIM, r.Webflow = false, time.Time{}, time.Time{}, time.Time{}, nil, nil
		}, nil, []string{`"a"`, `"c"`, `"m"`, `"s"`, `"sc"`, `"wf"`}},
		{"times outside int64 nanoseconds", func(r *UserRecord) {
			r.Created = time.Date(1500, 1, 2, 3, 4, 5, 6, time.UTC)
			r.SyncedAt = time.Date(3000, 1, 2, 3, 4, 5, 6, time.UTC)
		}, []string{`"c":"1500-01-02T03:04:05.000000006Z"`, `"s":"3000-01-02T03:04:05.000000006Z"`}, nil},
		{"time in another zone", func(r *UserRecord) { r.SyncedAt = ns.In(time.FixedZone("X", 3600)) }, nil, nil},
		{"epoch", func(r *UserRecord) { r.Created = time.Unix(0, 0) }, []string{`"c":0`}, nil},
		{"never replaced", func(r *UserRecord) { r.Modified = r.Created }, []string{`"c":`}, []string{`"m"`}},
		{"modified zero, created set", func(r *UserRecord) { r.Modified = time.Time{} }, []string{`"m":"0001-01-01T00:00:00Z"`}, nil},
		{"created zero, modified set", func(r *UserRecord) { r.Created = time.Time{} }, []string{`"m":`}, []string{`"c"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := base()
			tc.change(rec)
			doc, err := encodeRecord(rec, indexValues(rec))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.in {
				if !strings.Contains(string(doc), s) {
					t.Errorf("document %s lacks %s", doc, s)
				}
			}
			for _, s := range tc.out {
				if strings.Contains(string(doc), s) {
					t.Errorf("document %s contains %s", doc, s)
				}
			}
			got, err := decodeRecord(siteA, "u1", string(doc))
			if err != nil {
				t.Fatal(err)
			}
			sameRecord(t, got, rec)
		})
	}
}

// oldFormatDoc is a record as the previous encoding stored it: the
// UserRecord JSON (id and siteId included, RFC 3339 times) plus the full _ix,
// the displayName hash included.
func oldFormatDoc(t *testing.T, rec *UserRecord) string {
	t.Helper()
	ix := indexValues(rec)
	if rec.DisplayName != "" {
		ix.DisplayName = dnHash(rec.DisplayName)
	}
	b, err := json.Marshal(struct {
		*UserRecord
		Ix storedIx `json:"_ix"`
	}{rec, ix})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// createOldFormat stores rec as the previous version of the store did: the
// document in the previous format, through the create script, and an index
// entry for every value, the Webflow user id too when it equals the SCIM id,
// the displayName in the previous displayName index.
func createOldFormat(t *testing.T, s *RedisStore, rec *UserRecord) {
	t.Helper()
	createWith(t, s, rec, oldFormatDoc(t, rec))
	k := s.keysFor(rec.SiteID)
	if rec.WebflowUserID != "" {
		if err := s.rdb.HSet(t.Context(), k.ixWebflowID, rec.WebflowUserID, rec.ID).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// createWith stores rec with the document doc through the create script,
// its displayName in the previous displayName index (as the store did
// before dnScore).
func createWith(t *testing.T, s *RedisStore, rec *UserRecord, doc string) {
	t.Helper()
	args, err := writeArgs(rec)
	if err != nil {
		t.Fatal(err)
	}
	args[1], args[6] = doc, ""
	k := s.keysFor(rec.SiteID)
	res, err := s.scripts.create.Run(t.Context(), s.rdb, k.list(), args...).Result()
	if err != nil || scriptResult(res, rec) != nil {
		t.Fatalf("create old format: %v %v", res, err)
	}
	if rec.DisplayName != "" {
		if err := s.rdb.ZAdd(t.Context(), k.ixDisplayName, redis.Z{Member: dnHash(rec.DisplayName) + rec.ID}).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// compactV1Doc is a record as the compact format stored it before the
// dnScore index: the displayName hash in _ix.
func compactV1Doc(t *testing.T, rec *UserRecord) string {
	t.Helper()
	ix := indexValues(rec)
	if rec.DisplayName != "" {
		ix.DisplayName = dnHash(rec.DisplayName)
	}
	doc := recordDoc{Version: rec.Version, UserName: rec.UserName, ExternalID: rec.ExternalID, DisplayName: rec.DisplayName,
		Active: rec.Active, Created: unixNano{rec.Created}, SyncedAt: unixNano{rec.SyncedAt},
		SCIM: rec.SCIM, Webflow: rec.Webflow, Tombstone: rec.Tombstone, Adopted: rec.Adopted}
	if !rec.Modified.IsZero() {
		doc.Modified = &unixNano{rec.Modified} // always written: the store never leaves it zero
	}
	ix.UserName, ix.Email, ix.ExternalID, ix.WebflowID = "", "", "", ""
	if n := normalize(IndexUserName, rec.UserName); n != rec.UserName {
		ix.UserName = n
	}
	if n := normalize(IndexEmail, rec.Email); n != rec.Email {
		ix.Email = n
	}
	if ix != (storedIx{}) {
		doc.Ix = &ix
	}
	if rec.Email != rec.UserName {
		doc.Email = &rec.Email
	}
	if rec.WebflowUserID != rec.ID {
		doc.WebflowID = &rec.WebflowUserID
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// testStores are the backends of the format tests: miniredis always, the
// Redis at REDIS_URL when set.
func testStores() map[string]func(t *testing.T) *RedisStore {
	return map[string]func(t *testing.T) *RedisStore{
		"miniredis": func(t *testing.T) *RedisStore {
			_, rdb := newMiniredisClient(t, false)
			return NewRedisStore(rdb, Options{})
		},
		"redis": func(t *testing.T) *RedisStore {
			rdb := realRedis(t)
			prefix := "wfbtest-" + randomHex(t, 6)
			t.Cleanup(func() { deletePrefix(t, rdb, prefix) })
			return NewRedisStore(rdb, Options{Prefix: prefix})
		},
	}
}

// indexKeys are the keys a site without users has none of: the records,
// their indexes (both displayName ones) and the order.
func indexKeys(k siteKeys) []string {
	return []string{k.users, k.ixUserName, k.ixEmail, k.ixExternalID, k.ixWebflowID, k.ixDisplayName, k.order, k.dn}
}

func TestOldFormatRecords(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	old := func() *UserRecord {
		return &UserRecord{ID: "u1", SiteID: siteA, WebflowUserID: "u1", UserName: "Alice@Example.com", Email: "Alice@Example.com",
			ExternalID: "ext-1", DisplayName: "Alice Liddell", Active: true, Version: 1, Created: now, Modified: now, SyncedAt: now,
			SCIM: json.RawMessage(`{"userName":"Alice@Example.com","active":true}`), Webflow: json.RawMessage(`{"id":"u1","status":"verified"}`)}
	}
	// Both earlier formats: the previous one (full _ix, an entry for the
	// Webflow user id too) and the compact one before the dnScore index.
	formats := map[string]func(t *testing.T, s *RedisStore, rec *UserRecord){
		"previous":   createOldFormat,
		"compact v1": func(t *testing.T, s *RedisStore, rec *UserRecord) { createWith(t, s, rec, compactV1Doc(t, rec)) },
	}
	for backend, newStore := range testStores() {
		for format, createOldFormat := range formats {
			t.Run(backend+"/"+format, func(t *testing.T) {
				t.Run("decodes and is found", func(t *testing.T) {
					s := newStore(t)
					rec := old()
					createOldFormat(t, s, rec)
					sameRecord(t, mustGet(t, s, siteA, "u1"), rec)
					for _, q := range []struct {
						idx   Index
						value string
					}{{IndexUserName, "alice@example.com"}, {IndexEmail, "ALICE@example.com"}, {IndexExternalID, "ext-1"}, {IndexWebflowID, "u1"}} {
						got, err := s.FindUser(t.Context(), siteA, q.idx, q.value)
						if err != nil {
							t.Fatalf("FindUser(%s): %v", q.idx, err)
						}
						sameRecord(t, got, rec)
					}
					if ids := lookup(t, s, siteA, IndexDisplayName, "alice liddell"); len(ids) != 1 || ids[0] != "u1" {
						t.Fatalf("displayName lookup = %v", ids)
					}
					// A namesake written now is in the new index; one
					// lookup finds both.
					mustCreate(t, s, &UserRecord{ID: "u0", SiteID: siteA, UserName: "alice2", Email: "alice2@x", DisplayName: "Alice LIDDELL"})
					if ids := lookup(t, s, siteA, IndexDisplayName, "alice liddell"); !slices.Equal(ids, []string{"u0", "u1"}) {
						t.Fatalf("displayName lookup with a namesake = %v", ids)
					}
					recs, err := s.GetUsers(t.Context(), siteA, []string{"u1"})
					if err != nil || len(recs) != 1 {
						t.Fatalf("GetUsers = %v %v", recs, err)
					}
					sameRecord(t, recs[0], rec)
					if err := s.checkInvariants(t.Context(), siteA); err != nil {
						t.Fatal(err)
					}
				})
				t.Run("replace unindexes every old value", func(t *testing.T) {
					s := newStore(t)
					createOldFormat(t, s, old())
					rec := mustGet(t, s, siteA, "u1")
					rec.UserName, rec.Email, rec.ExternalID, rec.WebflowUserID, rec.DisplayName = "bob", "bob@x", "ext-2", "wf-2", "Bob"
					if err := s.ReplaceUser(t.Context(), rec); err != nil {
						t.Fatal(err)
					}
					if err := s.checkInvariants(t.Context(), siteA); err != nil {
						t.Fatal(err) // an old value left in an index is an orphan
					}
					for _, idx := range []Index{IndexUserName, IndexEmail, IndexExternalID, IndexWebflowID, IndexDisplayName} {
						if ids := lookup(t, s, siteA, idx, originalValue(old(), idx)); len(ids) != 0 {
							t.Errorf("%s %q still finds %v", idx, originalValue(old(), idx), ids)
						}
					}
					// The old values are free again.
					mustCreate(t, s, &UserRecord{ID: "u2", SiteID: siteA, UserName: "alice@example.com", Email: "alice@example.com", ExternalID: "ext-1", WebflowUserID: "u1"})
					if err := s.checkInvariants(t.Context(), siteA); err != nil {
						t.Fatal(err)
					}
				})
				t.Run("replace keeps unchanged values indexed", func(t *testing.T) {
					s := newStore(t)
					createOldFormat(t, s, old())
					rec := mustGet(t, s, siteA, "u1")
					rec.Active = false
					if err := s.ReplaceUser(t.Context(), rec); err != nil {
						t.Fatal(err)
					}
					if err := s.checkInvariants(t.Context(), siteA); err != nil {
						t.Fatal(err)
					}
					if id := findID(t, s, siteA, IndexEmail, "alice@example.com"); id != "u1" {
						t.Fatalf("email finds %q", id)
					}
					if ids := lookup(t, s, siteA, IndexDisplayName, "ALICE LIDDELL"); !slices.Equal(ids, []string{"u1"}) {
						t.Fatalf("displayName finds %v", ids)
					}
				})
				t.Run("version mismatch", func(t *testing.T) {
					s := newStore(t)
					createOldFormat(t, s, old())
					stale := old()
					stale.Version = 7
					err := s.ReplaceUser(t.Context(), stale)
					wantErr(t, "stale replace", err, ErrVersionMismatch)
					if !strings.Contains(err.Error(), "at version 1") {
						t.Fatalf("err = %v, want the stored version 1", err)
					}
				})
				t.Run("delete unindexes", func(t *testing.T) {
					s := newStore(t)
					createOldFormat(t, s, old())
					if err := s.DeleteUser(t.Context(), siteA, "u1"); err != nil {
						t.Fatal(err)
					}
					k := s.keysFor(siteA)
					for _, key := range indexKeys(k) {
						if n, err := s.rdb.Exists(t.Context(), key).Result(); err != nil || n != 0 {
							t.Errorf("%s left behind (%d, %v)", key, n, err)
						}
					}
				})
			})
		}
	}
}

// TestCompactFormatUnindexes covers the scripts' fallback to the stored
// originals: every kind of value, normalised or not, is removed on replace
// and delete.
func TestCompactFormatUnindexes(t *testing.T) {
	_, rdb := newMiniredisClient(t, false)
	s := NewRedisStore(rdb, Options{})
	ctx := t.Context()
	recs := []*UserRecord{
		{ID: "a", SiteID: siteA, WebflowUserID: "a", UserName: "a@x", Email: "a@x"},
		{ID: "b", SiteID: siteA, WebflowUserID: "wf-b", UserName: "B@X", Email: "B@X", ExternalID: "e-b", DisplayName: "Bee"},
		{ID: "c", SiteID: siteA, UserName: "ÇA", Email: "ça@x", DisplayName: "ça"},
		{ID: "d", SiteID: siteA, WebflowUserID: "d", UserName: "d", Email: "D@x"},
	}
	for _, rec := range recs {
		mustCreate(t, s, rec)
	}
	if err := s.checkInvariants(ctx, siteA); err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		next := *rec
		next.UserName, next.Email, next.ExternalID, next.WebflowUserID, next.DisplayName = "n-"+rec.ID, "n-"+rec.ID+"@x", "", "", ""
		if err := s.ReplaceUser(ctx, &next); err != nil {
			t.Fatal(err)
		}
		if err := s.checkInvariants(ctx, siteA); err != nil {
			t.Fatalf("after replacing %s: %v", rec.ID, err)
		}
		for _, idx := range []Index{IndexUserName, IndexEmail, IndexExternalID, IndexWebflowID, IndexDisplayName} {
			if v := originalValue(rec, idx); v != "" && len(lookup(t, s, siteA, idx, v)) != 0 {
				t.Errorf("record %s: %s %q still indexed", rec.ID, idx, v)
			}
		}
	}
	for _, rec := range recs {
		if err := s.DeleteUser(ctx, siteA, rec.ID); err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
	}
	for _, key := range indexKeys(s.keysFor(siteA)) {
		if n, _ := rdb.Exists(context.Background(), key).Result(); n != 0 {
			t.Errorf("%s left behind", key)
		}
	}
}

// TestImplicitWebflowID: a Webflow user id equal to the record's SCIM id has
// no index entry, yet finds its record and is exactly as unique as any other.
func TestImplicitWebflowID(t *testing.T) {
	const x = "6287ec36a841b25637c663df"
	rec := func(id, wf string) *UserRecord {
		return &UserRecord{ID: id, SiteID: siteA, WebflowUserID: wf, UserName: id + "-name", Email: id + "@x"}
	}
	type step struct {
		what string
		run  func(t *testing.T, s *RedisStore) error
		// conflict is the holder a webflowId conflict must name, "" for success.
		conflict string
	}
	create := func(id, wf string) func(t *testing.T, s *RedisStore) error {
		return func(t *testing.T, s *RedisStore) error { return s.CreateUser(t.Context(), rec(id, wf)) }
	}
	replace := func(id, wf string) func(t *testing.T, s *RedisStore) error {
		return func(t *testing.T, s *RedisStore) error {
			cur := mustGet(t, s, siteA, id)
			cur.WebflowUserID = wf
			return s.ReplaceUser(t.Context(), cur)
		}
	}
	del := func(id string) func(t *testing.T, s *RedisStore) error {
		return func(t *testing.T, s *RedisStore) error { return s.DeleteUser(t.Context(), siteA, id) }
	}
	old := func(id, wf string) func(t *testing.T, s *RedisStore) error {
		return func(t *testing.T, s *RedisStore) error {
			r := rec(id, wf)
			r.Version = 1
			createOldFormat(t, s, r)
			return nil
		}
	}
	tests := []struct {
		name  string
		steps []step
		// holders maps Webflow user ids to the SCIM id that must hold them
		// at the end ("" for nobody).
		holders map[string]string
	}{
		{"own id is held without an entry", []step{{"create X", create(x, x), ""}}, map[string]string{x: x}},
		{"another record cannot take it", []step{{"create X", create(x, x), ""}, {"create B with X", create("b", x), x}}, map[string]string{x: x}},
		{"nor take it by replace", []step{{"create X", create(x, x), ""}, {"create B", create("b", "wf-b"), ""}, {"B to X", replace("b", x), x}},
			map[string]string{x: x, "wf-b": "b"}},
		{"an entry held by another blocks the own id", []step{{"create B with X", create("b", x), ""}, {"create X", create(x, x), "b"}},
			map[string]string{x: "b"}},
		{"nor by replace", []step{{"create B with X", create("b", x), ""}, {"create X unlinked", create(x, ""), ""}, {"X to X", replace(x, x), "b"}},
			map[string]string{x: "b"}},
		{"moving away frees it", []step{{"create X", create(x, x), ""}, {"X to Y", replace(x, "wf-y"), ""}, {"create B with X", create("b", x), ""}},
			map[string]string{x: "b", "wf-y": x}},
		{"moving back drops the entry", []step{{"create X", create(x, "wf-y"), ""}, {"X to X", replace(x, x), ""}, {"create B with Y", create("b", "wf-y"), ""}},
			map[string]string{x: x, "wf-y": "b"}},
		{"deleting frees it", []step{{"create X", create(x, x), ""}, {"delete X", del(x), ""}, {"create B with X", create("b", x), ""}},
			map[string]string{x: "b"}},
		{"an unlinked record holds nothing", []step{{"create X unlinked", create(x, ""), ""}, {"create B with X", create("b", x), ""}},
			map[string]string{x: "b"}},
		{"a record linked elsewhere holds only that", []step{{"create X", create(x, "wf-y"), ""}, {"create B with X", create("b", x), ""}},
			map[string]string{x: "b", "wf-y": x}},
		{"old-format entry still conflicts", []step{{"old X", old(x, x), ""}, {"create B with X", create("b", x), x}},
			map[string]string{x: x}},
		{"old-format record rewritten keeps it", []step{{"old X", old(x, x), ""}, {"rewrite X", replace(x, x), ""}, {"create B with X", create("b", x), x}},
			map[string]string{x: x}},
		{"old-format record moving away frees it", []step{{"old X", old(x, x), ""}, {"X to Y", replace(x, "wf-y"), ""}, {"create B with X", create("b", x), ""}},
			map[string]string{x: "b", "wf-y": x}},
	}
	for backend, newStore := range testStores() {
		t.Run(backend, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					s := newStore(t)
					for _, st := range tc.steps {
						err := st.run(t, s)
						if st.conflict == "" {
							if err != nil {
								t.Fatalf("%s: %v", st.what, err)
							}
						} else {
							wantConflict(t, st.what, err, IndexWebflowID, x, st.conflict)
						}
						if err := s.checkInvariants(t.Context(), siteA); err != nil {
							t.Fatalf("after %s: %v", st.what, err)
						}
					}
					for wf, want := range tc.holders {
						if got := findID(t, s, siteA, IndexWebflowID, wf); got != want {
							t.Errorf("FindUser(webflowId %q) = %q, want %q", wf, got, want)
						}
						var wantIDs []string
						if want != "" {
							wantIDs = []string{want}
						}
						if got := lookup(t, s, siteA, IndexWebflowID, wf); !slices.Equal(got, wantIDs) {
							t.Errorf("LookupUserIDs(webflowId %q) = %v, want %v", wf, got, wantIDs)
						}
						if want != "" {
							if r := mustGet(t, s, siteA, want); r.WebflowUserID != wf {
								t.Errorf("holder %q has webflowUserId %q", want, r.WebflowUserID)
							}
						}
					}
					if n, _ := s.rdb.HExists(t.Context(), s.keysFor(siteA).ixWebflowID, x).Result(); n && tc.holders[x] == x && !strings.HasPrefix(tc.name, "old-format entry") {
						t.Errorf("%q has an index entry although its record holds it", x)
					}
				})
			}
		})
	}
}

// DecodeStored gives what encoding/json gives on the documents the bridge
// stores, including the odd ones encoding/json accepted.
func TestDecodeStoredAsEncodingJSON(t *testing.T) {
	type doc struct {
		V    int64           `json:"v"`
		U    string          `json:"u,omitempty"`
		A    bool            `json:"a,omitempty"`
		C    unixNano        `json:"c,omitzero"`
		SC   json.RawMessage `json:"sc,omitempty"`
		Data map[string]any  `json:"data,omitempty"`
		List []string        `json:"list,omitempty"`
	}
	for _, tc := range []struct{ name, in string }{
		{"compact record", `{"v":3,"u":"ada@example.com","a":true,"c":1764748800000000000,"sc":{"userName":"ada@example.com","emails":[{"value":"ada@example.com"}]}}`},
		{"numbers and nulls in data", `{"v":1,"data":{"n":1.5,"i":7,"b":false,"s":"x","z":null,"o":{"k":[1,"2"]}},"list":null}`},
		{"names in another case", `{"V":2,"U":"bob@example.com"}`},
		{"duplicate names", `{"v":1,"u":"first","u":"last"}`},
		{"invalid UTF-8", "{\"v\":1,\"u\":\"caf\xe9\"}"},
		{"escapes", `{"v":1,"u":"\u00e9\n\"q\""}`},
		{"RFC 3339 time", `{"v":1,"c":"1500-01-02T03:04:05.000000006Z"}`},
	} {
		var want, got doc
		errW := json.Unmarshal([]byte(tc.in), &want)
		errG := DecodeStored([]byte(tc.in), &got)
		if (errW == nil) != (errG == nil) {
			t.Errorf("%s: encoding/json error %v, DecodeStored error %v", tc.name, errW, errG)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %#v\nwant %#v", tc.name, got, want)
		}
	}
	var d doc
	if err := DecodeStored([]byte(`{"v":`), &d); err == nil {
		t.Error("a truncated document decoded without an error")
	}
}

// BenchmarkDecodeStored compares decoding a stored user record (as the
// bench preloads it, as Okta sends a user) with encoding/json and with
// DecodeStored.
func BenchmarkDecodeStored(b *testing.B) {
	now := time.Now()
	rec := &UserRecord{ID: "0123456789abcdef01234567", SiteID: "s", WebflowUserID: "0123456789abcdef01234567", UserName: "user000001@example.com", Email: "user000001@example.com",
		ExternalID: "00u00000000000000001", DisplayName: "User N000001", Active: true, Version: 3, Created: now, Modified: now, SyncedAt: now,
		SCIM:    json.RawMessage(`{"userName":"user000001@example.com","externalId":"00u00000000000000001","displayName":"User N000001","active":true,"name":{"givenName":"User","familyName":"N000001"},"emails":[{"value":"user000001@example.com","type":"work","primary":true}]}`),
		Webflow: json.RawMessage(`{"v":1,"st":"verified","vf":true,"c":"2026-12-03T08:00:00.000Z","u":"2026-12-03T08:00:00.000Z","d":{"email":"user000001@example.com","name":"User N000001","accept-privacy":false,"accept-communications":false},"g":[]}`)}
	raw, err := encodeRecord(rec, storedIx{})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		decode func([]byte, any) error
	}{{"encoding-json", json.Unmarshal}, {"DecodeStored", DecodeStored}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var d recordDoc
				if err := bc.decode(raw, &d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestImplicitEmail: an email equal to the record's userName (normalised)
// has no index entry, yet finds its record through every read (FindUser,
// LookupUserIDs, ViewUserBy, ReserveCreate) and is exactly as unique as any
// other.
func TestImplicitEmail(t *testing.T) {
	const x = "Ada@Example.com" // the normalised value is ada@example.com
	rec := func(id, userName, email string) *UserRecord {
		return &UserRecord{ID: id, SiteID: siteA, WebflowUserID: id, UserName: userName, Email: email}
	}
	type step struct {
		what string
		run  func(t *testing.T, s *RedisStore) error
		// conflict is the holder an email conflict must name, "" for success.
		conflict string
	}
	create := func(id, userName, email string) func(t *testing.T, s *RedisStore) error {
		return func(t *testing.T, s *RedisStore) error { return s.CreateUser(t.Context(), rec(id, userName, email)) }
	}
	replace := func(id, userName, email string) func(t *testing.T, s *RedisStore) error {
		return func(t *testing.T, s *RedisStore) error {
			cur := mustGet(t, s, siteA, id)
			cur.UserName, cur.Email = userName, email
			return s.ReplaceUser(t.Context(), cur)
		}
	}
	reserve := func(email string) func(t *testing.T, s *RedisStore) error {
		return func(t *testing.T, s *RedisStore) error {
			r, err := s.ReserveCreate(t.Context(), siteA, []string{email}, []CreateCheck{{IndexUserName, "fresh"}, {IndexEmail, email}}, time.Minute, time.Minute)
			if err == nil {
				r.Release()
			}
			var ce *ConflictError
			if errors.As(err, &ce) && (ce.Holder == nil || ce.Holder.ID != ce.ID) {
				t.Errorf("reserve conflict without its holder's record: %+v", ce)
			}
			return err
		}
	}
	del := func(id string) func(t *testing.T, s *RedisStore) error {
		return func(t *testing.T, s *RedisStore) error { return s.DeleteUser(t.Context(), siteA, id) }
	}
	old := func(id, userName, email string) func(t *testing.T, s *RedisStore) error {
		return func(t *testing.T, s *RedisStore) error {
			r := rec(id, userName, email)
			r.Version = 1
			createOldFormat(t, s, r)
			// The previous store indexed every email.
			return s.rdb.HSet(t.Context(), s.keysFor(siteA).ixEmail, normalize(IndexEmail, email), id).Err()
		}
	}
	tests := []struct {
		name  string
		steps []step
		// holder is the SCIM id that must hold the email x at the end ("" for nobody).
		holder string
		// entry: whether x must have an index entry at the end.
		entry bool
	}{
		{"own userName is held without an entry", []step{{"create A", create("a", x, x), ""}}, "a", false},
		{"in another case too", []step{{"create A", create("a", "ADA@EXAMPLE.COM", x), ""}}, "a", false},
		{"another record cannot take it", []step{{"create A", create("a", x, x), ""}, {"create B with x", create("b", "bob", x), "a"}}, "a", false},
		{"nor by replace", []step{{"create A", create("a", x, x), ""}, {"create B", create("b", "bob", "bob@x"), ""}, {"B to x", replace("b", "bob", x), "a"}}, "a", false},
		{"nor reserve it", []step{{"create A", create("a", x, x), ""}, {"reserve x", reserve(x), "a"}}, "a", false},
		{"a userName alone holds no email", []step{{"create A", create("a", x, "ada@elsewhere.example"), ""}, {"reserve x", reserve(x), ""}, {"create B with x", create("b", "bob", x), ""}},
			"b", true},
		{"an email entry held by another wins", []step{{"create B with x", create("b", "bob", x), ""}, {"create A", create("a", x, x), "b"}}, "b", true},
		{"renaming the userName keeps the email, with an entry", []step{{"create A", create("a", x, x), ""}, {"A renamed", replace("a", "ada2", x), ""},
			{"create B with x", create("b", "bob", x), "a"}, {"create C named x", create("c", x, "c@x"), ""}}, "a", true},
		{"the email back to the userName drops the entry", []step{{"create A", create("a", "ada2", x), ""}, {"A renamed", replace("a", x, x), ""}}, "a", false},
		{"a new email frees it", []step{{"create A", create("a", x, x), ""}, {"A moves", replace("a", x, "new@x"), ""}, {"create B with x", create("b", "bob", x), ""}}, "b", true},
		{"deleting frees it", []step{{"create A", create("a", x, x), ""}, {"delete A", del("a"), ""}, {"reserve x", reserve(x), ""}}, "", false},
		{"old-format entry still conflicts", []step{{"old A", old("a", x, x), ""}, {"create B with x", create("b", "bob", x), "a"}}, "a", true},
		{"old-format record rewritten drops its entry, keeps the email", []step{{"old A", old("a", x, x), ""}, {"rewrite A", replace("a", x, x), ""},
			{"create B with x", create("b", "bob", x), "a"}}, "a", false},
	}
	for backend, newStore := range testStores() {
		t.Run(backend, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					s := newStore(t)
					for _, st := range tc.steps {
						err := st.run(t, s)
						if st.conflict == "" {
							if err != nil {
								t.Fatalf("%s: %v", st.what, err)
							}
						} else {
							var ce *ConflictError
							if !errors.As(err, &ce) || ce.Index != IndexEmail || ce.ID != st.conflict {
								t.Fatalf("%s: err = %v, want an email conflict with %q", st.what, err, st.conflict)
							}
						}
						if err := s.checkInvariants(t.Context(), siteA); err != nil {
							t.Fatalf("after %s: %v", st.what, err)
						}
					}
					for _, v := range []string{x, "ada@example.com", "ADA@EXAMPLE.COM"} {
						if got := findID(t, s, siteA, IndexEmail, v); got != tc.holder {
							t.Errorf("FindUser(email %q) = %q, want %q", v, got, tc.holder)
						}
						var want []string
						if tc.holder != "" {
							want = []string{tc.holder}
						}
						if got := lookup(t, s, siteA, IndexEmail, v); !slices.Equal(got, want) {
							t.Errorf("LookupUserIDs(email %q) = %v, want %v", v, got, want)
						}
						view, err := s.ViewUserBy(t.Context(), siteA, IndexEmail, v, false)
						if err != nil {
							t.Fatal(err)
						}
						var ids []string
						for _, r := range view.Users {
							ids = append(ids, r.ID)
						}
						if !slices.Equal(ids, want) {
							t.Errorf("ViewUserBy(email %q) = %v, want %v", v, ids, want)
						}
					}
					if has, _ := s.rdb.HExists(t.Context(), s.keysFor(siteA).ixEmail, "ada@example.com").Result(); has != tc.entry {
						t.Errorf("email entry present = %v, want %v", has, tc.entry)
					}
				})
			}
		})
	}
}

// TestOktaRecordSize bounds the stored document of a user as Okta sends it
// (userName, externalId, name, displayName, one work email, active), with
// the SCIM blob and Webflow snapshot as scimserver.FillRecord writes them
// (TestOktaRecordBytes there checks that it still does), as created (never
// replaced). Redis keeps a document of up to 255 bytes with 3 bytes of
// header and a terminator, a longer one with 5 and a terminator, in
// jemalloc's size classes (… 224, 256, 320, 384, …, 640): at most 252 bytes
// fit 256, the class the bound holds it to. The format before issue 16
// stored 581 bytes (640) for this user.
func TestOktaRecordSize(t *testing.T) {
	now := time.Date(2026, 12, 3, 9, 30, 0, 123456789, time.UTC)
	rec := &UserRecord{ID: "0000000000000000000002b", SiteID: siteA, WebflowUserID: "0000000000000000000002b",
		UserName: "user000042@example.com", Email: "user000042@example.com", ExternalID: "00u00000000000000042", DisplayName: "User N000042",
		Active: true, Version: 1, Created: now, Modified: now, SyncedAt: now.Add(-4 * time.Millisecond),
		SCIM:    json.RawMessage(`{"n":{"l":"N000042","g":"User"},"e":[{"t":"work","p":true}]}`),
		Webflow: json.RawMessage(`{"f":1,"b":629,"c":1796290697940}`)}
	const limit = 252
	doc, err := encodeRecord(rec, indexValues(rec))
	if err != nil {
		t.Fatal(err)
	}
	if len(doc) > limit {
		t.Errorf("an Okta user's record is %d bytes, more than %d: %s", len(doc), limit, doc)
	}
	got, err := decodeRecord(siteA, rec.ID, string(doc))
	if err != nil {
		t.Fatal(err)
	}
	sameRecord(t, got, rec)

	// The same user as the format before stored it: over the bound.
	before := *rec
	before.SCIM = json.RawMessage(`{"externalId":"00u00000000000000042","displayName":"User N000042","name":{"familyName":"N000042","givenName":"User"},"emails":[{"value":"user000042@example.com","type":"work","primary":true}]}`)
	before.Webflow = json.RawMessage(`{"f":1,"s":"verified","ev":true,"d":{"accept-communications":false,"accept-privacy":false,"name":"User N000042"},"c":1796290697940,"u":1796290697940}`)
	if old := compactV1Doc(t, &before); len(old) <= limit {
		t.Fatalf("the bound %d does not tell the previous format (%d bytes) apart", limit, len(old))
	}
}
