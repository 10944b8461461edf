package mapping

import "net/http"

// SCIM error types (RFC 7644 §3.12) used by this package.
const (
	ScimTypeInvalidFilter = "invalidFilter"
	ScimTypeInvalidSyntax = "invalidSyntax"
	ScimTypeInvalidPath   = "invalidPath"
	ScimTypeNoTarget      = "noTarget"
	ScimTypeInvalidValue  = "invalidValue"
	ScimTypeMutability    = "mutability"
)

// Error is a SCIM protocol error produced by this package. It deliberately
// does not import elimity's errors package so that mapping stays a leaf:
// the server turns it into an elimity errors.ScimError with
//
//	scimerr.ScimError{ScimType: scimerr.ScimType(e.ScimType), Detail: e.Detail, Status: e.Status}
//
// Status is always set (400 for everything this package returns).
type Error struct {
	ScimType string
	Detail   string
	Status   int
}

func (e *Error) Error() string {
	if e.ScimType == "" {
		return e.Detail
	}
	return e.ScimType + ": " + e.Detail
}

func newError(scimType, detail string) *Error {
	return &Error{ScimType: scimType, Detail: detail, Status: http.StatusBadRequest}
}
