package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Workspace groups (issue 15, passthrough mode): SCIM Groups the IdP
// pushes to /workspace/scim/v2/Groups, whose members are native SCIM user
// ids (the collaborator links of collaborators.go). They run on the same
// queue as site memberships (memScope): coalescing, per-user
// serialisation, settle time and retries are one implementation.
//
// A member set is keyed by the group's id, not its name, so a rename
// (which can move a group to another configured role) costs no data move:
// the members are queued, and the worker reads the names anew.
//
// Keys (all under the workspace hash tag {w}, with the collaborator links
// that RequireUsers checks member ids against):
//
//	{w}:wg:grp            HASH group id → GroupRecord JSON
//	{w}:wg:grp:slug       HASH lower(displayName) → group id (one group per name)
//	{w}:wg:mem:<sha1(id)> SET  native user ids the IdP has in that group
//	{w}:wg:umem           HASH native user id → JSON array of group ids
//	{w}:wg:pending, pseq, pinfo, failed, lock:u:<sha1(id)>: the queue
//	{w}:wg:locked         HASH native user id → RoleLock JSON

// RoleLock is a workspace member Webflow refuses role writes for
// (workspace_member_managed_by_scim): the member native SCIM manages. The
// desired roles are kept, and written once a drain finds the lock gone.
type RoleLock struct {
	UserID   string    `json:"userId"` // native SCIM id
	Email    string    `json:"email"`
	MemberID string    `json:"memberId,omitempty"`
	Current  string    `json:"current,omitempty"` // the pair Webflow holds, workspace/site
	Desired  string    `json:"desired"`           // the pair the IdP's groups give
	Scope    string    `json:"scope"`             // "role" or "site:<id>"
	At       time.Time `json:"at"`
}

func (s *RedisStore) wsScope() memScope {
	byID, _ := s.collabKeys()
	return s.scopeAt(func(p ...string) string {
		return s.prefix + ":{w}:wg:" + strings.Join(p, ":")
	}, byID)
}

func (s *RedisStore) wsLockedKey() string { return s.prefix + ":{w}:wg:locked" }

// LinkWorkspaceGroup stores a new workspace group. ErrExists if the id is
// taken; *ConflictError (Index "displayName") if another group has the
// name in any case. g.Slug is set to the id (the member set's key).
func (s *RedisStore) LinkWorkspaceGroup(ctx context.Context, g *GroupRecord) error {
	if g.ID == "" || strings.TrimSpace(g.DisplayName) == "" {
		return fmt.Errorf("%w: group id and displayName are required", ErrInvalid)
	}
	if err := validText("displayName", g.DisplayName); err != nil {
		return err
	}
	k := s.wsScope()
	now := s.now().UTC()
	rec := *g
	rec.Slug, rec.SiteID = rec.ID, ""
	if rec.Created.IsZero() {
		rec.Created = now
	}
	rec.Modified = now
	doc, _ := json.Marshal(rec)
	name := strings.ToLower(rec.DisplayName)
	err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
		if exists, err := tx.HExists(ctx, k.grp, rec.ID).Result(); err != nil {
			return err
		} else if exists {
			return ErrExists
		}
		if other, err := tx.HGet(ctx, k.grpSlug, name).Result(); err == nil && other != rec.ID {
			return &ConflictError{Index: "displayName", Value: rec.DisplayName, ID: other}
		} else if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, k.grp, rec.ID, doc)
			p.HSet(ctx, k.grpSlug, name, rec.ID)
			return nil
		})
		return err
	}, k.grp, k.grpSlug)
	if err != nil {
		return err
	}
	*g = rec
	return nil
}

// WorkspaceGroup returns a workspace group, or ErrNotFound.
func (s *RedisStore) WorkspaceGroup(ctx context.Context, id string) (*GroupRecord, error) {
	return hgetJSON[GroupRecord](ctx, s.rdb, s.wsScope().grp, id, "workspace group")
}

// WorkspaceGroups returns every workspace group, ordered by id.
func (s *RedisStore) WorkspaceGroups(ctx context.Context) ([]*GroupRecord, error) {
	all, err := s.rdb.HGetAll(ctx, s.wsScope().grp).Result()
	if err != nil {
		return nil, err
	}
	return decodeGroups(all), nil
}

// RenameWorkspaceGroup stores g's displayName and externalId. A new name
// must be free (*ConflictError otherwise); when it changes, every member is
// queued, since the name decides the roles the group gives.
func (s *RedisStore) RenameWorkspaceGroup(ctx context.Context, g *GroupRecord) error {
	if err := validText("displayName", g.DisplayName); err != nil {
		return err
	}
	k := s.wsScope()
	var out GroupRecord
	renamed := false
	err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
		raw, err := tx.HGet(ctx, k.grp, g.ID).Result()
		if errors.Is(err, redis.Nil) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		var cur GroupRecord
		if err := json.Unmarshal([]byte(raw), &cur); err != nil {
			return fmt.Errorf("decoding workspace group %s: %w", g.ID, err)
		}
		oldName, newName := strings.ToLower(cur.DisplayName), strings.ToLower(g.DisplayName)
		if newName != oldName {
			if other, err := tx.HGet(ctx, k.grpSlug, newName).Result(); err == nil && other != g.ID {
				return &ConflictError{Index: "displayName", Value: g.DisplayName, ID: other}
			} else if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
		}
		renamed = newName != oldName
		cur.DisplayName, cur.ExternalID, cur.Modified = g.DisplayName, g.ExternalID, s.now().UTC()
		doc, _ := json.Marshal(cur)
		out = cur
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, k.grp, g.ID, doc)
			if renamed {
				p.HDel(ctx, k.grpSlug, oldName)
				p.HSet(ctx, k.grpSlug, newName, g.ID)
			}
			return nil
		})
		return err
	}, k.grp, k.grpSlug)
	if err != nil {
		return err
	}
	*g = out
	if renamed {
		members, err := s.groupMembers(ctx, k, g.ID)
		if err != nil {
			return err
		}
		return s.enqueue(ctx, k, members...)
	}
	return nil
}

// UnlinkWorkspaceGroup forgets a workspace group; its members are queued
// to lose what it gave them.
func (s *RedisStore) UnlinkWorkspaceGroup(ctx context.Context, id string) error {
	g, err := s.WorkspaceGroup(ctx, id)
	if err != nil {
		return err
	}
	k := s.wsScope()
	if _, err := s.changeMembers(ctx, k, g.ID, []MemberOp{{Op: "removeAll"}}, ChangeOptions{Enqueue: true}); err != nil {
		return err
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, k.grp, id)
		p.HDel(ctx, k.grpSlug, strings.ToLower(g.DisplayName))
		return nil
	})
	return err
}

// ChangeWorkspaceMembers is ChangeMembers for a workspace group: ids are
// native SCIM user ids, and RequireUsers checks them against the
// collaborator links in the same atomic step.
func (s *RedisStore) ChangeWorkspaceMembers(ctx context.Context, groupID string, ops []MemberOp, opts ChangeOptions) (int, error) {
	return s.changeMembers(ctx, s.wsScope(), groupID, ops, opts)
}

// WorkspaceGroupMembers returns the native user ids in a workspace group.
func (s *RedisStore) WorkspaceGroupMembers(ctx context.Context, groupID string) ([]string, error) {
	return s.groupMembers(ctx, s.wsScope(), groupID)
}

// WorkspaceUserGroups returns the workspace group ids of each user.
func (s *RedisStore) WorkspaceUserGroups(ctx context.Context, userIDs []string) (map[string][]string, error) {
	return s.userGroups(ctx, s.wsScope(), userIDs)
}

// WorkspaceGroupUsers returns every user in at least one workspace group
// with their group ids (one HGETALL): the users whose roles the groups
// decide, for a reconcile.
func (s *RedisStore) WorkspaceGroupUsers(ctx context.Context) (map[string][]string, error) {
	all, err := s.rdb.HGetAll(ctx, s.wsScope().umem).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string][]string, len(all))
	for id, raw := range all {
		var groups []string
		if err := json.Unmarshal([]byte(raw), &groups); err != nil {
			return nil, fmt.Errorf("decoding the workspace groups of %s: %w", id, err)
		}
		out[id] = groups
	}
	return out, nil
}

// MissingCollaborators returns the ids that have no collaborator link.
func (s *RedisStore) MissingCollaborators(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	byID, _ := s.collabKeys()
	vals, err := s.rdb.HMGet(ctx, byID, ids...).Result()
	if err != nil {
		return nil, err
	}
	var out []string
	for i, v := range vals {
		if v == nil {
			out = append(out, ids[i])
		}
	}
	return out, nil
}

// EnqueueWorkspaceUsers queues users for the workspace worker.
func (s *RedisStore) EnqueueWorkspaceUsers(ctx context.Context, userIDs ...string) error {
	return s.enqueue(ctx, s.wsScope(), userIDs...)
}

// DueWorkspacePending returns up to limit workspace users whose writes are due.
func (s *RedisStore) DueWorkspacePending(ctx context.Context, limit int, settle time.Duration) ([]Pending, error) {
	return s.duePending(ctx, s.wsScope(), limit, settle)
}

// CompleteWorkspacePending is CompletePending for the workspace queue.
func (s *RedisStore) CompleteWorkspacePending(ctx context.Context, p Pending, failure string) (bool, error) {
	return s.completePending(ctx, s.wsScope(), p, failure)
}

// RetryWorkspacePending is RetryPending for the workspace queue.
func (s *RedisStore) RetryWorkspacePending(ctx context.Context, userID string, after time.Duration, cause string) (int, error) {
	return s.retryPending(ctx, s.wsScope(), userID, after, cause)
}

// WorkspaceQueueStats is QueueStats for the workspace queue.
func (s *RedisStore) WorkspaceQueueStats(ctx context.Context) (QueueStats, error) {
	return s.queueStats(ctx, s.wsScope())
}

// LockWorkspaceUser is LockUser for the workspace queue.
func (s *RedisStore) LockWorkspaceUser(ctx context.Context, userID string, ttl time.Duration) (unlock func(), ok bool, err error) {
	return s.lockUser(ctx, s.wsScope(), userID, ttl)
}

// SetRoleLock records (lock non-nil) or clears a user's role lock.
func (s *RedisStore) SetRoleLock(ctx context.Context, userID string, lock *RoleLock) error {
	if lock == nil {
		return s.rdb.HDel(ctx, s.wsLockedKey(), userID).Err()
	}
	if lock.At.IsZero() {
		lock.At = s.now().UTC()
	}
	lock.UserID = userID
	doc, _ := json.Marshal(lock)
	return s.rdb.HSet(ctx, s.wsLockedKey(), userID, doc).Err()
}

// RoleLocks returns the recorded role locks, newest first.
func (s *RedisStore) RoleLocks(ctx context.Context) ([]RoleLock, error) {
	all, err := s.rdb.HGetAll(ctx, s.wsLockedKey()).Result()
	if err != nil {
		return nil, err
	}
	out := make([]RoleLock, 0, len(all))
	for _, raw := range all {
		var l RoleLock
		if json.Unmarshal([]byte(raw), &l) == nil {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.After(out[j].At)
		}
		return out[i].UserID < out[j].UserID
	})
	return out, nil
}

// RoleLockCount is the number of role-locked members (for /readyz and
// /metrics: one HLEN).
func (s *RedisStore) RoleLockCount(ctx context.Context) (int, error) {
	n, err := s.rdb.HLen(ctx, s.wsLockedKey()).Result()
	return int(n), err
}

// WorkspaceGroupStore is the workspace-groups half of the state.
type WorkspaceGroupStore interface {
	CollaboratorStore
	LinkWorkspaceGroup(ctx context.Context, g *GroupRecord) error
	WorkspaceGroup(ctx context.Context, id string) (*GroupRecord, error)
	WorkspaceGroups(ctx context.Context) ([]*GroupRecord, error)
	RenameWorkspaceGroup(ctx context.Context, g *GroupRecord) error
	UnlinkWorkspaceGroup(ctx context.Context, id string) error
	ChangeWorkspaceMembers(ctx context.Context, groupID string, ops []MemberOp, opts ChangeOptions) (int, error)
	WorkspaceGroupMembers(ctx context.Context, groupID string) ([]string, error)
	WorkspaceUserGroups(ctx context.Context, userIDs []string) (map[string][]string, error)
	WorkspaceGroupUsers(ctx context.Context) (map[string][]string, error)
	MissingCollaborators(ctx context.Context, ids []string) ([]string, error)
	EnqueueWorkspaceUsers(ctx context.Context, userIDs ...string) error
	DueWorkspacePending(ctx context.Context, limit int, settle time.Duration) ([]Pending, error)
	CompleteWorkspacePending(ctx context.Context, p Pending, failure string) (bool, error)
	RetryWorkspacePending(ctx context.Context, userID string, after time.Duration, cause string) (int, error)
	WorkspaceQueueStats(ctx context.Context) (QueueStats, error)
	LockWorkspaceUser(ctx context.Context, userID string, ttl time.Duration) (unlock func(), ok bool, err error)
	SetRoleLock(ctx context.Context, userID string, lock *RoleLock) error
	RoleLocks(ctx context.Context) ([]RoleLock, error)
	RoleLockCount(ctx context.Context) (int, error)
}

var _ WorkspaceGroupStore = (*RedisStore)(nil)
