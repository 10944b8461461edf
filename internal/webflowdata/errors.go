package webflowdata

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Webflow error codes the bridge branches on (from the ErrorCode enum).
const (
	CodeBadRequest         = "bad_request"
	CodeConflict           = "conflict"
	CodeDuplicateUserEmail = "duplicate_user_email"
	CodeForbidden          = "forbidden"
	CodeInternalError      = "internal_error"
	CodeInvalidUserEmail   = "invalid_user_email"
	CodeMissingScopes      = "missing_scopes"
	CodeNotAuthorized      = "not_authorized"
	CodeResourceNotFound   = "resource_not_found"
	CodeTooManyRequests    = "too_many_requests"
	CodeUnsupportedTrigger = "unsupported_webhook_trigger_type"
	CodeUserLimitReached   = "user_limit_reached"
	CodeUserNotFound       = "user_not_found"
	CodeUsersNotEnabled    = "users_not_enabled"
	CodeValidationError    = "validation_error"
)

// Codes of the Enterprise Workspace Members and Site Access APIs
// (webflow-enterprise-api.md §3-4, §8). The bulk calls document the
// per-item ones; the single-item endpoints are taken to use the same
// strings (the simulator can answer generic codes instead, see its
// Readings), so the typed errors below also look at status and message.
const (
	CodeNotEnterpriseWorkspace  = "not_enterprise_plan_workspace"
	CodeMemberAlreadyHasAccess  = "member_already_has_access"
	CodeMemberManagedBySCIM     = "workspace_member_managed_by_scim"
	CodeWorkspaceMemberNotFound = "workspace_member_not_found"
	CodeWorkspaceInviteNotFound = "workspace_invite_not_found"
	CodeInvalidWorkspaceRole    = "invalid_workspace_role"
	CodeInvalidSiteRole         = "invalid_site_role"
	CodeCannotUpdateUserRole    = "cannot_update_user_role"
)

// MsgMemberManagedBySCIM is Webflow's text for the SCIM lock. A client
// recognises the lock by it too, in case a single-item endpoint answers it
// under a generic code.
const MsgMemberManagedBySCIM = "This member is managed by your identity provider. Change their role there instead — a write here would be reverted by the next directory sync."

// SunsetDate is the day Webflow disabled User Accounts and removed the
// Users and access-group endpoints.
const SunsetDate = "2026-01-29"

// ErrUserAccountsUnavailable is matched (errors.Is) by every error that
// means the site has no Users API any more. It is never retried.
var ErrUserAccountsUnavailable = errors.New("User Accounts unavailable on this site (Webflow disabled User Accounts on " + SunsetDate + ")")

// APIError is a non-2xx answer from Webflow. It carries everything Webflow
// said, so callers can branch on Code rather than on Status alone.
type APIError struct {
	Method     string // HTTP method
	Endpoint   string // route template, e.g. "GET /sites/{site_id}/users/{user_id}"
	Status     int
	Code       string
	Message    string
	Body       []byte        // raw response body, as received (bounded)
	RetryAfter time.Duration // from Retry-After, if any
	// unavailable marks a users/access-groups answer that means the API is gone.
	unavailable bool
}

func (e *APIError) Error() string {
	if e.unavailable {
		return fmt.Sprintf("webflow %s: %d %s: %s", e.Endpoint, e.Status, e.Code, ErrUserAccountsUnavailable)
	}
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Code != "" {
		return fmt.Sprintf("webflow %s: %d %s: %s", e.Endpoint, e.Status, e.Code, msg)
	}
	return fmt.Sprintf("webflow %s: %d: %s", e.Endpoint, e.Status, msg)
}

// Is makes errors.Is(err, ErrUserAccountsUnavailable) and the Enterprise
// typed errors (ErrMemberManagedBySCIM, ...) work.
func (e *APIError) Is(target error) bool {
	if target == ErrUserAccountsUnavailable {
		return e.unavailable
	}
	return e.isEnterprise(target)
}

// AsAPIError returns the APIError in err's chain.
func AsAPIError(err error) (*APIError, bool) {
	var e *APIError
	ok := errors.As(err, &e)
	return e, ok
}

func hasCode(err error, status int, codes ...string) bool {
	e, ok := AsAPIError(err)
	if !ok {
		return false
	}
	if status != 0 && e.Status != status {
		return false
	}
	if len(codes) == 0 {
		return true
	}
	for _, c := range codes {
		if strings.EqualFold(e.Code, c) {
			return true
		}
	}
	return false
}

// IsNotFound reports a 404 that is not the sunset answer.
func IsNotFound(err error) bool {
	return hasCode(err, http.StatusNotFound) && !IsUserAccountsUnavailable(err)
}

// IsDuplicateEmail reports 409 duplicate_user_email.
func IsDuplicateEmail(err error) bool {
	return hasCode(err, http.StatusConflict, CodeDuplicateUserEmail)
}

// IsUserLimit reports 409 user_limit_reached (20,000 users per site).
func IsUserLimit(err error) bool { return hasCode(err, http.StatusConflict, CodeUserLimitReached) }

// IsValidation reports a 400 (validation_error, bad_request, invalid_user_email).
func IsValidation(err error) bool { return hasCode(err, http.StatusBadRequest) }

// IsRateLimited reports a 429.
func IsRateLimited(err error) bool { return hasCode(err, http.StatusTooManyRequests) }

// IsUnauthorized reports 401, or 403 for a missing scope or a forbidden
// action: the token cannot do this, and retrying will not help.
func IsUnauthorized(err error) bool {
	if hasCode(err, http.StatusUnauthorized) {
		return true
	}
	return hasCode(err, http.StatusForbidden, CodeMissingScopes, CodeForbidden, CodeNotAuthorized)
}

// IsUserAccountsUnavailable reports that Webflow no longer serves the Users
// API for the site.
func IsUserAccountsUnavailable(err error) bool {
	return errors.Is(err, ErrUserAccountsUnavailable)
}

// IsServerError reports a 5xx from Webflow.
func IsServerError(err error) bool {
	e, ok := AsAPIError(err)
	return ok && e.Status >= 500
}
