package state

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestWriteView: a writer reads the user's record and view and, only when
// its write needs it, takes the user's lock, in one round trip; and
// SaveUnlock stores the record and releases the lock in one more, never
// writing once the lock is lost.
func TestWriteView(t *testing.T) {
	for backend, newStore := range testStores() {
		t.Run(backend, func(t *testing.T) {
			testWriteView(t, newStore)
		})
	}
}

func testWriteView(t *testing.T, newStore func(t *testing.T) *RedisStore) {
	ctx := context.Background()
	const site = siteA
	setup := func(t *testing.T) *RedisStore {
		t.Helper()
		s := newStore(t)
		for _, u := range []*UserRecord{
			{ID: "on", SiteID: site, UserName: "on@example.com", Email: "on@example.com", WebflowUserID: "on", Active: true},
			{ID: "off", SiteID: site, UserName: "off@example.com", Email: "off@example.com", WebflowUserID: "off"},
		} {
			if err := s.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		// Records of the previous format, still read right.
		createOldFormat(t, s, &UserRecord{ID: "old-on", SiteID: site, UserName: "old-on@example.com", Email: "old-on@example.com", Active: true, Version: 1})
		createOldFormat(t, s, &UserRecord{ID: "old-off", SiteID: site, UserName: "old-off@example.com", Email: "old-off@example.com", Version: 1})
		if err := s.LinkGroup(ctx, &GroupRecord{ID: "g1", SiteID: site, Slug: "members", DisplayName: "Members"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ChangeMembers(ctx, site, "members", []MemberOp{{Op: "add", IDs: []string{"on", "off"}}}, ChangeOptions{}); err != nil {
			t.Fatal(err)
		}
		return s
	}
	free := func(t *testing.T, s *RedisStore, id string) bool {
		t.Helper()
		unlock, ok, err := s.LockUser(ctx, site, id, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			unlock()
		}
		return ok
	}

	t.Run("locks only when asked of the stored record", func(t *testing.T) {
		s := setup(t)
		for _, tc := range []struct {
			id     string
			mode   LockMode
			locked bool
		}{
			{"on", LockToSetActive(false), true},
			{"on", LockToSetActive(true), false},
			{"off", LockToSetActive(true), true},
			{"off", LockToSetActive(false), false},
			{"old-on", LockToSetActive(false), true},
			{"old-on", LockToSetActive(true), false},
			{"old-off", LockToSetActive(true), true},
			{"old-off", LockToSetActive(false), false},
			{"on", LockAlways, true},
			{"on", LockNever, false},
			{"nobody", LockToSetActive(true), false},
			{"nobody", LockAlways, true},
		} {
			name := map[LockMode]string{LockToSetActive(true): "to activate", LockToSetActive(false): "to deactivate", LockAlways: "always", LockNever: "never"}[tc.mode]
			t.Run(tc.id+" "+name, func(t *testing.T) {
				v, lk, busy, err := s.WriteView(ctx, site, tc.id, time.Minute, tc.mode)
				if err != nil || busy {
					t.Fatalf("WriteView: %v busy=%v", err, busy)
				}
				if (lk != nil) != tc.locked {
					t.Fatalf("locked %v, want %v", lk != nil, tc.locked)
				}
				if tc.id != "nobody" && (len(v.Users) != 1 || v.Users[0].ID != tc.id) {
					t.Fatalf("users %+v", v.Users)
				}
				if tc.id == "on" || tc.id == "off" {
					if len(v.Slugs[tc.id]) != 1 || v.Groups["members"] == nil {
						t.Errorf("groups: %v %v", v.Slugs, v.Groups)
					}
				}
				if tc.locked != (v.Managed != nil) || (tc.locked && !v.Managed["members"]) {
					t.Errorf("managed %v with the lock %v", v.Managed, tc.locked)
				}
				if free(t, s, tc.id) == tc.locked {
					t.Fatalf("lock held %v, want %v", !free(t, s, tc.id), tc.locked)
				}
				if lk == nil {
					return
				}
				// Held: a writer that needs it waits (busy, nothing read);
				// one that needs no lock reads.
				if v2, lk2, busy, err := s.WriteView(ctx, site, tc.id, time.Minute, tc.mode); err != nil || !busy || v2 != nil || lk2 != nil {
					t.Errorf("second writer: %v %v busy=%v %v", v2, lk2, busy, err)
				}
				if v2, lk2, busy, err := s.WriteView(ctx, site, tc.id, time.Minute, LockNever); err != nil || busy || lk2 != nil || len(v2.Users) != len(v.Users) {
					t.Errorf("reader: %v %v busy=%v %v", v2, lk2, busy, err)
				}
				lk.Unlock()
				if !free(t, s, tc.id) {
					t.Error("Unlock left the lock held")
				}
			})
		}
	})

	lockOn := func(t *testing.T, s *RedisStore) (*UserRecord, *UserLock) {
		t.Helper()
		v, lk, busy, err := s.WriteView(ctx, site, "on", time.Minute, LockToSetActive(false))
		if err != nil || busy || lk == nil || len(v.Users) != 1 {
			t.Fatalf("WriteView: %v %v busy=%v", err, lk, busy)
		}
		return v.Users[0], lk
	}

	t.Run("SaveUnlock stores and releases", func(t *testing.T) {
		s := setup(t)
		rec, lk := lockOn(t, s)
		out := *rec
		out.Active, out.DisplayName = false, "Renamed"
		if err := lk.SaveUnlock(ctx, &out, false); err != nil {
			t.Fatal(err)
		}
		got := mustGet(t, s, site, "on")
		if got.Active || got.DisplayName != "Renamed" || got.Version != rec.Version+1 || out.Version != got.Version {
			t.Errorf("stored %+v (caller has version %d)", got, out.Version)
		}
		if ids := lookup(t, s, site, IndexDisplayName, "renamed"); fmt.Sprint(ids) != "[on]" {
			t.Errorf("displayName index: %v", ids)
		}
		if !free(t, s, "on") {
			t.Error("SaveUnlock left the lock held")
		}
	})

	t.Run("the holder wins over a write without the lock", func(t *testing.T) {
		s := setup(t)
		rec, lk := lockOn(t, s)
		other := *rec
		other.DisplayName = "Refreshed"
		if err := s.ReplaceUser(ctx, &other); err != nil {
			t.Fatal(err)
		}
		out := *rec
		out.Active = false
		if err := lk.SaveUnlock(ctx, &out, false); err != nil {
			t.Fatal(err)
		}
		if got := mustGet(t, s, site, "on"); got.Active || got.DisplayName != "" || got.Version != other.Version+1 {
			t.Errorf("stored %+v", got)
		}
		if !free(t, s, "on") {
			t.Error("lock held")
		}
	})

	t.Run("a lost lock writes nothing", func(t *testing.T) {
		s := setup(t)
		rec, lk := lockOn(t, s)
		lk.Unlock() // as if it had expired
		unlock, ok, err := s.LockUser(ctx, site, "on", time.Minute)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		out := *rec
		out.Active = false
		if err := lk.SaveUnlock(ctx, &out, false); !errors.Is(err, ErrLockLost) {
			t.Fatalf("SaveUnlock after the lock was lost: %v", err)
		}
		if got := mustGet(t, s, site, "on"); !got.Active || got.Version != rec.Version {
			t.Errorf("a write without the lock was stored: %+v", got)
		}
		if free(t, s, "on") {
			t.Error("the other writer's lock was released")
		}
		unlock()
		// Expired and nobody took it: still nothing written.
		if err := lk.SaveUnlock(ctx, &out, false); !errors.Is(err, ErrLockLost) {
			t.Fatalf("SaveUnlock after the lock expired: %v", err)
		}
	})

	t.Run("a conflict stores nothing and releases", func(t *testing.T) {
		s := setup(t)
		rec, lk := lockOn(t, s)
		out := *rec
		out.UserName, out.Email = "off@example.com", "off@example.com"
		var ce *ConflictError
		if err := lk.SaveUnlock(ctx, &out, false); !errors.As(err, &ce) || ce.ID != "off" {
			t.Fatalf("SaveUnlock: %v", err)
		}
		if got := mustGet(t, s, site, "on"); got.UserName != "on@example.com" {
			t.Errorf("stored %+v", got)
		}
		if !free(t, s, "on") {
			t.Error("lock held")
		}
	})

	t.Run("satisfied completes the queued write unless it changed", func(t *testing.T) {
		s := setup(t)
		pending := func() bool {
			due, err := s.DuePending(ctx, site, 100, -time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range due {
				if p.UserID == "on" {
					return true
				}
			}
			return false
		}
		for _, changedMeanwhile := range []bool{true, false} {
			if err := s.Enqueue(ctx, site, "on"); err != nil {
				t.Fatal(err)
			}
			rec, lk := lockOn(t, s)
			if changedMeanwhile {
				if err := s.Enqueue(ctx, site, "on"); err != nil {
					t.Fatal(err)
				}
			}
			out := *rec
			out.Active = false
			if err := lk.SaveUnlock(ctx, &out, true); err != nil {
				t.Fatal(err)
			}
			if pending() != changedMeanwhile {
				t.Errorf("changed meanwhile %v: still pending %v", changedMeanwhile, pending())
			}
			// Back to active for the next round.
			out.Active = true
			if err := s.ReplaceUser(ctx, &out); err != nil {
				t.Fatal(err)
			}
		}
	})
}
