package state

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// The record encoding. A site's users hash holds one JSON document per SCIM
// id, and at 10,000+ users that document is most of the Redis memory a user
// costs (jemalloc rounds it up to its size class), so it is kept compact:
//
//	v          version; always the first key, which marks the format
//	u          userName
//	e          email; absent when it equals userName byte for byte
//	w          webflowUserId; absent when it equals the SCIM id (the
//	           bridge uses the Webflow id as SCIM id), "" when there is none
//	x, d       externalId, displayName (omitted when empty)
//	a          active (omitted when false)
//	c, s       created, syncedAt: Unix nanoseconds (omitted when zero)
//	m          modified, likewise; omitted when it equals created (a record
//	           never replaced). Every record the store wrote before has it,
//	           as the store always sets it (never zero).
//	sc, wf     the SCIM attributes and the Webflow snapshot, opaque
//	tombstone, adopted  (omitted when false)
//	_ix        only the normalised index values that differ from the stored
//	           originals (lower-cased userName or email); the scripts fall
//	           back to the originals for the others. Records written before
//	           the dnScore index also have the displayName hash here, which
//	           names their entry in the previous displayName index.
//
// The SCIM id is the hash field and the site id is in the key; neither is
// repeated. Records written before this format ({"id":...,"siteId":...,
// "_ix":{every value}}) still decode, and the scripts still unindex them from
// their full _ix; they are rewritten in this format on their next write.

// recordDoc is the stored form of a UserRecord. Field order matters: "v" must
// come first (recordFormat).
type recordDoc struct {
	Version     int64           `json:"v"`
	UserName    string          `json:"u,omitempty"`
	Email       *string         `json:"e,omitempty"`
	WebflowID   *string         `json:"w,omitempty"`
	ExternalID  string          `json:"x,omitempty"`
	DisplayName string          `json:"d,omitempty"`
	Active      bool            `json:"a,omitempty"`
	Created     unixNano        `json:"c,omitzero"`
	Modified    *unixNano       `json:"m,omitempty"` // nil: Created
	SyncedAt    unixNano        `json:"s,omitzero"`
	SCIM        json.RawMessage `json:"sc,omitempty"`
	Webflow     json.RawMessage `json:"wf,omitempty"`
	Tombstone   bool            `json:"tombstone,omitempty"`
	Adopted     bool            `json:"adopted,omitempty"`
	Ix          *storedIx       `json:"_ix,omitempty"`
}

// recordFormat is how every document of the compact format starts; the
// previous format started with {"id":.
const recordFormat = `{"v":`

// compactIx returns the part of the full index values that the scripts
// cannot take from the stored originals: a normalised value that differs
// from its original. It returns nil when nothing is left.
func compactIx(rec *UserRecord, full storedIx) *storedIx {
	var ix storedIx
	if full.UserName != rec.UserName {
		ix.UserName = full.UserName
	}
	if full.Email != rec.Email {
		ix.Email = full.Email
	}
	if ix == (storedIx{}) {
		return nil
	}
	return &ix
}

// encodeRecord returns the stored document of rec, whose full index values
// are ix.
func encodeRecord(rec *UserRecord, ix storedIx) ([]byte, error) {
	doc := recordDoc{
		Version: rec.Version, UserName: rec.UserName, ExternalID: rec.ExternalID, DisplayName: rec.DisplayName,
		Active: rec.Active, Created: unixNano{rec.Created}, SyncedAt: unixNano{rec.SyncedAt},
		SCIM: rec.SCIM, Webflow: rec.Webflow, Tombstone: rec.Tombstone, Adopted: rec.Adopted,
		Ix: compactIx(rec, ix),
	}
	if !rec.Modified.Equal(rec.Created) {
		doc.Modified = &unixNano{rec.Modified}
	}
	if rec.Email != rec.UserName {
		doc.Email = &rec.Email
	}
	if rec.WebflowUserID != rec.ID {
		doc.WebflowID = &rec.WebflowUserID
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("state: encode user %q: %w", rec.ID, err)
	}
	return b, nil
}

// DecodeStored decodes a JSON document the bridge itself stored (a user
// record, its SCIM attributes, its Webflow snapshot) into v. It is the
// hottest decode of every request, so it uses the encoding/json/v2 engine
// (go-json-experiment/json), which reads a document in one pass where
// encoding/json validates it first and then decodes it: about 2.5× faster
// on a user record (BenchmarkDecodeStored). It accepts what encoding/json
// accepted: invalid UTF-8, duplicate names (the last wins) and names in
// another case. Input from outside (requests, Webflow's answers) keeps
// encoding/json.
func DecodeStored(doc []byte, v any) error {
	return jsonv2.Unmarshal(doc, v, jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true), jsonv2.MatchCaseInsensitiveNames(true))
}

// decodeRecord decodes a stored document of either format. The SCIM id and
// the site id come from where the document was found.
func decodeRecord(siteID, id, doc string) (*UserRecord, error) {
	if !strings.HasPrefix(doc, recordFormat) {
		var rec UserRecord // the previous format: the UserRecord JSON plus _ix
		if err := DecodeStored([]byte(doc), &rec); err != nil {
			return nil, fmt.Errorf("state: decode stored user %q: %w", id, err)
		}
		return &rec, nil
	}
	var d recordDoc
	if err := DecodeStored([]byte(doc), &d); err != nil {
		return nil, fmt.Errorf("state: decode stored user %q: %w", id, err)
	}
	rec := &UserRecord{
		ID: id, SiteID: siteID, WebflowUserID: id, UserName: d.UserName, ExternalID: d.ExternalID,
		Email: d.UserName, DisplayName: d.DisplayName, Active: d.Active, SCIM: d.SCIM, Webflow: d.Webflow,
		Tombstone: d.Tombstone, Adopted: d.Adopted, Version: d.Version,
		Created: d.Created.Time, Modified: d.Created.Time, SyncedAt: d.SyncedAt.Time,
	}
	if d.Modified != nil {
		rec.Modified = d.Modified.Time
	}
	if d.Email != nil {
		rec.Email = *d.Email
	}
	if d.WebflowID != nil {
		rec.WebflowUserID = *d.WebflowID
	}
	return rec, nil
}

// unixNano is a time stored as an integer of Unix nanoseconds, which keeps
// the full precision of Created and Modified (the SCIM layer sorts by
// Created) in 19 digits instead of a 30-byte RFC 3339 string. A time int64
// nanoseconds cannot hold (before 1678 or after 2262) is stored as an
// RFC 3339 string instead, so nothing is lost. Decoded times are in UTC.
type unixNano struct{ time.Time }

// MarshalJSON implements json.Marshaler.
func (t unixNano) MarshalJSON() ([]byte, error) {
	if n := t.UnixNano(); time.Unix(0, n).Equal(t.Time) {
		return strconv.AppendInt(nil, n, 10), nil
	}
	return t.UTC().MarshalJSON()
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *unixNano) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var v time.Time
		if err := v.UnmarshalJSON(b); err != nil {
			return err
		}
		t.Time = v.UTC()
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("state: stored time %s: %w", b, err)
	}
	t.Time = time.Unix(0, n).UTC()
	return nil
}
