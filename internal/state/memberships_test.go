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

	"github.com/redis/go-redis/v9"
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

	t.Run("MemberNames", func(t *testing.T) {
		// A member's display is its userName, read for the whole group in
		// one round trip from the names hash the user scripts keep:
		// create, rename and delete change it in the same step.
		s := newStore(t)
		names := func(t *testing.T) string {
			t.Helper()
			ms, err := s.GroupMemberNames(ctx, site, "staff")
			if err != nil {
				t.Fatal(err)
			}
			return fmt.Sprint(ms)
		}
		for _, u := range []struct{ id, name string }{{"u2", "Bo@example.com"}, {"u1", "ann@example.com"}, {"u3", "cy <&> \"q\"@example.com"}} {
			if err := s.CreateUser(ctx, &UserRecord{ID: u.id, SiteID: site, UserName: u.name, Email: "e-" + u.id + "@example.com"}); err != nil {
				t.Fatal(err)
			}
		}
		if got := names(t); got != "[]" {
			t.Errorf("empty group: %s", got)
		}
		if _, err := s.ChangeMembers(ctx, site, "staff", ops(add("u2", "u1", "u3")), ChangeOptions{RequireUsers: true}); err != nil {
			t.Fatal(err)
		}
		if got, want := names(t), `[{u1 ann@example.com} {u2 Bo@example.com} {u3 cy <&> "q"@example.com}]`; got != want {
			t.Errorf("members: %s, want %s", got, want)
		}
		u1, err := s.GetUser(ctx, site, "u1")
		if err != nil {
			t.Fatal(err)
		}
		u1.UserName = "Ann.Renamed@example.com"
		if err := s.ReplaceUser(ctx, u1); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteUser(ctx, site, "u3"); err != nil {
			t.Fatal(err)
		}
		// u3's record is gone but (until ForgetUser) its id is still in the
		// set: it is left out, as a member without a user.
		if got, want := names(t), `[{u1 Ann.Renamed@example.com} {u2 Bo@example.com}]`; got != want {
			t.Errorf("after a rename and a delete: %s, want %s", got, want)
		}
		// A record written before the names hash existed: read from the
		// record once, and stored.
		rs := s.(*RedisStore)
		k := rs.keysFor(site)
		if err := rs.rdb.HDel(ctx, k.names, "u2").Err(); err != nil {
			t.Fatal(err)
		}
		if got, want := names(t), `[{u1 Ann.Renamed@example.com} {u2 Bo@example.com}]`; got != want {
			t.Errorf("backfilled: %s, want %s", got, want)
		}
		if n, _ := rs.rdb.HGet(ctx, k.names, "u2").Result(); n != "Bo@example.com" {
			t.Errorf("the backfill stored %q", n)
		}
		if in, err := s.IsGroupMember(ctx, site, "staff", "u2"); err != nil || !in {
			t.Errorf("IsGroupMember(u2) = %v %v", in, err)
		}
		if in, err := s.IsGroupMember(ctx, site, "staff", "nobody"); err != nil || in {
			t.Errorf("IsGroupMember(nobody) = %v %v", in, err)
		}
		if err := rs.checkInvariants(ctx, site); err != nil {
			t.Error(err)
		}
	})

	t.Run("GroupsMemberNames", func(t *testing.T) {
		// A page of groups is read in two round trips: each group gets its
		// own members, ordered by id, with their current names; a member
		// whose name the hash lacks (data written before it), in two
		// groups at once, is read from its record in both.
		s := newStore(t)
		rs := s.(*RedisStore)
		for _, u := range []struct{ id, name string }{{"u1", "ann@example.com"}, {"u2", "bo@example.com"}, {"u3", "cy@example.com"}} {
			if err := s.CreateUser(ctx, &UserRecord{ID: u.id, SiteID: site, UserName: u.name, Email: "e-" + u.id + "@example.com"}); err != nil {
				t.Fatal(err)
			}
		}
		for slug, ids := range map[string][]string{"a": {"u3", "u1"}, "b": {"u2", "u3", "u1"}, "c": {"u2"}} {
			if _, err := s.ChangeMembers(ctx, site, slug, ops(add(ids...)), ChangeOptions{RequireUsers: true}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.DeleteUser(ctx, site, "u2"); err != nil {
			t.Fatal(err)
		}
		if err := rs.rdb.HDel(ctx, rs.keysFor(site).names, "u3").Err(); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			slugs []string
			want  string
		}{
			{nil, "[]"},
			{[]string{"empty"}, "[[]]"},
			{[]string{"a", "empty", "b", "c"}, "[[{u1 ann@example.com} {u3 cy@example.com}] [] [{u1 ann@example.com} {u3 cy@example.com}] []]"},
			{[]string{"c", "b"}, "[[] [{u1 ann@example.com} {u3 cy@example.com}]]"},
		} {
			got, err := s.GroupsMemberNames(ctx, site, tc.slugs)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != tc.want || len(got) != len(tc.slugs) {
				t.Errorf("%v: %v, want %s", tc.slugs, got, tc.want)
			}
			for i := range got {
				if got[i] == nil {
					t.Errorf("%v: group %d is nil, not empty", tc.slugs, i)
				}
			}
		}
		if n, _ := rs.rdb.HGet(ctx, rs.keysFor(site).names, "u3").Result(); n != "cy@example.com" {
			t.Errorf("the backfill stored %q", n)
		}
		// The same two steps, the sets read with the site's groups.
		if err := s.LinkGroup(ctx, &GroupRecord{ID: "g1", SiteID: site, Slug: "b"}); err != nil {
			t.Fatal(err)
		}
		links, _, _, sets, err := s.SiteGroupsMembers(ctx, site, "accessgroups", []string{"b", "empty"})
		if len(sets) == 2 {
			slices.Sort(sets[0]) // the set as it is: u2 has no record, and no name
		}
		if !errors.Is(err, ErrNotFound) || len(links) != 1 || links[0].Slug != "b" || fmt.Sprint(sets) != "[[u1 u2 u3] []]" {
			t.Fatalf("SiteGroupsMembers: %v %v %v (no blob cached: ErrNotFound)", links, sets, err)
		}
		if got, err := s.MemberNames(ctx, site, sets); err != nil || fmt.Sprint(got) != "[[{u1 ann@example.com} {u3 cy@example.com}] []]" {
			t.Errorf("MemberNames: %v %v", got, err)
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

	// Changes larger than one script's share (defaultMemberChunk) are applied in
	// several scripts; the outcome is the one script's: the ops in order,
	// the reverse index matching the set, every flip queued once.
	t.Run("LargeChangesAreChunked", func(t *testing.T) {
		s := newStore(t)
		ids := func(from, to int) []string {
			out := make([]string, 0, to-from)
			for i := from; i < to; i++ {
				out = append(out, fmt.Sprintf("u%05d", i))
			}
			return out
		}
		same := func(t *testing.T, step string, want []string, n, wantN int) {
			t.Helper()
			got, err := s.GroupMembers(ctx, site, "premium")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) || n != wantN {
				t.Errorf("%s: %d members (%d changed), want %d (%d)", step, len(got), n, len(want), wantN)
			}
			consistent(t, s, site, "premium", ids(0, 2000))
		}
		n, err := s.ChangeMembers(ctx, site, "premium", ops(add(ids(0, 1000)...)), ChangeOptions{Enqueue: true})
		if err != nil {
			t.Fatal(err)
		}
		same(t, "add 1,000", ids(0, 1000), n, 1000)
		if due, _ := s.DuePending(ctx, site, 5000, 0); len(due) != 1000 {
			t.Errorf("%d users queued, want 1,000", len(due))
		}
		n, err = s.ChangeMembers(ctx, site, "premium", ops(MemberOp{Op: "replace", IDs: ids(500, 1500)}), ChangeOptions{Enqueue: true})
		if err != nil {
			t.Fatal(err)
		}
		same(t, "replace by an overlapping 1,000", ids(500, 1500), n, 1000)
		if due, _ := s.DuePending(ctx, site, 5000, 0); len(due) != 1500 {
			t.Errorf("%d users queued, want 1,500", len(due))
		}
		// In order: what precedes a removeAll is undone by it.
		n, err = s.ChangeMembers(ctx, site, "premium", ops(add(ids(1500, 1800)...), MemberOp{Op: "removeAll"}, add(ids(1700, 2000)...), rm("u01999")), ChangeOptions{Enqueue: true})
		if err != nil {
			t.Fatal(err)
		}
		same(t, "add, removeAll, add, remove", ids(1700, 1999), n, 1000+299)
		n, err = s.ChangeMembers(ctx, site, "premium", ops(MemberOp{Op: "removeAll"}), ChangeOptions{Enqueue: true})
		if err != nil {
			t.Fatal(err)
		}
		same(t, "removeAll", nil, n, 299)

		// RequireUsers: one id in 600 is not a user, nothing changes.
		for _, id := range ids(0, 600) {
			if id == "u00450" {
				continue
			}
			if err := s.CreateUser(ctx, &UserRecord{ID: id, SiteID: site, UserName: id + "@example.com", Email: id + "@example.com"}); err != nil {
				t.Fatal(err)
			}
		}
		var mu *MissingUsersError
		if _, err := s.ChangeMembers(ctx, site, "premium", ops(add(ids(0, 600)...)), ChangeOptions{Enqueue: true, RequireUsers: true}); !errors.As(err, &mu) || !slices.Equal(mu.IDs, []string{"u00450"}) {
			t.Errorf("a missing user among 600: %v", err)
		}
		same(t, "refused", nil, 0, 0)
		n, err = s.ChangeMembers(ctx, site, "premium", ops(MemberOp{Op: "replace", IDs: slices.Delete(ids(0, 600), 450, 451)}), ChangeOptions{Enqueue: true, RequireUsers: true})
		if err != nil {
			t.Fatal(err)
		}
		same(t, "599 users", slices.Delete(ids(0, 600), 450, 451), n, 599)
	})

	// Two changes that replace a large group at once never interleave (the
	// group's lock): the group ends as one of them left it. Single adds and
	// removes meanwhile keep the reverse index matching the set.
	t.Run("ConcurrentLargeReplaces", func(t *testing.T) {
		s := newStore(t)
		list := func(prefix string) []string {
			out := make([]string, 600)
			for i := range out {
				out[i] = fmt.Sprintf("%s%04d", prefix, i)
			}
			return out
		}
		a, b := list("a"), list("b")
		all := append(append(list("a"), b...), list("c")...)
		var wg sync.WaitGroup
		for round := 0; round < 3; round++ {
			for _, want := range [][]string{a, b} {
				wg.Go(func() {
					if _, err := s.ChangeMembers(ctx, site, "premium", ops(MemberOp{Op: "replace", IDs: want}), ChangeOptions{Enqueue: true}); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Go(func() {
				for i, id := range list("c")[:50] {
					op := add(id, a[i])
					if i%2 == 1 {
						op = rm(id, b[i])
					}
					if _, err := s.ChangeMembers(ctx, site, "premium", ops(op), ChangeOptions{Enqueue: true}); err != nil {
						t.Error(err)
					}
				}
			})
			wg.Wait()
			consistent(t, s, site, "premium", all)
		}
		// Without the single changes, the end is one of the two lists.
		for _, want := range [][]string{a, b} {
			wg.Go(func() {
				if _, err := s.ChangeMembers(ctx, site, "premium", ops(MemberOp{Op: "replace", IDs: want}), ChangeOptions{Enqueue: true}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got, _ := s.GroupMembers(ctx, site, "premium")
		if !slices.Equal(got, a) && !slices.Equal(got, b) {
			t.Errorf("after two concurrent replaces the group holds %d members, neither list", len(got))
		}
		consistent(t, s, site, "premium", all)
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

	t.Run("ChangeMembersLinkedTo", func(t *testing.T) {
		// A change made knowing the group's slug from before applies only
		// while the slug is linked to that group, checked in the same
		// script, in one script or in chunks.
		s := newStore(t)
		if err := s.LinkGroup(ctx, &GroupRecord{ID: "g1", SiteID: site, Slug: "staff"}); err != nil {
			t.Fatal(err)
		}
		many := make([]string, 700)
		for i := range many {
			many[i] = fmt.Sprintf("m%03d", i)
		}
		tests := []struct {
			name, linkedTo string
			ops            []MemberOp
			wantErr        error
			want           int // members afterwards
		}{
			{"linked", "g1", ops(add("u1")), nil, 1},
			{"another group's id", "g2", ops(add("u2")), ErrNotLinked, 1},
			{"linked, chunked", "g1", ops(add(many...)), nil, 701},
			{"another group's id, a large change", "g2", ops(rm(many...)), ErrNotLinked, 701},
			{"no check", "", ops(rm(many...)), nil, 1},
		}
		for _, tc := range tests {
			_, err := s.ChangeMembers(ctx, site, "staff", tc.ops, ChangeOptions{LinkedTo: tc.linkedTo})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr != nil && !errors.Is(err, ErrNotFound)) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.wantErr)
			}
			if m, _ := s.GroupMembers(ctx, site, "staff"); len(m) != tc.want {
				t.Errorf("%s: %d members, want %d", tc.name, len(m), tc.want)
			}
		}
		if err := s.UnlinkGroup(ctx, site, "g1", false, time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ChangeMembers(ctx, site, "staff", ops(add("u3")), ChangeOptions{LinkedTo: "g1"}); !errors.Is(err, ErrNotLinked) {
			t.Errorf("after the unlink: %v", err)
		}
		if m := members(t, s, "staff"); m != "[]" || userGroups(t, s, "u3") != "[]" {
			t.Errorf("a change refused changes nothing: %s, u3 in %s", m, userGroups(t, s, "u3"))
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

// consistent checks the reverse index against the member set for ids: a
// user's desired slugs hold slug exactly when the set holds the user.
func consistent(t *testing.T, s Backend, site, slug string, ids []string) {
	t.Helper()
	ctx := context.Background()
	members, err := s.GroupMembers(ctx, site, slug)
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]bool{}
	for _, id := range members {
		in[id] = true
	}
	groups, err := s.UserGroups(ctx, site, ids)
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for _, id := range ids {
		if slices.Contains(groups[id], slug) != in[id] {
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d users' desired groups disagree with the members of %s", bad, slug)
	}
}

// flipRecorder records the reply of every membership script run (EVALSHA,
// or the EVAL go-redis sends after NOSCRIPT): how many users it flipped.
type flipRecorder struct {
	sha   string
	mu    sync.Mutex
	flips []int64
}

func (f *flipRecorder) DialHook(next redis.DialHook) redis.DialHook { return next }
func (f *flipRecorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (f *flipRecorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		args := cmd.Args()
		if len(args) < 2 || (cmd.Name() != "evalsha" && cmd.Name() != "eval") {
			return err
		}
		if s, _ := args[1].(string); s != f.sha && s != changeMembersScript {
			return err
		}
		if c, ok := cmd.(*redis.Cmd); ok && err == nil {
			if res, _ := c.Slice(); len(res) > 0 {
				if n, ok := res[0].(int64); ok {
					f.mu.Lock()
					f.flips = append(f.flips, n)
					f.mu.Unlock()
				}
			}
		}
		return err
	}
}

// TestChangeMembersScriptsStaySmall: no membership script flips more than
// defaultMemberChunk users, whatever the change, so no script holds Redis for
// long (on the old main adding 1,000 members, or emptying a group of
// 2,000, was one script of 1,000 or 2,000 flips); the change is applied
// all the same.
func TestChangeMembersScriptsStaySmall(t *testing.T) {
	for backend, newStore := range testStores() {
		t.Run(backend, func(t *testing.T) {
			s := newStore(t)
			rec := &flipRecorder{sha: redis.NewScript(changeMembersScript).Hash()}
			s.rdb.AddHook(rec)
			ctx := context.Background()
			ids := make([]string, 2000)
			for i := range ids {
				ids[i] = fmt.Sprintf("m%05d", i)
			}
			steps := []struct {
				name    string
				ops     []MemberOp
				members int
			}{
				{"add 1,000", []MemberOp{{Op: "add", IDs: ids[:1000]}}, 1000},
				{"add 1,000 more", []MemberOp{{Op: "add", IDs: ids[1000:]}}, 2000},
				{"replace 2,000 by 10", []MemberOp{{Op: "replace", IDs: ids[5:15]}}, 10},
				{"add 2,000", []MemberOp{{Op: "add", IDs: ids}}, 2000},
				{"remove all 2,000", []MemberOp{{Op: "removeAll"}}, 0},
				{"add 100", []MemberOp{{Op: "add", IDs: ids[:100]}}, 100},
			}
			for _, st := range steps {
				rec.flips = nil
				n, err := s.ChangeMembers(ctx, siteA, "big", st.ops, ChangeOptions{Enqueue: true})
				if err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				if m, _ := s.GroupMembers(ctx, siteA, "big"); len(m) != st.members {
					t.Errorf("%s: %d members, want %d", st.name, len(m), st.members)
				}
				var sum int64
				for _, f := range rec.flips {
					if f > defaultMemberChunk {
						t.Errorf("%s: one script flipped %d users (at most %d)", st.name, f, defaultMemberChunk)
					}
					sum += max(f, 0)
				}
				if sum != int64(n) || len(rec.flips) == 0 {
					t.Errorf("%s: the scripts flipped %d users in %d runs; ChangeMembers reports %d", st.name, sum, len(rec.flips), n)
				}
			}
			// A small change stays one script (the IdPs' usual PATCH).
			rec.flips = nil
			if _, err := s.ChangeMembers(ctx, siteA, "big", []MemberOp{{Op: "add", IDs: ids[100:103]}}, ChangeOptions{Enqueue: true}); err != nil || len(rec.flips) != 1 {
				t.Errorf("adding 3: %d script runs (%v), want 1", len(rec.flips), err)
			}
		})
	}
}

// TestGroupLockSerialisesResets: while another holder has a group's lock
// (a large replace at work), a change that empties or replaces the group
// waits for it, and gives up with ErrGroupBusy at the caller's deadline,
// changing nothing; adds and removes of single members go on.
func TestGroupLockSerialisesResets(t *testing.T) {
	for backend, newStore := range testStores() {
		t.Run(backend, func(t *testing.T) {
			s := newStore(t)
			ctx := context.Background()
			if _, err := s.ChangeMembers(ctx, siteA, "gold", []MemberOp{{Op: "add", IDs: []string{"a", "b"}}}, ChangeOptions{}); err != nil {
				t.Fatal(err)
			}
			lock := s.groupLockKey(siteA, "gold")
			if err := s.rdb.Set(ctx, lock, "another-holder", time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
			defer cancel()
			if _, err := s.ChangeMembers(short, siteA, "gold", []MemberOp{{Op: "replace", IDs: []string{"c"}}}, ChangeOptions{}); !errors.Is(err, ErrGroupBusy) {
				t.Errorf("replace while the lock is held: %v, want ErrGroupBusy", err)
			}
			if _, err := s.ChangeMembers(ctx, siteA, "gold", []MemberOp{{Op: "add", IDs: []string{"d"}}, {Op: "remove", IDs: []string{"a"}}}, ChangeOptions{}); err != nil {
				t.Errorf("add and remove while the lock is held: %v", err)
			}
			if m, _ := s.GroupMembers(ctx, siteA, "gold"); !slices.Equal(m, []string{"b", "d"}) {
				t.Errorf("members %v, want [b d]", m)
			}
			// The holder lets go: the waiting replace goes through.
			time.AfterFunc(50*time.Millisecond, func() { s.rdb.Del(context.Background(), lock) })
			if _, err := s.ChangeMembers(ctx, siteA, "gold", []MemberOp{{Op: "replace", IDs: []string{"c"}}}, ChangeOptions{}); err != nil {
				t.Fatal(err)
			}
			if m, _ := s.GroupMembers(ctx, siteA, "gold"); !slices.Equal(m, []string{"c"}) {
				t.Errorf("members %v, want [c]", m)
			}
			if n, _ := s.rdb.Exists(ctx, lock).Result(); n != 0 {
				t.Errorf("the lock was not released")
			}
		})
	}
}
