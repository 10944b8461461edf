package scimserver

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// The two opaque blobs of a state.UserRecord are encoded here, and only
// here: the record is most of the Redis memory a user costs, so neither blob
// repeats what the record already holds.
//
// The SCIM blob is the mapping.User JSON without userName and active, which
// decodeUser restores from the record.
//
// The Webflow snapshot keeps what the bridge reads back (status,
// isEmailVerified, access groups, data, the dates) under short keys, with
// the dates as Unix milliseconds (Webflow's own precision):
//
//	f  format (1); always the first key, which tells it from the previous
//	   format, the full webflowdata.User JSON
//	id only when it differs from the record's webflowUserId
//	s  status, ev isEmailVerified, g access groups [{s: slug, t: type}]
//	d  data, without data.email when it equals the record's email;
//	   ne true when data had no email at all
//	c, u, i, l  createdOn, lastUpdated, invitedOn, lastLogin
//
// Because the snapshot leans on the record's webflowUserId and email, it is
// encoded against the values stored next to it (FillRecord re-encodes it
// whenever it changes either).

// snapshotFormat is how every snapshot of the compact format starts.
const snapshotFormat = `{"f":1`

type snapshotDoc struct {
	Format    int                  `json:"f"`
	ID        *string              `json:"id,omitempty"`
	Status    string               `json:"s,omitempty"`
	Verified  bool                 `json:"ev,omitempty"`
	Groups    []snapshotGroup      `json:"g,omitempty"`
	Data      webflowdata.UserData `json:"d,omitempty"`
	NoEmail   bool                 `json:"ne,omitempty"`
	CreatedOn unixMilli            `json:"c,omitzero"`
	Updated   unixMilli            `json:"u,omitzero"`
	InvitedOn unixMilli            `json:"i,omitzero"`
	LastLogin unixMilli            `json:"l,omitzero"`
}

type snapshotGroup struct {
	Slug string `json:"s"`
	Type string `json:"t,omitempty"`
}

// encodeSnapshot encodes wu for a record whose webflowUserId and email are
// webflowUserID and email.
func encodeSnapshot(wu *webflowdata.User, webflowUserID, email string) (json.RawMessage, error) {
	d := snapshotDoc{
		Format: 1, Status: wu.Status, Verified: wu.IsEmailVerified,
		CreatedOn: unixMilli{wu.CreatedOn}, Updated: unixMilli{wu.LastUpdated},
		InvitedOn: unixMilli{wu.InvitedOn}, LastLogin: unixMilli{wu.LastLogin},
	}
	if wu.ID != webflowUserID {
		d.ID = &wu.ID
	}
	for _, g := range wu.AccessGroups {
		d.Groups = append(d.Groups, snapshotGroup(g))
	}
	d.Data = wu.Data
	switch e, ok := wu.Data[webflowdata.DataEmail]; {
	case !ok:
		d.NoEmail = true
	case e == email:
		d.Data = make(webflowdata.UserData, len(wu.Data)-1)
		for k, v := range wu.Data {
			if k != webflowdata.DataEmail {
				d.Data[k] = v
			}
		}
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encoding the Webflow snapshot of %q: %w", wu.ID, err)
	}
	return b, nil
}

// decodeSnapshot decodes a snapshot of either format stored with a record
// whose webflowUserId and email are webflowUserID and email.
func decodeSnapshot(raw json.RawMessage, webflowUserID, email string) (*webflowdata.User, error) {
	if !strings.HasPrefix(string(raw), snapshotFormat) {
		var w webflowdata.User
		if err := state.DecodeStored(raw, &w); err != nil {
			return nil, err
		}
		return &w, nil
	}
	var d snapshotDoc
	if err := state.DecodeStored(raw, &d); err != nil {
		return nil, fmt.Errorf("decoding a Webflow snapshot: %w", err)
	}
	w := &webflowdata.User{
		ID: webflowUserID, IsEmailVerified: d.Verified, Status: d.Status, Data: d.Data,
		CreatedOn: d.CreatedOn.Time, LastUpdated: d.Updated.Time, InvitedOn: d.InvitedOn.Time, LastLogin: d.LastLogin.Time,
		AccessGroups: make([]webflowdata.AccessGroupRef, 0, len(d.Groups)),
	}
	if d.ID != nil {
		w.ID = *d.ID
	}
	for _, g := range d.Groups {
		w.AccessGroups = append(w.AccessGroups, webflowdata.AccessGroupRef(g))
	}
	if w.Data == nil {
		w.Data = webflowdata.UserData{}
	}
	if _, ok := w.Data[webflowdata.DataEmail]; !ok && !d.NoEmail {
		w.Data[webflowdata.DataEmail] = email
	}
	return w, nil
}

// unixMilli is a Webflow time stored as Unix milliseconds.
type unixMilli struct{ webflowdata.Time }

// MarshalJSON implements json.Marshaler.
func (t unixMilli) MarshalJSON() ([]byte, error) {
	return strconv.AppendInt(nil, t.UnixMilli(), 10), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *unixMilli) UnmarshalJSON(b []byte) error {
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("stored Webflow time %s: %w", b, err)
	}
	t.Time = webflowdata.Time{Time: time.UnixMilli(n).UTC()}
	return nil
}

// storedSCIM is the SCIM blob: the shallower userName and active hide the
// embedded ones from encoding/json and are always empty, so neither is
// written (decodeUser restores both from the record).
type storedSCIM struct {
	mapping.User
	UserName string `json:"userName,omitempty"`
	Active   bool   `json:"active,omitempty"`
}

// FillRecord writes the SCIM user u, its Webflow email and, when not nil,
// the Webflow user wu (fetched at now) into rec, keeping the indexed fields
// in step with the blobs. It is the one encoder of the record's SCIM blob
// and Webflow snapshot; the bench preload uses it too, so that it stores what
// the bridge stores.
func FillRecord(rec *state.UserRecord, u mapping.User, email string, wu *webflowdata.User, now time.Time) {
	snap := wu
	if snap == nil {
		snap = decodeWebflow(rec) // kept, but encoded against the new email
	}
	rec.SCIM, _ = json.Marshal(storedSCIM{User: u})
	rec.UserName = u.UserName
	rec.ExternalID = u.ExternalID
	rec.DisplayName = u.DisplayName
	rec.Email = email
	if wu != nil {
		rec.WebflowUserID = wu.ID
		rec.SyncedAt = now
	}
	if snap != nil {
		rec.Webflow, _ = encodeSnapshot(snap, rec.WebflowUserID, rec.Email)
	}
}
