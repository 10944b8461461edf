package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// UserRecord is what the bridge keeps per SCIM user of a site.
type UserRecord struct {
	ID            string          `json:"id"` // SCIM id, stable forever
	SiteID        string          `json:"siteId"`
	WebflowUserID string          `json:"webflowUserId,omitempty"`
	UserName      string          `json:"userName"` // as the IdP sent it (original case)
	ExternalID    string          `json:"externalId,omitempty"`
	Email         string          `json:"email"` // the Webflow email (original case)
	DisplayName   string          `json:"displayName,omitempty"`
	Active        bool            `json:"active"`
	SCIM          json.RawMessage `json:"scim,omitempty"`    // other SCIM attributes Webflow cannot hold, opaque to this package
	Webflow       json.RawMessage `json:"webflow,omitempty"` // last Webflow user snapshot, opaque
	// Tombstone marks a record whose deletion is queued (cascade from a
	// deleted collaborator): the membership worker deletes the Webflow user
	// and then the record.
	Tombstone bool `json:"tombstone,omitempty"`
	// Adopted marks a record rebuilt from Webflow (after Redis lost the
	// bridge's data): its SCIM attributes are a guess (userName = email)
	// until the IdP sends the user again.
	Adopted  bool      `json:"adopted,omitempty"`
	Version  int64     `json:"version"`
	Created  time.Time `json:"created"`
	Modified time.Time `json:"modified"`
	SyncedAt time.Time `json:"syncedAt"` // when last refreshed from Webflow
}

// Index names a lookup index of a site's users. The values are also the
// suffixes of the index keys, so they must never be renamed once data exists.
type Index string

const (
	// IndexUserName is unique per site and matched case-insensitively,
	// because IdPs (and the Okta SCIM test suite) treat userName that way.
	IndexUserName Index = "userName"
	// IndexExternalID is unique per site and matched exactly: it is the
	// IdP's own opaque identifier.
	IndexExternalID Index = "externalId"
	// IndexEmail is unique per site and matched case-insensitively, because
	// Webflow refuses two users whose emails differ only in case.
	IndexEmail Index = "email"
	// IndexWebflowID is unique per site and matched exactly; it is the
	// reverse of the SCIM id → Webflow user id mapping.
	IndexWebflowID Index = "webflowId"
	// IndexDisplayName is not unique (two people may share a name) and is
	// matched case-insensitively; use LookupUserIDs with it.
	IndexDisplayName Index = "displayName"
)

// uniqueIndexes is the order in which unique indexes are checked and in which
// the Lua scripts receive their keys and values. It is a function, not a
// package variable, so nothing at package level is mutable.
func uniqueIndexes() [4]Index {
	return [4]Index{IndexUserName, IndexEmail, IndexExternalID, IndexWebflowID}
}

// Valid reports whether idx is one of the known indexes.
func (idx Index) Valid() bool {
	switch idx {
	case IndexUserName, IndexExternalID, IndexEmail, IndexWebflowID, IndexDisplayName:
		return true
	}
	return false
}

// Unique reports whether at most one user of a site may hold a given value.
func (idx Index) Unique() bool { return idx.Valid() && idx != IndexDisplayName }

// Sentinel errors. Callers test them with errors.Is; the returned errors wrap
// them with the site and id involved.
var (
	// ErrNotFound: no record with that id, or no record holds that index value.
	ErrNotFound = errors.New("state: not found")
	// ErrExists: CreateUser was given an id that is already in use.
	ErrExists = errors.New("state: already exists")
	// ErrVersionMismatch: ReplaceUser lost a race; re-read and try again.
	ErrVersionMismatch = errors.New("state: version mismatch")
	// ErrConflict: another record holds a unique index value. The concrete
	// error is a *ConflictError, which says which index and which record.
	ErrConflict = errors.New("state: unique value already taken")
	// ErrInvalid: the caller passed something the key scheme cannot hold
	// (bad site id, empty SCIM id, unknown index, invalid UTF-8, ...).
	ErrInvalid = errors.New("state: invalid argument")
)

// ConflictError says that another record of the same site already holds a
// unique index value, so the SCIM layer can answer 409 uniqueness.
type ConflictError struct {
	Index Index  // which unique index
	Value string // the value the caller tried to store (original case)
	ID    string // SCIM id of the record that holds it
	// Holder is that record, when the operation read it anyway
	// (ReserveCreate); nil otherwise.
	Holder *UserRecord
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("state: %s %q is already used by user %q", e.Index, e.Value, e.ID)
}

// Is makes errors.Is(err, ErrConflict) true for a *ConflictError.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Store is the bridge's view of the shared state. All methods are safe for
// concurrent use, also across processes sharing one Redis.
type Store interface {
	// CreateUser stores a new record. It sets Version to 1 and Created and
	// Modified to now when they are zero, and generates a random ID when ID
	// is empty. ErrExists if the id is in use; *ConflictError if the
	// userName, email, externalId or webflowUserId is taken in that site.
	// rec is only updated on success.
	CreateUser(ctx context.Context, rec *UserRecord) error
	// GetUser returns the record or ErrNotFound.
	GetUser(ctx context.Context, siteID, id string) (*UserRecord, error)
	// ReplaceUser overwrites the record if its stored version still equals
	// rec.Version (the version the caller read). On success rec.Version is
	// incremented and Modified set to now. Every other field, Created
	// included, is stored as given: pass the record you read, modified.
	// Errors: ErrVersionMismatch, *ConflictError, ErrNotFound.
	ReplaceUser(ctx context.Context, rec *UserRecord) error
	// DeleteUser removes the record and all of its index entries; ErrNotFound.
	DeleteUser(ctx context.Context, siteID, id string) error
	// FindUser resolves a unique index value to its record in one round
	// trip; ErrNotFound if nobody holds it.
	FindUser(ctx context.Context, siteID string, idx Index, value string) (*UserRecord, error)
	// LookupUserIDs returns the ids holding a value of any index, including
	// the non-unique displayName. No match is an empty slice, not an error.
	// A displayName is found by a 52-bit hash (dnScore): with a chance of
	// 2^-52 per pair of names, the ids of another name come too, so
	// callers re-check the records' displayName.
	LookupUserIDs(ctx context.Context, siteID string, idx Index, value string) ([]string, error)
	// ListUserIDs pages through a site's users in creation order (0-based
	// offset) and returns the total count from the same snapshot.
	ListUserIDs(ctx context.Context, siteID string, offset, count int) (ids []string, total int, err error)
	// GetUsers fetches records in one round trip, in the given order;
	// missing ids are skipped.
	GetUsers(ctx context.Context, siteID string, ids []string) ([]*UserRecord, error)
	// CountUsers returns the number of users of the site.
	CountUsers(ctx context.Context, siteID string) (int, error)
	// Ping checks that the backend answers, for readiness probes.
	Ping(ctx context.Context) error
}
