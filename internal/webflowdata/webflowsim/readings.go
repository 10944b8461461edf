package webflowsim

import (
	"fmt"
	"sort"
	"strings"
)

// Readings holds the simulator's answer to every point the Enterprise
// reference (webflow-enterprise-api.md §3-4, §8) leaves unknown. Each field
// has two (or three) readings; the zero value of every field is the
// default, the safe reading: the one a client built only against it is
// least likely to be surprised by on a real Webflow (it fails loudly, or it
// makes the client take the longer, always-correct path). Tests that want
// the other reading set it in Options.Readings or through PUT
// /_sim/readings. Any value other than the alternatives named below is the
// default.
type Readings struct {
	// SuccessCodes: "" or "distinct": a new invite and a grant answer 201,
	// a matching (repeat) invite 200, remove and revoke 204 without a body.
	// "ok": every success is 200 (DELETEs with an empty body).
	SuccessCodes string `json:"successCodes,omitempty"`
	// ErrorCodes on the single-item endpoints: "" or "specific": the
	// documented bulk per-item codes (workspace_member_not_found,
	// workspace_member_managed_by_scim, invalid_site_role,
	// cannot_update_user_role, ...) as the error envelope's code.
	// "generic": the Data API's generic codes instead (resource_not_found,
	// conflict, validation_error), the specific meaning only in the message.
	// member_already_has_access and not_enterprise_plan_workspace are
	// documented and the same under both.
	ErrorCodes string `json:"errorCodes,omitempty"`
	// BulkRemoveOutcome: "" or "removed": every removed member and cancelled
	// invite has outcome "removed"; summary {removed, failed}. "cancelled":
	// invites report "cancelled" and the summary adds a cancelled count.
	BulkRemoveOutcome string `json:"bulkRemoveOutcome,omitempty"`
	// SiteListImplicit: "" or "listed": List Site Members includes owners
	// and admins (as site_manager) and, on a site open to the workspace,
	// every member and reviewer with their default site role, as Webflow's
	// list example does. "omitted": only explicit grants are listed.
	SiteListImplicit string `json:"siteListImplicit,omitempty"`
	// OpenSiteGrant: "" or "already_has_access": a grant on a site open to
	// the workspace, to someone who has implicit access there, is 409
	// member_already_has_access (the client must fall through to PATCH).
	// "creates": it creates an explicit grant like on a restricted site.
	OpenSiteGrant string `json:"openSiteGrant,omitempty"`
	// OpenSiteRevoke: "" or "resets": revoke on an open site drops the
	// explicit per-site role; the member keeps implicit access with their
	// default role (so a revoke does not remove access). "refused": 409
	// conflict, nothing changes. "removes": the member loses access to the
	// site until granted again.
	OpenSiteRevoke string `json:"openSiteRevoke,omitempty"`
	// NonMember: a Site Access grant or PATCH naming a pending invitee or
	// an address that is no workspace member. "" or "not_found": 404
	// workspace_member_not_found. "validation": 400 validation_error.
	// (Revoke is documented: 404.)
	NonMember string `json:"nonMember,omitempty"`
	// NoAccessPatch: PATCH of a member without access to a restricted site.
	// "" or "not_found": 404 resource_not_found. "conflict": 409 conflict.
	NoAccessPatch string `json:"noAccessPatch,omitempty"`
	// SCIMLocksSiteAccess extends the SCIM-managed lock to Site Access
	// grant, PATCH and revoke (409 workspace_member_managed_by_scim).
	// Default false: only workspace role writes and removal are locked.
	SCIMLocksSiteAccess bool `json:"scimLocksSiteAccess,omitempty"`
	// SiteTokens: "" or "refused": only workspace tokens may call these
	// endpoints; a site token with the scope is 403 forbidden. "allowed":
	// a site token may call them, Site Access only for its own sites.
	SiteTokens string `json:"siteTokens,omitempty"`
	// EmailMatch for ?email= (lists, PATCH and DELETE by email) and a
	// grant by email: "" or "exact": the address must match as stored,
	// case included. "insensitive": any case matches. Uniqueness (one
	// member, one pending invite per person) is case-insensitive in both.
	EmailMatch string `json:"emailMatch,omitempty"`
	// RolesQuery: "" or "comma": roles=admin,member only; a repeated roles
	// key is 400 validation_error. "repeated": repeated keys are accepted
	// too (their union).
	RolesQuery string `json:"rolesQuery,omitempty"`
	// BulkPairErrors: a bulk update whose (role, defaultSiteRole) pair is
	// not in the §2.2 table. "" or "per_item": 200, every item failed with
	// invalid_site_role (or invalid_workspace_role). "request": 400 for
	// the whole request, nothing applied.
	BulkPairErrors string `json:"bulkPairErrors,omitempty"`
	// BulkSuccessError: "" or "example": successful bulk items also carry
	// an error object with a message, as Webflow's literal example does
	// (the schema says it is absent). "schema": no error on successes.
	BulkSuccessError string `json:"bulkSuccessError,omitempty"`
	// ClosedInvite: an invite of an address whose only invites are
	// declined or expired (whether Webflow makes a new one is not
	// documented). "" or "conflict": 409 conflict until the closed invite
	// is cancelled with bulk remove (a client that cancels and invites
	// again works under both readings). "new": a new pending invite; the
	// closed one stays listed.
	ClosedInvite string `json:"closedInvite,omitempty"`
}

// Reading values other than the defaults.
const (
	SuccessCodesOK          = "ok"
	ErrorCodesGeneric       = "generic"
	BulkRemoveCancelled     = "cancelled"
	SiteListOmitted         = "omitted"
	OpenSiteGrantCreates    = "creates"
	OpenSiteRevokeRefused   = "refused"
	OpenSiteRevokeRemoves   = "removes"
	NonMemberValidation     = "validation"
	NoAccessPatchConflict   = "conflict"
	SiteTokensAllowed       = "allowed"
	EmailMatchInsensitive   = "insensitive"
	RolesQueryRepeated      = "repeated"
	BulkPairErrorsRequest   = "request"
	BulkSuccessErrorSchema  = "schema"
	ClosedInviteNew         = "new"
	readingDefault          = ""
	readingDefaultSpelledAs = "default"
)

// readingChoices lists each string reading's allowed values, the default
// first (under its documented name).
var readingChoices = map[string][]string{
	"successCodes":      {"distinct", SuccessCodesOK},
	"errorCodes":        {"specific", ErrorCodesGeneric},
	"bulkRemoveOutcome": {"removed", BulkRemoveCancelled},
	"siteListImplicit":  {"listed", SiteListOmitted},
	"openSiteGrant":     {"already_has_access", OpenSiteGrantCreates},
	"openSiteRevoke":    {"resets", OpenSiteRevokeRefused, OpenSiteRevokeRemoves},
	"nonMember":         {"not_found", NonMemberValidation},
	"noAccessPatch":     {"not_found", NoAccessPatchConflict},
	"siteTokens":        {"refused", SiteTokensAllowed},
	"emailMatch":        {"exact", EmailMatchInsensitive},
	"rolesQuery":        {"comma", RolesQueryRepeated},
	"bulkPairErrors":    {"per_item", BulkPairErrorsRequest},
	"bulkSuccessError":  {"example", BulkSuccessErrorSchema},
	"closedInvite":      {"conflict", ClosedInviteNew},
}

func (r *Readings) fields() map[string]*string {
	return map[string]*string{
		"successCodes": &r.SuccessCodes, "errorCodes": &r.ErrorCodes, "bulkRemoveOutcome": &r.BulkRemoveOutcome,
		"siteListImplicit": &r.SiteListImplicit, "openSiteGrant": &r.OpenSiteGrant, "openSiteRevoke": &r.OpenSiteRevoke,
		"nonMember": &r.NonMember, "noAccessPatch": &r.NoAccessPatch, "siteTokens": &r.SiteTokens,
		"emailMatch": &r.EmailMatch, "rolesQuery": &r.RolesQuery, "bulkPairErrors": &r.BulkPairErrors,
		"bulkSuccessError": &r.BulkSuccessError, "closedInvite": &r.ClosedInvite,
	}
}

// Validate reports a value that is none of a field's readings. The
// default may also be given by its name (e.g. "exact") or as "default".
func (r Readings) Validate() error {
	var bad []string
	for name, p := range r.fields() {
		v := *p
		if v == readingDefault || v == readingDefaultSpelledAs {
			continue
		}
		ok := false
		for _, c := range readingChoices[name] {
			ok = ok || v == c
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("%s must be one of %s, not %q", name, strings.Join(readingChoices[name], ", "), v))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		return fmt.Errorf("readings: %s", strings.Join(bad, "; "))
	}
	return nil
}

// normalized spells every default as "" so the handlers compare against
// the alternative values only.
func (r Readings) normalized() Readings {
	for name, p := range r.fields() {
		if *p == readingDefaultSpelledAs || (len(readingChoices[name]) > 0 && *p == readingChoices[name][0]) {
			*p = readingDefault
		}
	}
	return r
}

// Readings returns the readings in force.
func (s *Simulator) Readings() Readings {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.readings
}

// SetReadings replaces the readings in force (it is the Go side of PUT
// /_sim/readings, which merges a partial object into the current ones).
func (s *Simulator) SetReadings(r Readings) error {
	if err := r.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	s.readings = r.normalized()
	s.mu.Unlock()
	return nil
}
