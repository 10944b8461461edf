package state

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// runMembershipConformance is the groups/queue half of the conformance
// suite, run against every backend.
func runMembershipConformance(t *testing.T, newStore func(t *testing.T) Backend) {
	const site = "580e63e98c9a982ac9b8b741"
	ctx := context.Background()
	ops := func(o ...MemberOp) []MemberOp { return o }
	add := func(ids ...string) MemberOp { return MemberOp{Op: "add", IDs: ids} }
	rm := func(ids ...string) MemberOp { return MemberOp{Op: "remove", IDs: ids} }
	members := func(t *testing.T, s Backend, slug string) string {
		m, err := s.GroupMembers(ctx, site, slug)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(m)
	}
	userGroups := func(t *testing.T, s Backend, id string) string {
		ug, err := s.UserGroups(ctx, site, []string{id})
		if err != nil {
			t.Fatal(err)
		}
		g := ug[id]
		slices.Sort(g)
		return fmt.Sprint(g)
	}

	t.Run("LinkGroup", func(t *testing.T) {
		s := newStore(t)
		g := &GroupRecord{ID: "g1", SiteID: site, Slug: "members", DisplayName: "Members"}
		if err := s.LinkGroup(ctx, g); err != nil || g.Created.IsZero() {
			t.Fatal(err)
		}
		if err := s.LinkGroup(ctx, &GroupRecord{ID: "g1", SiteID: site, Slug: "other"}); !errors.Is(err, ErrExists) {
			t.Errorf("same id: %v", err)
		}
		if err := s.LinkGroup(ctx, &GroupRecord{ID: "g2", SiteID: site, Slug: "members"}); !errors.Is(err, ErrConflict) {
			t.Errorf("same slug: %v", err)
		}
		got, err := s.GetGroup(ctx, site, "g1")
		if err != nil || got.DisplayName != "Members" {
			t.Fatal(got, err)
		}
		got.DisplayName = "Renamed"
		if err := s.UpdateGroup(ctx, got); err != nil {
			t.Fatal(err)
		}
		if all, _ := s.ListGroups(ctx, site); len(all) != 1 || all[0].DisplayName != "Renamed" || all[0].Slug != "members" {
			t.Errorf("list %+v", all)
		}
		if _, err := s.GetGroup(ctx, site, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing: %v", err)
		}
	})

	t.Run("ChangeMembersOpsInOrder", func(t *testing.T) {
		s := newStore(t)
		tests := []struct {
			ops     []MemberOp
			members string
			n       int
		}{
			{ops(add("a", "b", "c")), "[a b c]", 3},
			{ops(add("a")), "[a b c]", 0}, // already present: no change, not queued
			{ops(rm("b", "zz")), "[a c]", 1},
			{ops(MemberOp{Op: "replace", IDs: []string{"c", "d"}}), "[c d]", 2},
			{ops(rm("c"), add("c"), add("e")), "[c d e]", 1}, // c flips back: net change for e only
			{ops(MemberOp{Op: "removeAll"}), "[]", 3},
			{ops(MemberOp{Op: "replace"}), "[]", 0},
		}
		for i, tc := range tests {
			n, err := s.ChangeMembers(ctx, site, "premium", tc.ops, ChangeOptions{Enqueue: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := members(t, s, "premium"); got != tc.members || n != tc.n {
				t.Errorf("step %d: members %s (%d changed), want %s (%d)", i, got, n, tc.members, tc.n)
			}
		}
		s.ChangeMembers(ctx, site, "premium", ops(add("a")), ChangeOptions{})
		s.ChangeMembers(ctx, site, "staff", ops(add("a", "b")), ChangeOptions{})
		if userGroups(t, s, "a") != "[premium staff]" || userGroups(t, s, "b") != "[staff]" || userGroups(t, s, "zz") != "[]" {
			t.Errorf("user groups: a=%s b=%s", userGroups(t, s, "a"), userGroups(t, s, "b"))
		}
		if err := s.ForgetUser(ctx, site, "a"); err != nil {
			t.Fatal(err)
		}
		if userGroups(t, s, "a") != "[]" || members(t, s, "premium") != "[]" || members(t, s, "staff") != "[b]" {
			t.Errorf("after ForgetUser: %s %s", members(t, s, "premium"), members(t, s, "staff"))
		}
	})

	t.Run("QueueNeverDropsAChangeThatLandsDuringAWrite", func(t *testing.T) {
		s := newStore(t)
		s.ChangeMembers(ctx, site, "premium", ops(add("u1", "u2")), ChangeOptions{Enqueue: true})
		due, err := s.DuePending(ctx, site, 10, 0)
		if err != nil || len(due) != 2 {
			t.Fatal(due, err)
		}
		// While the worker writes u1, another change for u1 arrives.
		s.ChangeMembers(ctx, site, "staff", ops(add("u1")), ChangeOptions{Enqueue: true})
		for _, p := range due {
			done, err := s.CompletePending(ctx, site, p, "")
			if err != nil {
				t.Fatal(err)
			}
			if done != (p.UserID == "u2") {
				t.Errorf("%s: done=%v", p.UserID, done)
			}
		}
		due, _ = s.DuePending(ctx, site, 10, 0)
		if len(due) != 1 || due[0].UserID != "u1" {
			t.Fatalf("u1 must still be pending: %+v", due)
		}
		if ok, _ := s.CompletePending(ctx, site, due[0], ""); !ok {
			t.Error("second completion")
		}
		if st, _ := s.QueueStats(ctx, site); st.Pending != 0 {
			t.Errorf("stats %+v", st)
		}
	})

	// A settling change is not due until it is settle old, so changes for
	// one user that follow close together are written in one PATCH.
	t.Run("SettleDelaysAChange", func(t *testing.T) {
		s := newStore(t)
		s.ChangeMembers(ctx, site, "premium", ops(add("u1")), ChangeOptions{Enqueue: true})
		if due, err := s.DuePending(ctx, site, 10, time.Hour); err != nil || len(due) != 0 {
			t.Errorf("a change younger than the settle time is due: %+v %v", due, err)
		}
		if due, err := s.DuePending(ctx, site, 10, 0); err != nil || len(due) != 1 || due[0].UserID != "u1" {
			t.Errorf("without settling it is due: %+v %v", due, err)
		}
		if due, err := s.DuePending(ctx, site, 10, -time.Hour); err != nil || len(due) != 1 {
			t.Errorf("%+v %v", due, err)
		}
	})

	t.Run("RetryBackoffAndPermanentFailure", func(t *testing.T) {
		s := newStore(t)
		s.Enqueue(ctx, site, "u1")
		if n, err := s.RetryPending(ctx, site, "u1", time.Hour, "503 from Webflow"); err != nil || n != 1 {
			t.Fatal(n, err)
		}
		if due, _ := s.DuePending(ctx, site, 10, 0); len(due) != 0 {
			t.Errorf("a rescheduled write is not due yet: %+v", due)
		}
		st, _ := s.QueueStats(ctx, site)
		if st.Pending != 1 || st.OldestPending.Before(time.Now().Add(50*time.Minute)) {
			t.Errorf("stats %+v", st)
		}
		if n, _ := s.RetryPending(ctx, site, "u1", 0, "again"); n != 2 {
			t.Errorf("attempts %d", n)
		}
		s.Enqueue(ctx, site, "u2")
		due, _ := s.DuePending(ctx, site, 10, 0)
		if len(due) != 1 {
			t.Fatalf("%+v", due)
		}
		if _, err := s.CompletePending(ctx, site, due[0], "the Webflow user no longer exists"); err != nil {
			t.Fatal(err)
		}
		st, _ = s.QueueStats(ctx, site)
		if st.Pending != 1 || len(st.Failures) != 1 || st.Failures[0].UserID != "u2" || st.Failures[0].Error != "the Webflow user no longer exists" {
			t.Errorf("stats %+v", st)
		}
	})

	t.Run("UnlinkGroup", func(t *testing.T) {
		s := newStore(t)
		for i, slug := range []string{"keep", "retire"} {
			s.LinkGroup(ctx, &GroupRecord{ID: fmt.Sprint("g", i), SiteID: site, Slug: slug})
			s.ChangeMembers(ctx, site, slug, ops(add("u1")), ChangeOptions{})
		}
		if m, _ := s.ManagedSlugs(ctx, site); !m["keep"] || !m["retire"] || len(m) != 2 {
			t.Errorf("managed %v", m)
		}
		if err := s.UnlinkGroup(ctx, site, "g0", false, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := s.UnlinkGroup(ctx, site, "g1", true, time.Hour); err != nil {
			t.Fatal(err)
		}
		m, _ := s.ManagedSlugs(ctx, site)
		if m["keep"] || !m["retire"] {
			t.Errorf("unlink leaves a slug unmanaged; remove-members keeps it managed while retiring: %v", m)
		}
		if userGroups(t, s, "u1") != "[]" {
			t.Errorf("unlinked groups are no longer wanted: %s", userGroups(t, s, "u1"))
		}
		if st, _ := s.QueueStats(ctx, site); st.Pending != 1 {
			t.Errorf("only remove-members queues the members: %+v", st)
		}
		if err := s.UnlinkGroup(ctx, site, "g1", true, time.Hour); !errors.Is(err, ErrNotFound) {
			t.Errorf("twice: %v", err)
		}
		if err := s.LinkGroup(ctx, &GroupRecord{ID: "g9", SiteID: site, Slug: "retire"}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("LockUserIsExclusive", func(t *testing.T) {
		s := newStore(t)
		var held, max atomic.Int32
		var wg sync.WaitGroup
		var got atomic.Int32
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 20 {
					unlock, ok, err := s.LockUser(ctx, site, "u1", 5*time.Second)
					if err != nil {
						t.Error(err)
						return
					}
					if !ok {
						continue
					}
					got.Add(1)
					if n := held.Add(1); n > max.Load() {
						max.Store(n)
					}
					time.Sleep(time.Millisecond)
					held.Add(-1)
					unlock()
				}
			}()
		}
		wg.Wait()
		if max.Load() != 1 || got.Load() == 0 {
			t.Errorf("max holders %d, acquisitions %d", max.Load(), got.Load())
		}
		unlock, ok, _ := s.LockUser(ctx, site, "u1", time.Second)
		if !ok {
			t.Fatal("free lock")
		}
		if _, ok2, _ := s.LockUser(ctx, site, "u1", time.Second); ok2 {
			t.Error("held lock taken twice")
		}
		unlock()
		unlock() // releasing twice is harmless
	})

	t.Run("ConcurrentChangesKeepIndexesConsistent", func(t *testing.T) {
		s := newStore(t)
		slugs := []string{"a", "b", "c"}
		var wg sync.WaitGroup
		for w := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 30 {
					slug := slugs[(w+i)%3]
					id := fmt.Sprint("u", (w*7+i)%10)
					op := add(id)
					if i%3 == 2 {
						op = rm(id)
					}
					if _, err := s.ChangeMembers(ctx, site, slug, ops(op), ChangeOptions{Enqueue: true}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		// The forward (user → slugs) and reverse (slug → users) indexes agree.
		for i := range 10 {
			id := fmt.Sprint("u", i)
			ug, _ := s.UserGroups(ctx, site, []string{id})
			for _, slug := range slugs {
				m, _ := s.GroupMembers(ctx, site, slug)
				if slices.Contains(m, id) != slices.Contains(ug[id], slug) {
					t.Errorf("%s/%s: reverse %v forward %v", id, slug, m, ug[id])
				}
			}
		}
	})

	t.Run("CachedBlob", func(t *testing.T) {
		s := newStore(t)
		if _, _, err := s.CachedBlob(ctx, site, "accessgroups"); !errors.Is(err, ErrNotFound) {
			t.Errorf("empty: %v", err)
		}
		if err := s.StoreBlob(ctx, site, "accessgroups", []byte(`[1]`)); err != nil {
			t.Fatal(err)
		}
		raw, at, err := s.CachedBlob(ctx, site, "accessgroups")
		if err != nil || string(raw) != "[1]" || time.Since(at) > time.Minute {
			t.Errorf("%s %v %v", raw, at, err)
		}
	})

	// ViewUsers and ViewUserBy read, in one round trip, exactly what the
	// separate calls (GetUsers, UserGroups, ListGroups, ManagedSlugs) read.
	t.Run("ViewUsers", func(t *testing.T) {
		s := newStore(t)
		for _, u := range []*UserRecord{
			{ID: "ua", SiteID: site, UserName: "Ann@Example.com", Email: "ann@example.com", ExternalID: "ext-a", WebflowUserID: "wf-a"},
			{ID: "ub", SiteID: site, UserName: "bob@example.com", Email: "bob@example.com", WebflowUserID: "ub"},
			{ID: "uc", SiteID: site, UserName: "cy@example.com", Email: "cy@example.com"},
		} {
			if err := s.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		for _, g := range []*GroupRecord{
			{ID: "g1", SiteID: site, Slug: "members", DisplayName: "Members"},
			{ID: "g2", SiteID: site, Slug: "gold", DisplayName: "Gold"},
			{ID: "g3", SiteID: site, Slug: "silver", DisplayName: "Silver"},
		} {
			if err := s.LinkGroup(ctx, g); err != nil {
				t.Fatal(err)
			}
		}
		for slug, ids := range map[string][]string{"members": {"ua", "ub"}, "gold": {"ua"}, "silver": {"ub"}} {
			if _, err := s.ChangeMembers(ctx, site, slug, ops(add(ids...)), ChangeOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		// silver retires (its members are being removed): still managed.
		if err := s.UnlinkGroup(ctx, site, "g3", true, time.Hour); err != nil {
			t.Fatal(err)
		}
		wantManaged, err := s.ManagedSlugs(ctx, site)
		if err != nil {
			t.Fatal(err)
		}
		check := func(t *testing.T, v *UserView, wantIDs []string, managed bool) {
			t.Helper()
			var got []string
			for _, u := range v.Users {
				got = append(got, u.ID)
				if u.SiteID != site || u.Version < 1 {
					t.Errorf("record %+v", u)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(wantIDs) {
				t.Errorf("users %v, want %v", got, wantIDs)
			}
			ug, err := s.UserGroups(ctx, site, wantIDs)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range wantIDs {
				a, b := slices.Clone(v.Slugs[id]), slices.Clone(ug[id])
				slices.Sort(a)
				slices.Sort(b)
				if fmt.Sprint(a) != fmt.Sprint(b) {
					t.Errorf("slugs of %s: %v, UserGroups says %v", id, a, b)
				}
				for _, sl := range v.Slugs[id] {
					if g := v.Groups[sl]; g == nil || g.Slug != sl || g.ID == "" {
						t.Errorf("group of slug %q: %+v", sl, g)
					}
				}
			}
			if managed != (v.Managed != nil) {
				t.Fatalf("managed asked %v, got %v", managed, v.Managed)
			}
			if managed && fmt.Sprint(v.Managed) != fmt.Sprint(wantManaged) {
				t.Errorf("managed %v, ManagedSlugs says %v", v.Managed, wantManaged)
			}
		}
		tests := []struct {
			name    string
			read    func() (*UserView, error)
			want    []string
			managed bool
		}{
			{"ids in order, missing skipped", func() (*UserView, error) { return s.ViewUsers(ctx, site, []string{"ub", "nope", "ua"}, false) }, []string{"ub", "ua"}, false},
			{"ids with managed", func() (*UserView, error) { return s.ViewUsers(ctx, site, []string{"uc"}, true) }, []string{"uc"}, true},
			{"no ids", func() (*UserView, error) { return s.ViewUsers(ctx, site, nil, true) }, nil, true},
			{"userName, any case", func() (*UserView, error) { return s.ViewUserBy(ctx, site, IndexUserName, "ANN@example.COM", true) }, []string{"ua"}, true},
			{"email", func() (*UserView, error) { return s.ViewUserBy(ctx, site, IndexEmail, "bob@example.com", false) }, []string{"ub"}, false},
			{"externalId is exact", func() (*UserView, error) { return s.ViewUserBy(ctx, site, IndexExternalID, "EXT-A", false) }, nil, false},
			{"externalId", func() (*UserView, error) { return s.ViewUserBy(ctx, site, IndexExternalID, "ext-a", false) }, []string{"ua"}, false},
			{"webflowId held by the record itself", func() (*UserView, error) { return s.ViewUserBy(ctx, site, IndexWebflowID, "ub", false) }, []string{"ub"}, false},
			{"webflowId indexed", func() (*UserView, error) { return s.ViewUserBy(ctx, site, IndexWebflowID, "wf-a", false) }, []string{"ua"}, false},
			{"no match", func() (*UserView, error) { return s.ViewUserBy(ctx, site, IndexUserName, "zed@example.com", false) }, nil, false},
			{"empty value", func() (*UserView, error) { return s.ViewUserBy(ctx, site, IndexEmail, "", false) }, nil, false},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				v, err := tc.read()
				if err != nil {
					t.Fatal(err)
				}
				check(t, v, tc.want, tc.managed)
			})
		}
		if v, err := s.ViewUsers(ctx, site, []string{"ua"}, false); err != nil {
			t.Fatal(err)
		} else if g := v.Groups["gold"]; g == nil || g.DisplayName != "Gold" || g.ID != "g2" {
			t.Errorf("gold: %+v", g)
		}
		// RequireUsers: ids without a record refuse the whole change.
		_, err = s.ChangeMembers(ctx, site, "members", ops(add("uc"), add("ghost"), rm("ua", "ghost2")), ChangeOptions{Enqueue: true, RequireUsers: true})
		var mu *MissingUsersError
		if !errors.As(err, &mu) || !errors.Is(err, ErrNotFound) || fmt.Sprint(mu.IDs) != "[ghost ghost2]" {
			t.Errorf("missing users: %v", err)
		}
		if m, _ := s.GroupMembers(ctx, site, "members"); fmt.Sprint(m) != "[ua ub]" {
			t.Errorf("a refused change changed the members: %v", m)
		}
		if n, err := s.ChangeMembers(ctx, site, "members", ops(add("uc"), rm("ua")), ChangeOptions{RequireUsers: true}); err != nil || n != 2 {
			t.Errorf("change of known users: %d %v", n, err)
		}
		if _, err := s.ChangeMembers(ctx, site, "members", ops(add("ua"), rm("uc")), ChangeOptions{RequireUsers: true}); err != nil {
			t.Fatal(err)
		}
		// LockView: the lock and the writer's view in one step.
		v, lk, ok, err := s.LockView(ctx, site, "ua", time.Minute, true)
		if err != nil || !ok || len(v.Users) != 1 || v.Users[0].ID != "ua" || v.Managed == nil || len(v.Slugs["ua"]) != 2 {
			t.Fatalf("LockView: %+v %v %v", v, ok, err)
		}
		if v2, _, ok2, err := s.LockView(ctx, site, "ua", time.Minute, false); err != nil || ok2 || v2 != nil {
			t.Errorf("a held lock must refuse a second writer: %v %v %v", v2, ok2, err)
		}
		if _, ok2, err := s.LockUser(ctx, site, "ua", time.Minute); err != nil || ok2 {
			t.Errorf("LockView and LockUser share the lock: %v %v", ok2, err)
		}
		lk.Unlock()
		v, lk, ok, err = s.LockView(ctx, site, "ua", time.Minute, false)
		if err != nil || !ok || len(v.Users) != 0 || len(v.Slugs["ua"]) != 2 || !v.Managed["members"] {
			t.Fatalf("after unlock, without records: %+v %v %v", v, ok, err)
		}
		lk.Unlock()
		// UnlockSatisfied completes the user's queued write, unless a
		// change arrived while the lock was held.
		pendingOf := func(id string) bool {
			due, err := s.DuePending(ctx, site, 100, -time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range due {
				if p.UserID == id {
					return true
				}
			}
			return false
		}
		if err := s.Enqueue(ctx, site, "ua"); err != nil {
			t.Fatal(err)
		}
		_, lk, _, _ = s.LockView(ctx, site, "ua", time.Minute, false)
		if err := s.Enqueue(ctx, site, "ua"); err != nil { // a change while locked
			t.Fatal(err)
		}
		lk.UnlockSatisfied()
		if !pendingOf("ua") {
			t.Error("a change made while the lock was held was completed")
		}
		_, lk, ok, _ = s.LockView(ctx, site, "ua", time.Minute, false)
		if !ok {
			t.Fatal("UnlockSatisfied did not release the lock")
		}
		lk.UnlockSatisfied()
		if pendingOf("ua") {
			t.Error("UnlockSatisfied left the satisfied write queued")
		}
		_, lk, ok, _ = s.LockView(ctx, site, "ua", time.Minute, false)
		if !ok {
			t.Fatal("UnlockSatisfied did not release the lock")
		}
		lk.UnlockSatisfied() // nothing pending: just unlocks
		// GroupsOf: the same groups, no records.
		if v, err := s.GroupsOf(ctx, site, []string{"ub", "ua", "nope"}, false); err != nil {
			t.Fatal(err)
		} else if len(v.Users) != 0 || len(v.Slugs["ua"]) != 2 || len(v.Slugs["ub"]) != 1 || len(v.Groups) != 2 || v.Managed != nil {
			t.Errorf("GroupsOf: %+v", v)
		}
		if _, err := s.ViewUserBy(ctx, site, IndexDisplayName, "x", false); !errors.Is(err, ErrInvalid) {
			t.Errorf("displayName is not unique: %v", err)
		}
		if _, err := s.ViewUsers(ctx, "bad site/", nil, false); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad site: %v", err)
		}
	})
}

func TestMembershipConformanceMiniredis(t *testing.T) {
	runMembershipConformance(t, func(t *testing.T) Backend {
		_, rdb := newMiniredisClient(t, false)
		return NewRedisStore(rdb, Options{})
	})
}

func TestMembershipConformanceMiniredisCluster(t *testing.T) {
	runMembershipConformance(t, func(t *testing.T) Backend {
		_, rdb := newMiniredisClient(t, true)
		return NewRedisStore(rdb, Options{})
	})
}

func TestMembershipConformanceRedis(t *testing.T) {
	rdb := realRedis(t)
	run := "wfbtest-m-" + randomHex(t, 6)
	var n atomic.Int64
	runMembershipConformance(t, func(t *testing.T) Backend {
		prefix := fmt.Sprintf("%s-%d", run, n.Add(1))
		t.Cleanup(func() { deletePrefix(t, rdb, prefix) })
		return NewRedisStore(rdb, Options{Prefix: prefix})
	})
}
