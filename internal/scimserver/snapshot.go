package scimserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// The two opaque blobs of a state.UserRecord are encoded here, and only
// here: the record is most of the Redis memory a user costs, so neither blob
// repeats what the record already holds.
//
// The SCIM blob is the mapping.User JSON without what the record holds
// (userName, active, externalId, displayName, and an email value equal to
// the record's email), with short keys for name and emails (scimDoc):
//
//	n  name {f formatted, l familyName, g givenName, m middleName,
//	   p honorificPrefix, s honorificSuffix}; always the first key, which
//	   tells it from the earlier formats (they start with "userName",
//	   "externalId", "displayName" or "name")
//	e  emails [{v value, t type, p primary}]; v absent: the record's email
//	x, d  externalId, displayName; only when they differ from the record's
//	      (FillRecord keeps them equal)
//
// and the other attributes of mapping.User under their SCIM names.
//
// The Webflow snapshot keeps what the bridge reads back (status,
// isEmailVerified, access groups, data, the dates) under short keys, with
// the dates as Unix milliseconds (Webflow's own precision):
//
//	f  format (1); always the first key, which tells it from the previous
//	   format, the full webflowdata.User JSON
//	id only when it differs from the record's webflowUserId
//	s  status, ev isEmailVerified, g access groups [{s: slug, t: type}]
//	d  data, without data.email when it equals the record's email, and
//	   without what b says; ne true when data had no email at all
//	b  bits (snapshotBits) of what is left out: the two consent flags of
//	   data (every Webflow user has them), data.name when it equals the
//	   record's displayName, isEmailVerified when true, a status Webflow
//	   documents, lastUpdated when it equals createdOn
//	c, u, i, l  createdOn, lastUpdated, invitedOn, lastLogin
//
// Because the blobs lean on the record's fields, they are encoded against
// the values stored next to them (FillRecord re-encodes both whenever it
// changes any of them).

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
	Bits      snapshotBits         `json:"b,omitempty"`
	CreatedOn unixMilli            `json:"c,omitzero"`
	Updated   unixMilli            `json:"u,omitzero"`
	InvitedOn unixMilli            `json:"i,omitzero"`
	LastLogin unixMilli            `json:"l,omitzero"`
}

type snapshotGroup struct {
	Slug string `json:"s"`
	Type string `json:"t,omitempty"`
}

// snapshotBits are what a snapshot leaves out, each with its value.
type snapshotBits uint16

const (
	bitPrivacyFalse      snapshotBits = 1 << iota // data.accept-privacy: false
	bitPrivacyTrue                                // data.accept-privacy: true
	bitCommsFalse                                 // data.accept-communications: false
	bitCommsTrue                                  // data.accept-communications: true
	bitNameIsDisplayName                          // data.name: the record's displayName
	bitEmailVerified                              // isEmailVerified: true
	bitStatusVerified                             // status: verified
	bitStatusInvited                              // status: invited
	bitStatusUnverified                           // status: unverified
	bitUpdatedIsCreated                           // lastUpdated: createdOn
)

// statusBits are the statuses Webflow documents, stored as a bit.
func statusBits() [3]struct {
	bit    snapshotBits
	status string
} {
	return [3]struct {
		bit    snapshotBits
		status string
	}{{bitStatusVerified, webflowdata.StatusVerified}, {bitStatusInvited, webflowdata.StatusInvited}, {bitStatusUnverified, webflowdata.StatusUnverified}}
}

// encodeSnapshot encodes wu for the record rec (its webflowUserId, email
// and displayName).
func encodeSnapshot(wu *webflowdata.User, rec *state.UserRecord) (json.RawMessage, error) {
	d := snapshotDoc{
		Format: 1, Status: wu.Status,
		CreatedOn: unixMilli{wu.CreatedOn}, Updated: unixMilli{wu.LastUpdated},
		InvitedOn: unixMilli{wu.InvitedOn}, LastLogin: unixMilli{wu.LastLogin},
	}
	if wu.IsEmailVerified {
		d.Bits |= bitEmailVerified
	}
	for _, sb := range statusBits() {
		if wu.Status == sb.status {
			d.Bits |= sb.bit
			d.Status = ""
		}
	}
	// Equal at Webflow's (and the snapshot's) millisecond precision.
	if !wu.CreatedOn.IsZero() && wu.LastUpdated.UnixMilli() == wu.CreatedOn.UnixMilli() {
		d.Bits |= bitUpdatedIsCreated
		d.Updated = unixMilli{}
	}
	if wu.ID != rec.WebflowUserID {
		d.ID = &wu.ID
	}
	for _, g := range wu.AccessGroups {
		d.Groups = append(d.Groups, snapshotGroup(g))
	}
	if _, ok := wu.Data[webflowdata.DataEmail]; !ok {
		d.NoEmail = true
	}
	d.Data = make(webflowdata.UserData, len(wu.Data))
	for k, v := range wu.Data {
		switch b, isBool := v.(bool); {
		case k == webflowdata.DataEmail && v == any(rec.Email):
		case k == webflowdata.DataAcceptPrivacy && isBool:
			d.Bits |= pick(b, bitPrivacyTrue, bitPrivacyFalse)
		case k == webflowdata.DataAcceptCommunications && isBool:
			d.Bits |= pick(b, bitCommsTrue, bitCommsFalse)
		case k == webflowdata.DataName && v == any(rec.DisplayName):
			d.Bits |= bitNameIsDisplayName
		default:
			d.Data[k] = v
		}
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encoding the Webflow snapshot of %q: %w", wu.ID, err)
	}
	return b, nil
}

func pick(b bool, t, f snapshotBits) snapshotBits {
	if b {
		return t
	}
	return f
}

// decodeSnapshot decodes a snapshot of either format stored with the
// record rec.
func decodeSnapshot(raw json.RawMessage, rec *state.UserRecord) (*webflowdata.User, error) {
	if !bytes.HasPrefix(raw, []byte(snapshotFormat)) { // not string(raw): that copies raw
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
		ID: rec.WebflowUserID, IsEmailVerified: d.Verified, Status: d.Status, Data: d.Data,
		CreatedOn: d.CreatedOn.Time, LastUpdated: d.Updated.Time, InvitedOn: d.InvitedOn.Time, LastLogin: d.LastLogin.Time,
		AccessGroups: make([]webflowdata.AccessGroupRef, 0, len(d.Groups)),
	}
	if d.ID != nil {
		w.ID = *d.ID
	}
	if d.Bits&bitEmailVerified != 0 {
		w.IsEmailVerified = true
	}
	for _, sb := range statusBits() {
		if d.Bits&sb.bit != 0 {
			w.Status = sb.status
		}
	}
	if d.Bits&bitUpdatedIsCreated != 0 {
		w.LastUpdated = w.CreatedOn
	}
	for _, g := range d.Groups {
		w.AccessGroups = append(w.AccessGroups, webflowdata.AccessGroupRef(g))
	}
	if w.Data == nil {
		w.Data = webflowdata.UserData{}
	}
	if _, ok := w.Data[webflowdata.DataEmail]; !ok && !d.NoEmail {
		w.Data[webflowdata.DataEmail] = rec.Email
	}
	for _, f := range []struct {
		bit snapshotBits
		key string
		v   any
	}{
		{bitPrivacyFalse, webflowdata.DataAcceptPrivacy, false}, {bitPrivacyTrue, webflowdata.DataAcceptPrivacy, true},
		{bitCommsFalse, webflowdata.DataAcceptCommunications, false}, {bitCommsTrue, webflowdata.DataAcceptCommunications, true},
	} {
		if d.Bits&f.bit != 0 {
			w.Data[f.key] = f.v
		}
	}
	if d.Bits&bitNameIsDisplayName != 0 { // boxed only when set
		w.Data[webflowdata.DataName] = rec.DisplayName
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

// scimDoc is the SCIM blob (see the top of this file). Its shallower
// userName, active, externalId, displayName, name and emails hide the
// embedded ones from encoding/json and are always empty, so none of them
// is written under its SCIM name.
type scimDoc struct {
	Name        scimName    `json:"n"` // first, always: marks the format
	Emails      []scimEmail `json:"e,omitempty"`
	ExternalID  *string     `json:"x,omitempty"`
	DisplayName *string     `json:"d,omitempty"`
	mapping.User
	UserName    string    `json:"userName,omitempty"`
	Active      bool      `json:"active,omitempty"`
	HideExtID   string    `json:"externalId,omitempty"`
	HideDisplay string    `json:"displayName,omitempty"`
	HideName    *struct{} `json:"name,omitempty"`
	HideEmails  *struct{} `json:"emails,omitempty"`
}

// scimFormat is how every SCIM blob of the current format starts.
const scimFormat = `{"n":`

type scimName struct {
	Formatted       string `json:"f,omitempty"`
	FamilyName      string `json:"l,omitempty"`
	GivenName       string `json:"g,omitempty"`
	MiddleName      string `json:"m,omitempty"`
	HonorificPrefix string `json:"p,omitempty"`
	HonorificSuffix string `json:"s,omitempty"`
}

type scimEmail struct {
	Value   *string `json:"v,omitempty"` // nil: the record's email
	Type    string  `json:"t,omitempty"`
	Primary bool    `json:"p,omitempty"`
}

// encodeSCIM encodes u for the record rec (its externalId, displayName and
// email).
func encodeSCIM(u mapping.User, rec *state.UserRecord) json.RawMessage {
	d := scimDoc{User: u, Name: scimName(u.Name)}
	d.User.Name, d.User.Emails = mapping.Name{}, nil
	for _, e := range u.Emails {
		se := scimEmail{Type: e.Type, Primary: e.Primary}
		if e.Value != rec.Email {
			se.Value = &e.Value
		}
		d.Emails = append(d.Emails, se)
	}
	if u.ExternalID != rec.ExternalID {
		d.ExternalID = &u.ExternalID
	}
	if u.DisplayName != rec.DisplayName {
		d.DisplayName = &u.DisplayName
	}
	b, _ := json.Marshal(d) // cannot fail: strings, bools and the data map of a decoded request
	return b
}

// decodeSCIM decodes the SCIM blob of rec, of any format, without its
// userName and active (decodeUser adds them).
func decodeSCIM(rec *state.UserRecord) mapping.User {
	if len(rec.SCIM) == 0 {
		return mapping.User{}
	}
	if !bytes.HasPrefix(rec.SCIM, []byte(scimFormat)) {
		var old mapping.User
		_ = state.DecodeStored(rec.SCIM, &old) // an earlier format: mapping.User JSON
		return old
	}
	var d scimDoc
	_ = state.DecodeStored(rec.SCIM, &d)
	u := d.User
	u.UserName, u.Active = "", false
	u.Name = mapping.Name(d.Name)
	u.ExternalID, u.DisplayName = rec.ExternalID, rec.DisplayName
	if d.ExternalID != nil {
		u.ExternalID = *d.ExternalID
	}
	if d.DisplayName != nil {
		u.DisplayName = *d.DisplayName
	}
	for _, e := range d.Emails {
		me := mapping.Email{Value: rec.Email, Type: e.Type, Primary: e.Primary}
		if e.Value != nil {
			me.Value = *e.Value
		}
		u.Emails = append(u.Emails, me)
	}
	return u
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
	rec.UserName = u.UserName
	rec.ExternalID = u.ExternalID
	rec.DisplayName = u.DisplayName
	rec.Email = email
	rec.SCIM = encodeSCIM(u, rec)
	if wu != nil {
		rec.WebflowUserID = wu.ID
		rec.SyncedAt = now
	}
	if snap != nil {
		rec.Webflow, _ = encodeSnapshot(snap, rec)
	}
}
