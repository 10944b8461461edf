package state

import (
	"context"
	"errors"
	"testing"
	"time"
)

// runWorkspaceGroupConformance: workspace groups share the site queue's
// scripts under the {w} tag: member ids must be collaborator links,
// changes coalesce per user, a change during a write is not lost, a
// rename queues the members, a delete queues them to lose the group, and
// role locks are recorded and counted.
func runWorkspaceGroupConformance(t *testing.T, s *RedisStore) {
	ctx := context.Background()
	for _, c := range []Collaborator{{ID: "u1", Email: "a@example.com"}, {ID: "u2", Email: "b@example.com"}} {
		if err := s.RecordCollaborator(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	g := &GroupRecord{ID: "g1", DisplayName: "Marketing"}
	if err := s.LinkWorkspaceGroup(ctx, g); err != nil || g.Slug != "g1" {
		t.Fatalf("link: %v %+v", err, g)
	}
	var ce *ConflictError
	if err := s.LinkWorkspaceGroup(ctx, &GroupRecord{ID: "g2", DisplayName: "MARKETING"}); !errors.As(err, &ce) {
		t.Fatalf("same name in another case: %v", err)
	}
	if err := s.LinkWorkspaceGroup(ctx, &GroupRecord{ID: "g2", DisplayName: "Admins"}); err != nil {
		t.Fatal(err)
	}
	var mu *MissingUsersError
	if _, err := s.ChangeWorkspaceMembers(ctx, "g1", []MemberOp{{Op: "add", IDs: []string{"u1", "ghost"}}}, ChangeOptions{Enqueue: true, RequireUsers: true}); !errors.As(err, &mu) || len(mu.IDs) != 1 || mu.IDs[0] != "ghost" {
		t.Fatalf("unknown member: %v", err)
	}
	if st, _ := s.WorkspaceQueueStats(ctx); st.Pending != 0 {
		t.Fatalf("a refused change queued %d", st.Pending)
	}
	for i := 0; i < 3; i++ { // coalesces: one pending entry per user
		if _, err := s.ChangeWorkspaceMembers(ctx, "g1", []MemberOp{{Op: "add", IDs: []string{"u1", "u2"}}, {Op: "remove", IDs: []string{"u2"}}, {Op: "add", IDs: []string{"u2"}}}, ChangeOptions{Enqueue: true, RequireUsers: true}); err != nil {
			t.Fatal(err)
		}
	}
	due, err := s.DueWorkspacePending(ctx, 10, 0)
	if err != nil || len(due) != 2 {
		t.Fatalf("due: %v %+v", err, due)
	}
	groups, _ := s.WorkspaceUserGroups(ctx, []string{"u1", "u2"})
	if len(groups["u1"]) != 1 || groups["u1"][0] != "g1" {
		t.Fatalf("user groups: %v", groups)
	}
	// A change while u1 is being written keeps u1 pending.
	if _, err := s.ChangeWorkspaceMembers(ctx, "g2", []MemberOp{{Op: "add", IDs: []string{"u1"}}}, ChangeOptions{Enqueue: true, RequireUsers: true}); err != nil {
		t.Fatal(err)
	}
	for _, p := range due {
		done, err := s.CompleteWorkspacePending(ctx, p, "")
		if err != nil || done != (p.UserID == "u2") {
			t.Fatalf("complete %s: %v %v", p.UserID, done, err)
		}
	}
	if st, _ := s.WorkspaceQueueStats(ctx); st.Pending != 1 {
		t.Fatalf("pending after completes: %d", st.Pending)
	}
	// Rename to a free name queues the members; to a taken one is refused.
	if err := s.RenameWorkspaceGroup(ctx, &GroupRecord{ID: "g1", DisplayName: "admins"}); !errors.As(err, &ce) {
		t.Fatalf("rename onto a taken name: %v", err)
	}
	if err := s.RenameWorkspaceGroup(ctx, &GroupRecord{ID: "g1", DisplayName: "Designers"}); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.WorkspaceQueueStats(ctx); st.Pending != 2 {
		t.Fatalf("rename did not queue the members: %d", st.Pending)
	}
	if err := s.LinkWorkspaceGroup(ctx, &GroupRecord{ID: "g3", DisplayName: "marketing"}); err != nil {
		t.Fatalf("the old name is free after a rename: %v", err)
	}
	// Delete: the members lose the group and are queued.
	if err := s.UnlinkWorkspaceGroup(ctx, "g1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WorkspaceGroup(ctx, "g1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted group: %v", err)
	}
	groups, _ = s.WorkspaceUserGroups(ctx, []string{"u1", "u2"})
	if len(groups["u2"]) != 0 || len(groups["u1"]) != 1 || groups["u1"][0] != "g2" {
		t.Fatalf("user groups after delete: %v", groups)
	}
	// Every user in a group, for a reconcile: u2 left its last group.
	if all, err := s.WorkspaceGroupUsers(ctx); err != nil || len(all) != 1 || len(all["u1"]) != 1 || all["u1"][0] != "g2" {
		t.Fatalf("users in groups: %v %v", all, err)
	}
	// Locks.
	if err := s.SetRoleLock(ctx, "u1", &RoleLock{Email: "a@example.com", Desired: "admin/site_manager", Scope: "role"}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.RoleLockCount(ctx); n != 1 {
		t.Fatalf("lock count %d", n)
	}
	if ls, _ := s.RoleLocks(ctx); len(ls) != 1 || ls[0].UserID != "u1" || ls[0].Desired != "admin/site_manager" {
		t.Fatalf("locks %+v", ls)
	}
	_ = s.SetRoleLock(ctx, "u1", nil)
	if n, _ := s.RoleLockCount(ctx); n != 0 {
		t.Fatalf("lock count after clear %d", n)
	}
	// The workspace queue is not a site's.
	if st, _ := s.QueueStats(ctx, "site1"); st.Pending != 0 {
		t.Fatalf("site queue sees workspace users: %d", st.Pending)
	}
	unlock, ok, err := s.LockWorkspaceUser(ctx, "u1", time.Minute)
	if err != nil || !ok {
		t.Fatal(err)
	}
	if _, ok2, _ := s.LockWorkspaceUser(ctx, "u1", time.Minute); ok2 {
		t.Fatal("lock taken twice")
	}
	unlock()
}

func TestWorkspaceGroupsMiniredis(t *testing.T) {
	for _, cluster := range []bool{false, true} {
		_, rdb := newMiniredisClient(t, cluster)
		runWorkspaceGroupConformance(t, NewRedisStore(rdb, Options{}))
	}
}

func TestWorkspaceGroupsRedis(t *testing.T) {
	rdb := realRedis(t)
	prefix := "wfbtest-wg-" + randomHex(t, 6)
	t.Cleanup(func() { deletePrefix(t, rdb, prefix) })
	runWorkspaceGroupConformance(t, NewRedisStore(rdb, Options{Prefix: prefix}))
}
