package state

import (
	"context"
	"errors"
	"testing"
)

func runCollaboratorConformance(t *testing.T, s CollaboratorStore) {
	ctx := context.Background()
	if err := s.RecordCollaborator(ctx, Collaborator{ID: "c1", Email: "Ada@Example.com", Active: true}); err != nil {
		t.Fatal(err)
	}
	c, err := s.CollaboratorByEmail(ctx, "ada@example.COM")
	if err != nil || c.ID != "c1" || !c.Active || c.SeenAt.IsZero() {
		t.Fatalf("%+v %v", c, err)
	}
	// An email change moves the index.
	s.RecordCollaborator(ctx, Collaborator{ID: "c1", Email: "ada@new.example", Active: false})
	if _, err := s.CollaboratorByEmail(ctx, "ada@example.com"); !errors.Is(err, ErrNotFound) {
		t.Errorf("old email still indexed: %v", err)
	}
	if c, _ := s.Collaborator(ctx, "c1"); c.Active || c.Email != "ada@new.example" {
		t.Errorf("%+v", c)
	}
	if err := s.ForgetCollaborator(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CollaboratorByEmail(ctx, "ada@new.example"); !errors.Is(err, ErrNotFound) {
		t.Errorf("forgotten: %v", err)
	}
	if err := s.RecordCollaborator(ctx, Collaborator{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty id: %v", err)
	}
}

func TestCollaboratorsMiniredis(t *testing.T) {
	for _, cluster := range []bool{false, true} {
		_, rdb := newMiniredisClient(t, cluster)
		runCollaboratorConformance(t, NewRedisStore(rdb, Options{}))
	}
}

func TestCollaboratorsRedis(t *testing.T) {
	rdb := realRedis(t)
	prefix := "wfbtest-c-" + randomHex(t, 6)
	t.Cleanup(func() { deletePrefix(t, rdb, prefix) })
	runCollaboratorConformance(t, NewRedisStore(rdb, Options{Prefix: prefix}))
}
