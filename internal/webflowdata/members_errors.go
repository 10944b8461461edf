package webflowdata

import (
	"errors"
	"net/http"
	"strings"
)

// Typed errors of the Enterprise Workspace Members and Site Access APIs.
// errors.Is matches them on an *APIError (a single call's answer) and on an
// *ItemError (one failed item of a bulk call), so one check covers both:
//
//	if errors.Is(err, webflowdata.ErrMemberManagedBySCIM) { ... }
var (
	ErrNotEnterpriseWorkspace  = errors.New("webflow: the workspace is not on an Enterprise plan (" + CodeNotEnterpriseWorkspace + ")")
	ErrMemberAlreadyHasAccess  = errors.New("webflow: the member already has access to the site (" + CodeMemberAlreadyHasAccess + ")")
	ErrMemberManagedBySCIM     = errors.New("webflow: the member is managed by the identity provider (" + CodeMemberManagedBySCIM + ")")
	ErrWorkspaceMemberNotFound = errors.New("webflow: no such workspace member (" + CodeWorkspaceMemberNotFound + ")")
	ErrWorkspaceInviteNotFound = errors.New("webflow: no such workspace invite (" + CodeWorkspaceInviteNotFound + ")")
	ErrInvalidWorkspaceRole    = errors.New("webflow: the workspace role is not valid for this member (" + CodeInvalidWorkspaceRole + ")")
	ErrInvalidSiteRole         = errors.New("webflow: the site role is not valid for this member (" + CodeInvalidSiteRole + ")")
	ErrCannotUpdateUserRole    = errors.New("webflow: this member cannot take the role (" + CodeCannotUpdateUserRole + ")")
)

var enterpriseSentinels = map[string]error{
	CodeNotEnterpriseWorkspace:  ErrNotEnterpriseWorkspace,
	CodeMemberAlreadyHasAccess:  ErrMemberAlreadyHasAccess,
	CodeMemberManagedBySCIM:     ErrMemberManagedBySCIM,
	CodeWorkspaceMemberNotFound: ErrWorkspaceMemberNotFound,
	CodeWorkspaceInviteNotFound: ErrWorkspaceInviteNotFound,
	CodeInvalidWorkspaceRole:    ErrInvalidWorkspaceRole,
	CodeInvalidSiteRole:         ErrInvalidSiteRole,
	CodeCannotUpdateUserRole:    ErrCannotUpdateUserRole,
}

// scimLockPhrase identifies the SCIM lock by its message. Whether the
// single-item endpoints answer it under its own code or a generic 409
// conflict is not documented (reference §8), and a missed lock would make
// the bridge retry a write Webflow will always refuse.
const scimLockPhrase = "managed by your identity provider"

// isEnterprise reports whether e answers target, one of the errors above.
func (e *APIError) isEnterprise(target error) bool {
	if s, ok := enterpriseSentinels[strings.ToLower(e.Code)]; ok && s == target {
		return true
	}
	return target == ErrMemberManagedBySCIM && e.Status == http.StatusConflict &&
		strings.Contains(strings.ToLower(e.Message), scimLockPhrase)
}

// ItemError is one failed item of a bulk call (BulkItemResult.Err).
type ItemError struct {
	ID      string
	Type    string // member or invite
	Code    string
	Message string
}

func (e *ItemError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "failed"
	}
	if e.Code != "" {
		return "webflow bulk " + e.Type + " " + e.ID + ": " + e.Code + ": " + msg
	}
	return "webflow bulk " + e.Type + " " + e.ID + ": " + msg
}

// Is matches the typed errors by code.
func (e *ItemError) Is(target error) bool {
	s, ok := enterpriseSentinels[strings.ToLower(e.Code)]
	return ok && s == target
}

// Retryable reports internal_error, the one per-item code Webflow says to
// retry; every other code is permanent for that id and that request.
func (e *ItemError) Retryable() bool { return strings.EqualFold(e.Code, CodeInternalError) }

// IsManagedBySCIM reports the SCIM lock, on a single call or a bulk item.
func IsManagedBySCIM(err error) bool { return errors.Is(err, ErrMemberManagedBySCIM) }

// IsMemberAlreadyHasAccess reports a grant to someone who has access: fall
// through to PATCH.
func IsMemberAlreadyHasAccess(err error) bool { return errors.Is(err, ErrMemberAlreadyHasAccess) }

// IsPermanentRoleError reports the per-member refusals the reference calls
// permanent: cannot_update_user_role (seats, owners, guests, clients),
// invalid_workspace_role, invalid_site_role and the not-found codes. They
// must be recorded, not retried.
func IsPermanentRoleError(err error) bool {
	for _, s := range []error{ErrCannotUpdateUserRole, ErrInvalidWorkspaceRole, ErrInvalidSiteRole, ErrWorkspaceMemberNotFound, ErrWorkspaceInviteNotFound} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
