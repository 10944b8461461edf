package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// invariantChecker is implemented by backends that can dump their raw index
// structures, so the concurrency test can prove index ⇔ record agreement
// beyond what the Store API shows.
type invariantChecker interface {
	checkInvariants(ctx context.Context, siteID string) error
}

// runConformance is the backend-independent contract of Store. Every backend
// must pass it unchanged; newStore must return an empty store isolated from
// every other call.
func runConformance(t *testing.T, newStore func(t *testing.T) Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"CreateAndGet", testCreateAndGet},
		{"CreateDefaults", testCreateDefaults},
		{"CreateExists", testCreateExists},
		{"CreateConflicts", testCreateConflicts},
		{"EmptyValuesNotIndexed", testEmptyValuesNotIndexed},
		{"SiteIsolation", testSiteIsolation},
		{"InvalidArguments", testInvalidArguments},
		{"GetNotFound", testGetNotFound},
		{"ArbitraryIDsAndValues", testArbitraryIDsAndValues},
		{"Replace", testReplace},
		{"ReplaceVersionMismatch", testReplaceVersionMismatch},
		{"ReplaceNotFound", testReplaceNotFound},
		{"ReplaceConflicts", testReplaceConflicts},
		{"Delete", testDelete},
		{"DeleteNotFound", testDeleteNotFound},
		{"FindUserCaseRules", testFindUserCaseRules},
		{"FindUserErrors", testFindUserErrors},
		{"LookupUserIDs", testLookupUserIDs},
		{"ListUserIDsPaging", testListUserIDsPaging},
		{"ListUserIDsStableOrder", testListUserIDsStableOrder},
		{"GetUsers", testGetUsers},
		{"CountUsers", testCountUsers},
		{"Ping", testPing},
		{"ConcurrentWritersKeepIndexesConsistent", testConcurrentWriters},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

const (
	siteA = "site-a"
	siteB = "site_B"
)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func user(site, id, userName, email string) *UserRecord {
	return &UserRecord{ID: id, SiteID: site, UserName: userName, Email: email, Active: true}
}

func mustCreate(t *testing.T, s Store, rec *UserRecord) *UserRecord {
	t.Helper()
	if err := s.CreateUser(ctxT(t), rec); err != nil {
		t.Fatalf("CreateUser(%q): %v", rec.ID, err)
	}
	return rec
}

func mustGet(t *testing.T, s Store, site, id string) *UserRecord {
	t.Helper()
	rec, err := s.GetUser(ctxT(t), site, id)
	if err != nil {
		t.Fatalf("GetUser(%q, %q): %v", site, id, err)
	}
	return rec
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v, want %v", what, err, target)
	}
}

func wantConflict(t *testing.T, what string, err error, idx Index, value, holder string) {
	t.Helper()
	var ce *ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, ErrConflict) {
		t.Fatalf("%s: err = %v, want *ConflictError", what, err)
	}
	if ce.Index != idx || ce.Value != value || ce.ID != holder {
		t.Fatalf("%s: conflict = %+v, want {%s %q %q}", what, *ce, idx, value, holder)
	}
}

// sameRecord compares two records, times with Equal (JSON drops monotonic
// clock readings and may change the location).
func sameRecord(t *testing.T, got, want *UserRecord) {
	t.Helper()
	g, w := *got, *want
	for _, p := range []struct{ a, b *time.Time }{{&g.Created, &w.Created}, {&g.Modified, &w.Modified}, {&g.SyncedAt, &w.SyncedAt}} {
		if !p.a.Equal(*p.b) {
			t.Fatalf("time mismatch: got %v, want %v\n got=%+v\nwant=%+v", *p.a, *p.b, g, w)
		}
		*p.a, *p.b = time.Time{}, time.Time{}
	}
	gj, _ := json.Marshal(g)
	wj, _ := json.Marshal(w)
	if string(gj) != string(wj) {
		t.Fatalf("record mismatch:\n got=%s\nwant=%s", gj, wj)
	}
}

func findID(t *testing.T, s Store, site string, idx Index, value string) string {
	t.Helper()
	rec, err := s.FindUser(ctxT(t), site, idx, value)
	if errors.Is(err, ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatalf("FindUser(%s, %q): %v", idx, value, err)
	}
	return rec.ID
}

func lookup(t *testing.T, s Store, site string, idx Index, value string) []string {
	t.Helper()
	ids, err := s.LookupUserIDs(ctxT(t), site, idx, value)
	if err != nil {
		t.Fatalf("LookupUserIDs(%s, %q): %v", idx, value, err)
	}
	if ids == nil {
		t.Fatalf("LookupUserIDs(%s, %q) returned nil slice", idx, value)
	}
	slices.Sort(ids)
	return ids
}

func count(t *testing.T, s Store, site string) int {
	t.Helper()
	n, err := s.CountUsers(ctxT(t), site)
	if err != nil {
		t.Fatalf("CountUsers: %v", err)
	}
	return n
}

func testCreateAndGet(t *testing.T, s Store) {
	synced := time.Date(2026, 11, 1, 10, 0, 0, 123456789, time.UTC)
	rec := &UserRecord{
		ID: "u1", SiteID: siteA, WebflowUserID: "wf-1", UserName: "Alice@Example.com",
		ExternalID: "ext-1", Email: "Alice@Example.com", DisplayName: "Alice Liddell", Active: true,
		SCIM:      json.RawMessage(`{"name":{"givenName":"Alice","familyName":null},"phoneNumbers":[]}`),
		Webflow:   json.RawMessage(`{"id":"wf-1","status":"verified"}`),
		Tombstone: true,
		SyncedAt:  synced,
	}
	before := time.Now().Add(-time.Minute)
	mustCreate(t, s, rec)
	if rec.Version != 1 {
		t.Fatalf("Version = %d, want 1", rec.Version)
	}
	if rec.Created.Before(before) || !rec.Modified.Equal(rec.Created) {
		t.Fatalf("Created/Modified = %v/%v, want now and equal", rec.Created, rec.Modified)
	}
	got := mustGet(t, s, siteA, "u1")
	sameRecord(t, got, rec)
	if string(got.SCIM) != string(rec.SCIM) {
		t.Fatalf("SCIM = %s, want %s", got.SCIM, rec.SCIM)
	}
}

func testCreateDefaults(t *testing.T, s Store) {
	created := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := user(siteA, "", "nobody", "nobody@example.com")
	rec.Created = created
	rec.Version = 42 // ignored: a new record always starts at 1
	mustCreate(t, s, rec)
	if rec.ID == "" || len(rec.ID) != 36 {
		t.Fatalf("generated ID = %q, want a UUID", rec.ID)
	}
	if rec.Version != 1 || !rec.Created.Equal(created) || rec.Modified.IsZero() {
		t.Fatalf("got Version=%d Created=%v Modified=%v", rec.Version, rec.Created, rec.Modified)
	}
	sameRecord(t, mustGet(t, s, siteA, rec.ID), rec)

	other := mustCreate(t, s, user(siteA, "", "other", "other@example.com"))
	if other.ID == rec.ID {
		t.Fatal("two generated ids are equal")
	}
}

func testCreateExists(t *testing.T, s Store) {
	mustCreate(t, s, user(siteA, "u1", "alice", "alice@example.com"))
	dup := user(siteA, "u1", "bob", "bob@example.com")
	err := s.CreateUser(ctxT(t), dup)
	wantErr(t, "create same id", err, ErrExists)
	if dup.Version != 0 || !dup.Created.IsZero() {
		t.Fatalf("failed create modified its argument: %+v", dup)
	}
	if id := findID(t, s, siteA, IndexUserName, "bob"); id != "" {
		t.Fatalf("failed create left userName index pointing at %q", id)
	}
	if got := mustGet(t, s, siteA, "u1"); got.UserName != "alice" {
		t.Fatalf("failed create overwrote record: %+v", got)
	}
}

func testCreateConflicts(t *testing.T, s Store) {
	holder := &UserRecord{ID: "h", SiteID: siteA, UserName: "Alice", Email: "Alice@Example.com",
		ExternalID: "EXT-1", WebflowUserID: "WF-1", DisplayName: "Alice"}
	mustCreate(t, s, holder)
	tests := []struct {
		name   string
		mutate func(r *UserRecord)
		idx    Index
		value  string
	}{
		{"userName same case", func(r *UserRecord) { r.UserName = "Alice" }, IndexUserName, "Alice"},
		{"userName other case", func(r *UserRecord) { r.UserName = "aLICE" }, IndexUserName, "aLICE"},
		{"email other case", func(r *UserRecord) { r.Email = "alice@EXAMPLE.com" }, IndexEmail, "alice@EXAMPLE.com"},
		{"externalId", func(r *UserRecord) { r.ExternalID = "EXT-1" }, IndexExternalID, "EXT-1"},
		{"webflowUserId", func(r *UserRecord) { r.WebflowUserID = "WF-1" }, IndexWebflowID, "WF-1"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &UserRecord{ID: fmt.Sprintf("n%d", i), SiteID: siteA, UserName: fmt.Sprintf("new%d", i),
				Email: fmt.Sprintf("new%d@example.com", i), ExternalID: fmt.Sprintf("next%d", i),
				WebflowUserID: fmt.Sprintf("nwf%d", i), DisplayName: "Alice"}
			tc.mutate(r)
			err := s.CreateUser(ctxT(t), r)
			wantConflict(t, "create", err, tc.idx, tc.value, "h")
			// Nothing of the failed create may remain.
			wantErr(t, "get after conflict", func() error { _, err := s.GetUser(ctxT(t), siteA, r.ID); return err }(), ErrNotFound)
			for _, idx := range uniqueIndexes() {
				if idx == tc.idx {
					continue
				}
				if id := findID(t, s, siteA, idx, originalValue(r, idx)); id != "" {
					t.Fatalf("failed create left %s index entry -> %q", idx, id)
				}
			}
			if ids := lookup(t, s, siteA, IndexDisplayName, "alice"); !slices.Equal(ids, []string{"h"}) {
				t.Fatalf("displayName ids = %v, want [h]", ids)
			}
		})
	}
	// Exact indexes are case-sensitive: these do not conflict.
	ok := &UserRecord{ID: "exact", SiteID: siteA, UserName: "x", Email: "x@example.com", ExternalID: "ext-1", WebflowUserID: "wf-1"}
	mustCreate(t, s, ok)
	if got := count(t, s, siteA); got != 2 {
		t.Fatalf("CountUsers = %d, want 2", got)
	}
}

func testEmptyValuesNotIndexed(t *testing.T, s Store) {
	mustCreate(t, s, user(siteA, "a", "", ""))
	mustCreate(t, s, user(siteA, "b", "", "")) // empty userName/email/externalId/webflowId never conflict
	for _, idx := range []Index{IndexUserName, IndexEmail, IndexExternalID, IndexWebflowID, IndexDisplayName} {
		if ids := lookup(t, s, siteA, idx, ""); len(ids) != 0 {
			t.Fatalf("LookupUserIDs(%s, \"\") = %v, want none", idx, ids)
		}
	}
	_, err := s.FindUser(ctxT(t), siteA, IndexUserName, "")
	wantErr(t, "FindUser empty", err, ErrNotFound)
}

func testSiteIsolation(t *testing.T, s Store) {
	a := mustCreate(t, s, &UserRecord{ID: "u1", SiteID: siteA, UserName: "alice", Email: "a@x", ExternalID: "e", WebflowUserID: "w", DisplayName: "A", Active: true})
	b := mustCreate(t, s, &UserRecord{ID: "u1", SiteID: siteB, UserName: "alice", Email: "a@x", ExternalID: "e", WebflowUserID: "w", DisplayName: "A", Active: true})
	b.Active = false
	if err := s.ReplaceUser(ctxT(t), b); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, s, siteA, "u1"); !got.Active || got.Version != a.Version {
		t.Fatalf("site A changed by site B's write: %+v", got)
	}
	if err := s.DeleteUser(ctxT(t), siteB, "u1"); err != nil {
		t.Fatal(err)
	}
	if id := findID(t, s, siteA, IndexUserName, "alice"); id != "u1" {
		t.Fatalf("site A index lost after site B delete: %q", id)
	}
	if count(t, s, siteA) != 1 || count(t, s, siteB) != 0 {
		t.Fatal("wrong counts")
	}
}

func testInvalidArguments(t *testing.T, s Store) {
	ctx := ctxT(t)
	bad := []string{"", "a}b", "{x}", "a:b", "a b", "a*", "é", strings.Repeat("x", 65)}
	for _, site := range bad {
		_, err := s.GetUser(ctx, site, "u")
		wantErr(t, fmt.Sprintf("GetUser(site %q)", site), err, ErrInvalid)
		wantErr(t, "CreateUser", s.CreateUser(ctx, user(site, "u", "n", "e")), ErrInvalid)
		wantErr(t, "ReplaceUser", s.ReplaceUser(ctx, user(site, "u", "n", "e")), ErrInvalid)
		wantErr(t, "DeleteUser", s.DeleteUser(ctx, site, "u"), ErrInvalid)
		_, err = s.FindUser(ctx, site, IndexUserName, "n")
		wantErr(t, "FindUser", err, ErrInvalid)
		_, err = s.LookupUserIDs(ctx, site, IndexUserName, "n")
		wantErr(t, "LookupUserIDs", err, ErrInvalid)
		_, _, err = s.ListUserIDs(ctx, site, 0, 10)
		wantErr(t, "ListUserIDs", err, ErrInvalid)
		_, err = s.GetUsers(ctx, site, []string{"u"})
		wantErr(t, "GetUsers", err, ErrInvalid)
		_, err = s.CountUsers(ctx, site)
		wantErr(t, "CountUsers", err, ErrInvalid)
	}
	if err := ValidateSiteID(strings.Repeat("x", 64)); err != nil {
		t.Fatalf("64-char site id rejected: %v", err)
	}
	wantErr(t, "nil record", s.CreateUser(ctx, nil), ErrInvalid)
	wantErr(t, "replace nil", s.ReplaceUser(ctx, nil), ErrInvalid)
	wantErr(t, "replace empty id", s.ReplaceUser(ctx, user(siteA, "", "n", "e")), ErrInvalid)
	wantErr(t, "invalid utf-8", s.CreateUser(ctx, user(siteA, "u", "bad\xff", "e")), ErrInvalid)
	_, err := s.GetUser(ctx, siteA, "")
	wantErr(t, "get empty id", err, ErrInvalid)
	wantErr(t, "delete empty id", s.DeleteUser(ctx, siteA, ""), ErrInvalid)
	_, err = s.FindUser(ctx, siteA, Index("nickName"), "x")
	wantErr(t, "unknown index", err, ErrInvalid)
	_, err = s.LookupUserIDs(ctx, siteA, Index("nickName"), "x")
	wantErr(t, "unknown index lookup", err, ErrInvalid)
	_, _, err = s.ListUserIDs(ctx, siteA, -1, 10)
	wantErr(t, "negative offset", err, ErrInvalid)
	_, _, err = s.ListUserIDs(ctx, siteA, 0, -1)
	wantErr(t, "negative count", err, ErrInvalid)
	if count(t, s, siteA) != 0 {
		t.Fatal("invalid calls stored something")
	}
}

func testGetNotFound(t *testing.T, s Store) {
	_, err := s.GetUser(ctxT(t), siteA, "missing")
	wantErr(t, "GetUser", err, ErrNotFound)
	mustCreate(t, s, user(siteA, "u1", "a", "a@x"))
	_, err = s.GetUser(ctxT(t), siteB, "u1")
	wantErr(t, "GetUser other site", err, ErrNotFound)
}

// testArbitraryIDsAndValues: ids and values are hash fields, members or
// script arguments only, so anything JSON can carry must round-trip.
func testArbitraryIDsAndValues(t *testing.T, s Store) {
	weird := []string{"a:b", "{s:site-a}", "*", "x\x00y", "ÉLODIE", "🙂 space", `"quoted"\`, strings.Repeat("z", 2000), "ß"}
	for i, v := range weird {
		rec := &UserRecord{ID: v, SiteID: siteA, UserName: "u" + v, Email: v + "@x", ExternalID: "e" + v,
			WebflowUserID: "w" + v, DisplayName: "d" + v}
		mustCreate(t, s, rec)
		got := mustGet(t, s, siteA, v)
		sameRecord(t, got, rec)
		for _, idx := range uniqueIndexes() {
			if id := findID(t, s, siteA, idx, originalValue(rec, idx)); id != v {
				t.Fatalf("#%d FindUser(%s) = %q, want %q", i, idx, id, v)
			}
		}
		if ids := lookup(t, s, siteA, IndexDisplayName, strings.ToUpper("d"+v)); !slices.Contains(ids, v) {
			t.Fatalf("#%d displayName lookup = %q, want to contain %q", i, ids, v)
		}
		rec.DisplayName = "other"
		if err := s.ReplaceUser(ctxT(t), rec); err != nil {
			t.Fatal(err)
		}
	}
	if ids := lookup(t, s, siteA, IndexDisplayName, "OTHER"); len(ids) != len(weird) {
		t.Fatalf("displayName 'other' ids = %q, want %d", ids, len(weird))
	}
	for _, v := range weird {
		if err := s.DeleteUser(ctxT(t), siteA, v); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, s, siteA); n != 0 {
		t.Fatalf("count after deleting all = %d", n)
	}
	checkStoreInvariants(t, s, siteA)
}

func testReplace(t *testing.T, s Store) {
	rec := mustCreate(t, s, &UserRecord{ID: "u1", SiteID: siteA, UserName: "alice", Email: "alice@x",
		ExternalID: "e1", WebflowUserID: "w1", DisplayName: "Alice"})
	created := rec.Created
	time.Sleep(2 * time.Millisecond)

	next := *rec
	next.UserName, next.Email, next.ExternalID, next.WebflowUserID, next.DisplayName = "Alice2", "alice2@x", "e2", "w2", "Al"
	next.Active = false
	next.SCIM = json.RawMessage(`{"title":"Boss"}`)
	if err := s.ReplaceUser(ctxT(t), &next); err != nil {
		t.Fatal(err)
	}
	if next.Version != 2 || !next.Modified.After(created) || !next.Created.Equal(created) {
		t.Fatalf("after replace: Version=%d Modified=%v Created=%v", next.Version, next.Modified, next.Created)
	}
	sameRecord(t, mustGet(t, s, siteA, "u1"), &next)
	for _, tc := range []struct {
		idx      Index
		old, new string
	}{
		{IndexUserName, "alice", "ALICE2"}, {IndexEmail, "alice@x", "Alice2@X"},
		{IndexExternalID, "e1", "e2"}, {IndexWebflowID, "w1", "w2"},
	} {
		if id := findID(t, s, siteA, tc.idx, tc.old); id != "" {
			t.Fatalf("old %s %q still indexed -> %q", tc.idx, tc.old, id)
		}
		if id := findID(t, s, siteA, tc.idx, tc.new); id != "u1" {
			t.Fatalf("new %s %q -> %q, want u1", tc.idx, tc.new, id)
		}
	}
	if ids := lookup(t, s, siteA, IndexDisplayName, "alice"); len(ids) != 0 {
		t.Fatalf("old displayName still indexed: %v", ids)
	}
	if ids := lookup(t, s, siteA, IndexDisplayName, "AL"); !slices.Equal(ids, []string{"u1"}) {
		t.Fatalf("new displayName ids = %v", ids)
	}

	// Changing only the case of one's own unique values is not a conflict,
	// and clearing a value removes it from the index.
	again := next
	again.UserName, again.ExternalID = "ALICE2", ""
	if err := s.ReplaceUser(ctxT(t), &again); err != nil {
		t.Fatal(err)
	}
	if again.Version != 3 {
		t.Fatalf("Version = %d, want 3", again.Version)
	}
	if id := findID(t, s, siteA, IndexExternalID, "e2"); id != "" {
		t.Fatalf("cleared externalId still indexed -> %q", id)
	}
	if got := mustGet(t, s, siteA, "u1"); got.UserName != "ALICE2" {
		t.Fatalf("UserName = %q, want original case ALICE2", got.UserName)
	}
	checkStoreInvariants(t, s, siteA)
}

func testReplaceVersionMismatch(t *testing.T, s Store) {
	rec := mustCreate(t, s, user(siteA, "u1", "alice", "alice@x"))
	a, b := *rec, *rec
	a.UserName = "first"
	if err := s.ReplaceUser(ctxT(t), &a); err != nil {
		t.Fatal(err)
	}
	b.UserName = "second"
	err := s.ReplaceUser(ctxT(t), &b)
	wantErr(t, "stale replace", err, ErrVersionMismatch)
	if b.Version != 1 || b.UserName != "second" {
		t.Fatalf("failed replace modified its argument: %+v", b)
	}
	got := mustGet(t, s, siteA, "u1")
	if got.UserName != "first" || got.Version != 2 {
		t.Fatalf("stored = %+v, want first/2", got)
	}
	if id := findID(t, s, siteA, IndexUserName, "second"); id != "" {
		t.Fatal("stale replace indexed its value")
	}
	future := *got
	future.Version = 7
	wantErr(t, "future version", s.ReplaceUser(ctxT(t), &future), ErrVersionMismatch)
}

func testReplaceNotFound(t *testing.T, s Store) {
	rec := user(siteA, "ghost", "ghost", "ghost@x")
	rec.Version = 1
	wantErr(t, "replace missing", s.ReplaceUser(ctxT(t), rec), ErrNotFound)
	if id := findID(t, s, siteA, IndexUserName, "ghost"); id != "" {
		t.Fatal("replace of missing record indexed its value")
	}
	mustCreate(t, s, user(siteA, "gone", "gone", "gone@x"))
	gone := mustGet(t, s, siteA, "gone")
	if err := s.DeleteUser(ctxT(t), siteA, "gone"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "replace deleted", s.ReplaceUser(ctxT(t), gone), ErrNotFound)
}

func testReplaceConflicts(t *testing.T, s Store) {
	mustCreate(t, s, &UserRecord{ID: "h", SiteID: siteA, UserName: "Holder", Email: "holder@x", ExternalID: "HE", WebflowUserID: "HW"})
	me := mustCreate(t, s, &UserRecord{ID: "me", SiteID: siteA, UserName: "me", Email: "me@x", ExternalID: "ME", WebflowUserID: "MW", DisplayName: "Me"})
	tests := []struct {
		mutate func(r *UserRecord)
		idx    Index
		value  string
	}{
		{func(r *UserRecord) { r.UserName = "HOLDER" }, IndexUserName, "HOLDER"},
		{func(r *UserRecord) { r.Email = "Holder@X" }, IndexEmail, "Holder@X"},
		{func(r *UserRecord) { r.ExternalID = "HE" }, IndexExternalID, "HE"},
		{func(r *UserRecord) { r.WebflowUserID = "HW" }, IndexWebflowID, "HW"},
	}
	for _, tc := range tests {
		t.Run(string(tc.idx), func(t *testing.T) {
			r := *me
			r.UserName = "renamed" // would be a legal change on its own
			tc.mutate(&r)
			err := s.ReplaceUser(ctxT(t), &r)
			wantConflict(t, "replace", err, tc.idx, tc.value, "h")
			if r.Version != me.Version {
				t.Fatal("failed replace changed Version")
			}
			sameRecord(t, mustGet(t, s, siteA, "me"), me)
			if id := findID(t, s, siteA, IndexUserName, "renamed"); id != "" {
				t.Fatal("failed replace indexed a value")
			}
			if id := findID(t, s, siteA, tc.idx, tc.value); id != "h" {
				t.Fatalf("holder lost its %s entry: %q", tc.idx, id)
			}
		})
	}
	checkStoreInvariants(t, s, siteA)
}

func testDelete(t *testing.T, s Store) {
	rec := mustCreate(t, s, &UserRecord{ID: "u1", SiteID: siteA, UserName: "Alice", Email: "alice@x",
		ExternalID: "e1", WebflowUserID: "w1", DisplayName: "Alice"})
	mustCreate(t, s, &UserRecord{ID: "u2", SiteID: siteA, UserName: "bob", Email: "bob@x", DisplayName: "alice"})
	if err := s.DeleteUser(ctxT(t), siteA, "u1"); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetUser(ctxT(t), siteA, "u1")
	wantErr(t, "get deleted", err, ErrNotFound)
	for _, idx := range uniqueIndexes() {
		_, err := s.FindUser(ctxT(t), siteA, idx, originalValue(rec, idx))
		wantErr(t, "find deleted by "+string(idx), err, ErrNotFound)
		if ids := lookup(t, s, siteA, idx, originalValue(rec, idx)); len(ids) != 0 {
			t.Fatalf("lookup deleted by %s = %v", idx, ids)
		}
	}
	if ids := lookup(t, s, siteA, IndexDisplayName, "ALICE"); !slices.Equal(ids, []string{"u2"}) {
		t.Fatalf("displayName ids = %v, want [u2]", ids)
	}
	ids, total, err := s.ListUserIDs(ctxT(t), siteA, 0, 10)
	if err != nil || total != 1 || !slices.Equal(ids, []string{"u2"}) {
		t.Fatalf("list = %v %d %v", ids, total, err)
	}
	// Values and the id become free again.
	mustCreate(t, s, &UserRecord{ID: "u3", SiteID: siteA, UserName: "alice", Email: "ALICE@x", ExternalID: "e1", WebflowUserID: "w1"})
	mustCreate(t, s, user(siteA, "u1", "new-u1", "new-u1@x"))
	checkStoreInvariants(t, s, siteA)
}

func testDeleteNotFound(t *testing.T, s Store) {
	wantErr(t, "delete missing", s.DeleteUser(ctxT(t), siteA, "missing"), ErrNotFound)
	mustCreate(t, s, user(siteA, "u1", "a", "a@x"))
	wantErr(t, "delete other site", s.DeleteUser(ctxT(t), siteB, "u1"), ErrNotFound)
	if err := s.DeleteUser(ctxT(t), siteA, "u1"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "delete twice", s.DeleteUser(ctxT(t), siteA, "u1"), ErrNotFound)
}

func testFindUserCaseRules(t *testing.T, s Store) {
	rec := mustCreate(t, s, &UserRecord{ID: "u1", SiteID: siteA, UserName: "Ümit.Çelik@Example.COM", Email: "Ümit@Example.COM",
		ExternalID: "00uAbC", WebflowUserID: "65aBcD"})
	tests := []struct {
		idx   Index
		value string
		found bool
	}{
		{IndexUserName, "Ümit.Çelik@Example.COM", true},
		{IndexUserName, "ümit.çelik@example.com", true},
		{IndexUserName, "ÜMIT.ÇELIK@EXAMPLE.COM", true},
		{IndexUserName, "umit.celik@example.com", false},
		{IndexEmail, "ümit@example.com", true},
		{IndexEmail, "ÜMIT@EXAMPLE.COM", true},
		{IndexExternalID, "00uAbC", true},
		{IndexExternalID, "00uabc", false},
		{IndexWebflowID, "65aBcD", true},
		{IndexWebflowID, "65ABCD", false},
	}
	for _, tc := range tests {
		got, err := s.FindUser(ctxT(t), siteA, tc.idx, tc.value)
		if !tc.found {
			wantErr(t, fmt.Sprintf("FindUser(%s, %q)", tc.idx, tc.value), err, ErrNotFound)
			continue
		}
		if err != nil {
			t.Fatalf("FindUser(%s, %q): %v", tc.idx, tc.value, err)
		}
		sameRecord(t, got, rec)
	}
}

func testFindUserErrors(t *testing.T, s Store) {
	_, err := s.FindUser(ctxT(t), siteA, IndexUserName, "nobody")
	wantErr(t, "missing", err, ErrNotFound)
	mustCreate(t, s, &UserRecord{ID: "u1", SiteID: siteA, UserName: "a", Email: "a@x", DisplayName: "A"})
	_, err = s.FindUser(ctxT(t), siteA, IndexDisplayName, "A")
	wantErr(t, "non-unique index", err, ErrInvalid)
	_, err = s.FindUser(ctxT(t), siteB, IndexUserName, "a")
	wantErr(t, "other site", err, ErrNotFound)
}

func testLookupUserIDs(t *testing.T, s Store) {
	mustCreate(t, s, &UserRecord{ID: "u1", SiteID: siteA, UserName: "a", Email: "a@x", ExternalID: "E1", DisplayName: "Jane Doe"})
	mustCreate(t, s, &UserRecord{ID: "u2", SiteID: siteA, UserName: "b", Email: "b@x", DisplayName: "JANE DOE"})
	mustCreate(t, s, &UserRecord{ID: "u3", SiteID: siteA, UserName: "c", Email: "c@x", DisplayName: "Jane Does"})
	mustCreate(t, s, &UserRecord{ID: "u4", SiteID: siteB, UserName: "d", Email: "d@x", DisplayName: "Jane Doe"})
	tests := []struct {
		idx   Index
		value string
		want  []string
	}{
		{IndexDisplayName, "jane doe", []string{"u1", "u2"}},
		{IndexDisplayName, "Jane Does", []string{"u3"}},
		{IndexDisplayName, "Jane", []string{}},
		{IndexUserName, "A", []string{"u1"}},
		{IndexEmail, "B@X", []string{"u2"}},
		{IndexExternalID, "E1", []string{"u1"}},
		{IndexExternalID, "e1", []string{}},
		{IndexWebflowID, "none", []string{}},
	}
	for _, tc := range tests {
		if got := lookup(t, s, siteA, tc.idx, tc.value); !slices.Equal(got, tc.want) {
			t.Fatalf("LookupUserIDs(%s, %q) = %v, want %v", tc.idx, tc.value, got, tc.want)
		}
	}
}

func testListUserIDsPaging(t *testing.T, s Store) {
	ids, total, err := s.ListUserIDs(ctxT(t), siteA, 0, 10)
	if err != nil || total != 0 || ids == nil || len(ids) != 0 {
		t.Fatalf("empty site: %v %d %v", ids, total, err)
	}
	var all []string
	for i := range 7 {
		id := fmt.Sprintf("z%d", 9-i) // ids sort the other way than creation order
		mustCreate(t, s, user(siteA, id, id, id+"@x"))
		all = append(all, id)
	}
	tests := []struct {
		offset, count int
		want          []string
	}{
		{0, 3, all[0:3]},
		{3, 3, all[3:6]},
		{6, 3, all[6:7]},
		{7, 3, []string{}},
		{100, 3, []string{}},
		{0, 0, []string{}},
		{5, 0, []string{}},
		{0, 100, all},
		{2, 1, all[2:3]},
	}
	for _, tc := range tests {
		ids, total, err := s.ListUserIDs(ctxT(t), siteA, tc.offset, tc.count)
		if err != nil {
			t.Fatalf("ListUserIDs(%d, %d): %v", tc.offset, tc.count, err)
		}
		if total != 7 || ids == nil || !slices.Equal(ids, tc.want) {
			t.Fatalf("ListUserIDs(%d, %d) = %v, %d; want %v, 7", tc.offset, tc.count, ids, total, tc.want)
		}
	}
}

func testListUserIDsStableOrder(t *testing.T, s Store) {
	var want []string
	for i := range 5 {
		id := fmt.Sprintf("u%d", i)
		mustCreate(t, s, user(siteA, id, id, id+"@x"))
		want = append(want, id)
	}
	// Replacing does not move a record; deleting closes the gap; re-creating
	// a deleted id puts it at the end.
	r := mustGet(t, s, siteA, "u0")
	r.UserName = "zzz"
	if err := s.ReplaceUser(ctxT(t), r); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctxT(t), siteA, "u2"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, user(siteA, "u2", "u2", "u2@x"))
	mustCreate(t, s, user(siteA, "a", "a", "a@x"))
	want = []string{"u0", "u1", "u3", "u4", "u2", "a"}
	ids, total, err := s.ListUserIDs(ctxT(t), siteA, 0, 100)
	if err != nil || total != 6 || !slices.Equal(ids, want) {
		t.Fatalf("ListUserIDs = %v %d %v, want %v", ids, total, err, want)
	}
	// Paging reassembles the same sequence.
	var paged []string
	for off := 0; ; off += 4 {
		ids, _, err := s.ListUserIDs(ctxT(t), siteA, off, 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) == 0 {
			break
		}
		paged = append(paged, ids...)
	}
	if !slices.Equal(paged, want) {
		t.Fatalf("paged = %v, want %v", paged, want)
	}
}

func testGetUsers(t *testing.T, s Store) {
	a := mustCreate(t, s, user(siteA, "a", "a", "a@x"))
	b := mustCreate(t, s, user(siteA, "b", "b", "b@x"))
	c := mustCreate(t, s, user(siteA, "c", "c", "c@x"))
	got, err := s.GetUsers(ctxT(t), siteA, []string{"c", "missing", "a", "b", "a"})
	if err != nil {
		t.Fatal(err)
	}
	want := []*UserRecord{c, a, b, a}
	if len(got) != len(want) {
		t.Fatalf("GetUsers returned %d records, want %d", len(got), len(want))
	}
	for i := range want {
		sameRecord(t, got[i], want[i])
	}
	for _, ids := range [][]string{nil, {}, {"missing"}} {
		got, err := s.GetUsers(ctxT(t), siteA, ids)
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("GetUsers(%v) = %v, %v; want empty", ids, got, err)
		}
	}
	got, err = s.GetUsers(ctxT(t), siteB, []string{"a"})
	if err != nil || len(got) != 0 {
		t.Fatalf("GetUsers other site = %v %v", got, err)
	}
}

func testCountUsers(t *testing.T, s Store) {
	if n := count(t, s, siteA); n != 0 {
		t.Fatalf("empty count = %d", n)
	}
	for i := range 3 {
		mustCreate(t, s, user(siteA, fmt.Sprint(i), fmt.Sprint(i), fmt.Sprint(i)))
	}
	mustCreate(t, s, user(siteB, "x", "x", "x"))
	if n := count(t, s, siteA); n != 3 {
		t.Fatalf("count = %d, want 3", n)
	}
	if err := s.DeleteUser(ctxT(t), siteA, "1"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, siteA); n != 2 {
		t.Fatalf("count after delete = %d, want 2", n)
	}
}

func testPing(t *testing.T, s Store) {
	if err := s.Ping(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Ping(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Ping(cancelled) = %v, want context.Canceled", err)
	}
}

// testConcurrentWriters hammers a small pool of ids and values from many
// goroutines so creates, replaces and deletes constantly race and collide,
// then checks that indexes and records agree exactly.
func testConcurrentWriters(t *testing.T, s Store) {
	const (
		workers = 16
		ops     = 150
	)
	ctx := ctxT(t)
	pick := func(r *rand.Rand, base string, n int) string {
		v := fmt.Sprintf("%s%d", base, r.IntN(n))
		if r.IntN(2) == 0 {
			v = strings.ToUpper(v)
		}
		if r.IntN(8) == 0 {
			return ""
		}
		return v
	}
	randomRecord := func(r *rand.Rand, id string) *UserRecord {
		return &UserRecord{ID: id, SiteID: siteA, UserName: pick(r, "user", 10), Email: pick(r, "mail", 10) + "@x",
			ExternalID: pick(r, "ext", 10), WebflowUserID: pick(r, "wf", 10), DisplayName: pick(r, "Name ", 3),
			Active: r.IntN(2) == 0}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	stats := map[string]int{}
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 42))
			local := map[string]int{}
			for range ops {
				id := fmt.Sprintf("id%d", r.IntN(12))
				var err error
				op := ""
				switch n := r.IntN(10); {
				case n < 4:
					op = "create"
					err = s.CreateUser(ctx, randomRecord(r, id))
				case n < 8:
					op = "replace"
					var cur *UserRecord
					cur, err = s.GetUser(ctx, siteA, id)
					if err == nil {
						next := randomRecord(r, id)
						next.Version, next.Created = cur.Version, cur.Created
						err = s.ReplaceUser(ctx, next)
					}
				default:
					op = "delete"
					err = s.DeleteUser(ctx, siteA, id)
				}
				switch {
				case err == nil:
					local[op+" ok"]++
				case errors.Is(err, ErrNotFound):
					local[op+" notfound"]++
				case errors.Is(err, ErrExists):
					local[op+" exists"]++
				case errors.Is(err, ErrConflict):
					local[op+" conflict"]++
				case errors.Is(err, ErrVersionMismatch):
					local[op+" mismatch"]++
				default:
					errc <- fmt.Errorf("%s %s: %w", op, id, err)
					return
				}
			}
			mu.Lock()
			for k, v := range local {
				stats[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	t.Logf("outcomes: %v", stats)
	for _, k := range []string{"create ok", "replace ok", "delete ok"} {
		if stats[k] == 0 {
			t.Fatalf("workload never produced %q; it does not exercise the store: %v", k, stats)
		}
	}
	checkStoreInvariants(t, s, siteA)
}

// checkStoreInvariants verifies index ⇔ record agreement through the Store
// API and, when the backend allows it, on its raw structures.
func checkStoreInvariants(t *testing.T, s Store, site string) {
	t.Helper()
	ctx := ctxT(t)
	ids, total, err := s.ListUserIDs(ctx, site, 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := s.GetUsers(ctx, site, ids)
	if err != nil {
		t.Fatal(err)
	}
	n := count(t, s, site)
	if total != n || len(ids) != n || len(recs) != n {
		t.Fatalf("total=%d count=%d listed=%d fetched=%d disagree", total, n, len(ids), len(recs))
	}
	seen := map[string]bool{}
	for _, rec := range recs {
		if seen[rec.ID] {
			t.Fatalf("id %q listed twice", rec.ID)
		}
		seen[rec.ID] = true
		for _, idx := range uniqueIndexes() {
			v := originalValue(rec, idx)
			if v == "" {
				continue
			}
			if id := findID(t, s, site, idx, v); id != rec.ID {
				t.Fatalf("record %q: FindUser(%s, %q) = %q", rec.ID, idx, v, id)
			}
		}
		if rec.DisplayName != "" && !slices.Contains(lookup(t, s, site, IndexDisplayName, rec.DisplayName), rec.ID) {
			t.Fatalf("record %q: displayName %q not indexed", rec.ID, rec.DisplayName)
		}
	}
	if c, ok := s.(invariantChecker); ok {
		if err := c.checkInvariants(ctx, site); err != nil {
			t.Fatal(err)
		}
	}
}

// runCreateConformance is the contract of create reservations (creates.go),
// run against every backend: the reservation and its uniqueness check, the
// release by the stored record, the takeover of a stale reservation (its
// holder died) and of an unresolved one (its holder gave up after an
// ambiguous invite), and replays of the scripts after a lost reply.
func runCreateConformance(t *testing.T, newStore func(t *testing.T) Backend) {
	const site = "580e63e98c9a982ac9b8b741"
	const long = time.Minute // staleAfter that no test outlives
	checks := func(userName, email string) []CreateCheck {
		return []CreateCheck{{Index: IndexUserName, Value: userName}, {Index: IndexEmail, Value: email}}
	}
	reserve := func(t *testing.T, s Backend, staleAfter time.Duration, names ...string) (*CreateReservation, error) {
		t.Helper()
		return s.ReserveCreate(ctxT(t), site, names, nil, time.Minute, staleAfter)
	}
	mustReserve := func(t *testing.T, s Backend, staleAfter time.Duration, names ...string) *CreateReservation {
		t.Helper()
		r, err := reserve(t, s, staleAfter, names...)
		if err != nil {
			t.Fatalf("ReserveCreate(%v): %v", names, err)
		}
		return r
	}
	inProgress := func(t *testing.T, s Backend, what string, names ...string) {
		t.Helper()
		if _, err := reserve(t, s, long, names...); !errors.Is(err, ErrCreateInProgress) {
			t.Errorf("%s: ReserveCreate(%v) = %v, want ErrCreateInProgress", what, names, err)
		}
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s Backend)
	}{
		{"CheckReserveAndRelease", func(t *testing.T, s Backend) {
			ctx := ctxT(t)
			if err := s.CreateUser(ctx, &UserRecord{ID: "u1", SiteID: site, UserName: "Taken@example.com", Email: "taken@example.com"}); err != nil {
				t.Fatal(err)
			}
			var ce *ConflictError
			_, err := s.ReserveCreate(ctx, site, []string{"x@example.com", "TAKEN@example.com"}, checks("TAKEN@example.com", "x@example.com"), time.Minute, long)
			if !errors.As(err, &ce) || ce.Index != IndexUserName || ce.ID != "u1" || ce.Holder == nil || ce.Holder.UserName != "Taken@example.com" {
				t.Fatalf("userName taken: %v %+v", err, ce)
			}
			_, err = s.ReserveCreate(ctx, site, []string{"taken@example.com", "new"}, checks("new", "taken@example.com"), time.Minute, long)
			if !errors.As(err, &ce) || ce.Index != IndexEmail || ce.Holder == nil || ce.Holder.ID != "u1" {
				t.Fatalf("email taken: %v %+v", err, ce)
			}
			// A refused check reserves nothing.
			r := mustReserve(t, s, long, "new")
			if r.Takeover || r.Unresolved {
				t.Fatalf("a first reservation is no takeover: %+v", r)
			}
			inProgress(t, s, "a second create of the same name", "NEW", "other")
			r.Release()
			r, err = s.ReserveCreate(ctx, site, []string{"new@example.com", "new"}, checks("new", "new@example.com"), time.Minute, long)
			if err != nil {
				t.Fatalf("after release: %v", err)
			}
			// Storing the record releases the reservation in the same step.
			if err := s.CreateReservedUser(ctx, &UserRecord{ID: "u2", SiteID: site, UserName: "new", Email: "new@example.com"}, r); err != nil {
				t.Fatal(err)
			}
			if r2, err := reserve(t, s, long, "new"); err != nil || r2.Takeover {
				t.Errorf("the create did not release its reservation: %+v %v", r2, err)
			}
			if _, err := s.ReserveCreate(ctx, site, nil, nil, time.Minute, long); !errors.Is(err, ErrInvalid) {
				t.Errorf("nothing to reserve: %v", err)
			}
			if _, err := s.ReserveCreate(ctx, site, []string{"a"}, []CreateCheck{{Index: IndexDisplayName, Value: "x"}}, time.Minute, long); !errors.Is(err, ErrInvalid) {
				t.Errorf("non-unique check: %v", err)
			}
		}},
		{"StaleIsTakenOver", func(t *testing.T, s Backend) {
			// A holder that died leaves a held reservation: it blocks until
			// it is staleAfter old, then the next attempt takes it over.
			r1 := mustReserve(t, s, long, "ghost@example.com")
			r2 := mustReserve(t, s, -time.Second, "ghost@example.com")
			if !r2.Takeover || r2.Unresolved {
				t.Errorf("stale: %+v", r2)
			}
			r1.Release() // not r1's any more: must not free r2's reservation
			inProgress(t, s, "a former holder's Release freed the new holder's reservation", "ghost@example.com")
			r1.Abandon()
			inProgress(t, s, "a former holder's Abandon marked the new holder's reservation", "ghost@example.com")
		}},
		{"AbandonedIsTakenOverAtOnce", func(t *testing.T, s Backend) {
			r1 := mustReserve(t, s, long, "amb@example.com", "Amb")
			inProgress(t, s, "held", "amb@example.com")
			r1.Abandon()
			// Nothing is in flight any more: the next attempt, whichever
			// name it comes by, takes over at once, long before staleAfter.
			r2 := mustReserve(t, s, long, "AMB", "amb@example.com")
			if !r2.Takeover || !r2.Unresolved {
				t.Fatalf("after Abandon: %+v, want an unresolved takeover", r2)
			}
			// The new holder is at work: the reservation is held again.
			inProgress(t, s, "taken over", "amb@example.com")
			inProgress(t, s, "taken over", "amb")
			r1.Release()
			inProgress(t, s, "the first holder's Release after its Abandon", "amb@example.com")
			// The new holder gives up too: still unresolved for the next.
			r2.Abandon()
			r3 := mustReserve(t, s, long, "amb@example.com")
			if !r3.Unresolved {
				t.Errorf("abandoned twice: %+v", r3)
			}
			// It stores the record: the reservation is gone, and an Abandon
			// afterwards changes nothing.
			if err := s.CreateReservedUser(ctxT(t), &UserRecord{ID: "u3", SiteID: site, UserName: "amb", Email: "amb@example.com"}, r3); err != nil {
				t.Fatal(err)
			}
			r3.Abandon()
			if r4 := mustReserve(t, s, long, "amb@example.com"); r4.Takeover {
				t.Errorf("Abandon after the record was stored: %+v", r4)
			}
		}},
		{"AbandonAfterReleaseDoesNothing", func(t *testing.T, s Backend) {
			r1 := mustReserve(t, s, long, "rel@example.com")
			r1.Release()
			r2 := mustReserve(t, s, long, "rel@example.com")
			if r2.Takeover {
				t.Errorf("after Release: %+v", r2)
			}
			r1.Abandon()
			inProgress(t, s, "Abandon after Release", "rel@example.com")
		}},
		{"AbandonedNameDoesNotFreeAHeldOne", func(t *testing.T, s Backend) {
			// One name unresolved, the other held by another attempt that
			// is at work: that attempt is waited for.
			r1 := mustReserve(t, s, long, "a@example.com", "shared")
			r1.Abandon()
			r2 := mustReserve(t, s, long, "shared", "b@example.com")
			if !r2.Unresolved {
				t.Fatalf("%+v", r2)
			}
			inProgress(t, s, "a@example.com is unresolved but shared is held", "a@example.com", "shared")
			if r3 := mustReserve(t, s, long, "a@example.com"); !r3.Unresolved {
				t.Errorf("a@example.com alone: %+v", r3)
			}
		}},
		{"ScriptsReplayed", func(t *testing.T, s Backend) {
			// go-redis re-sends a script whose reply was lost (MaxRetries):
			// the replay must leave the same state.
			rs, ok := s.(*RedisStore)
			if !ok {
				t.Skip("not a RedisStore")
			}
			ctx := ctxT(t)
			r := mustReserve(t, s, long, "replay@example.com")
			abandon := func() int64 {
				n, err := rs.createScripts.abandon.Run(ctx, rs.rdb, r.keys, int64(1000), r.token).Int64()
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			if a, b := abandon(), abandon(); a != 1 || b != 1 {
				t.Errorf("abandon runs marked %d then %d keys, want 1 and 1", a, b)
			}
			v, err := rs.rdb.Get(ctx, r.keys[0]).Result()
			if err != nil || v != "1000|!"+r.token {
				t.Errorf("after two abandon runs: %q %v", v, err)
			}
			if ttl := rs.rdb.PTTL(ctx, r.keys[0]).Val(); ttl <= 0 || ttl > time.Minute {
				t.Errorf("abandon lost the time to live: %v", ttl)
			}
			// A replayed reserve finds its own first run's reservation: it
			// holds it, and reports a takeover (it cannot know whether the
			// first run took one over), so the caller looks before inviting.
			k := rs.Key(site, "creating", sha1Hex("fresh@example.com"))
			args := []any{rs.now().UnixMilli(), int64(60000), int64(60000), "tok1", 0, 0}
			for i, want := range []int64{0, 1} {
				res, err := rs.createScripts.reserve.Run(ctx, rs.rdb, []string{rs.keysFor(site).users, rs.keysFor(site).ixUserName, k}, args...).Slice()
				if err != nil || len(res) != 2 || res[0] != int64(1) || res[1] != want {
					t.Errorf("reserve run %d: %v %v, want [1 %d]", i, res, err, want)
				}
			}
			inProgress(t, s, "after a replayed reserve", "fresh@example.com")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}
