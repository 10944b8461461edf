package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Workspace collaborators live in Webflow's native SCIM, behind the
// passthrough. The bridge records each native SCIM user id ↔ lower-cased
// email it sees go by, so collaborator and site Membership identities can
// be joined on email (identity lookup, cascade deprovisioning).
//
// Keys (one hash tag for the workspace):
//
//	{w}:collab        HASH native SCIM id → Collaborator JSON
//	{w}:collab:email  HASH lower(email) → native SCIM id

// Collaborator is what the bridge knows of a workspace collaborator.
type Collaborator struct {
	ID       string    `json:"id"` // native SCIM id
	Email    string    `json:"email"`
	UserName string    `json:"userName,omitempty"`
	Active   bool      `json:"active"`
	SeenAt   time.Time `json:"seenAt"`
}

func (s *RedisStore) collabKeys() (string, string) {
	return s.prefix + ":{w}:collab", s.prefix + ":{w}:collab:email"
}

// RecordCollaborator stores or updates a collaborator link.
func (s *RedisStore) RecordCollaborator(ctx context.Context, c Collaborator) error {
	if c.ID == "" {
		return fmt.Errorf("%w: collaborator id is required", ErrInvalid)
	}
	byID, byEmail := s.collabKeys()
	if c.SeenAt.IsZero() {
		c.SeenAt = s.now().UTC()
	}
	doc, _ := json.Marshal(c)
	return s.rdb.Watch(ctx, func(tx *redis.Tx) error {
		var old Collaborator
		if raw, err := tx.HGet(ctx, byID, c.ID).Result(); err == nil {
			_ = json.Unmarshal([]byte(raw), &old)
		} else if !errors.Is(err, redis.Nil) {
			return err
		}
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			if old.Email != "" && !strings.EqualFold(old.Email, c.Email) {
				p.HDel(ctx, byEmail, strings.ToLower(old.Email))
			}
			p.HSet(ctx, byID, c.ID, doc)
			if c.Email != "" {
				p.HSet(ctx, byEmail, strings.ToLower(c.Email), c.ID)
			}
			return nil
		})
		return err
	}, byID)
}

// Collaborator returns a collaborator by native SCIM id, or ErrNotFound.
func (s *RedisStore) Collaborator(ctx context.Context, id string) (*Collaborator, error) {
	byID, _ := s.collabKeys()
	return hgetJSON[Collaborator](ctx, s.rdb, byID, id, "collaborator")
}

// CollaboratorByEmail returns a collaborator by email (case-insensitive).
func (s *RedisStore) CollaboratorByEmail(ctx context.Context, email string) (*Collaborator, error) {
	_, byEmail := s.collabKeys()
	id, err := s.rdb.HGet(ctx, byEmail, strings.ToLower(strings.TrimSpace(email))).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.Collaborator(ctx, id)
}

// ForgetCollaborator removes a collaborator link (after a confirmed delete).
func (s *RedisStore) ForgetCollaborator(ctx context.Context, id string) error {
	c, err := s.Collaborator(ctx, id)
	if err != nil {
		return err
	}
	byID, byEmail := s.collabKeys()
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, byID, id)
		if c.Email != "" {
			p.HDel(ctx, byEmail, strings.ToLower(c.Email))
		}
		return nil
	})
	return err
}

// CollaboratorStore is the workspace half of the state.
type CollaboratorStore interface {
	RecordCollaborator(ctx context.Context, c Collaborator) error
	Collaborator(ctx context.Context, id string) (*Collaborator, error)
	CollaboratorByEmail(ctx context.Context, email string) (*Collaborator, error)
	ForgetCollaborator(ctx context.Context, id string) error
}

var _ CollaboratorStore = (*RedisStore)(nil)
