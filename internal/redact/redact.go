// Package redact masks personal data in what the bridge logs or shows
// operators when logging.redactEmails is set.
package redact

import (
	"regexp"
	"strings"
)

var emailPattern = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@([A-Za-z0-9\-]+\.)*[A-Za-z0-9\-]+`)

// Emails masks the local part of every email address in s
// ("***@example.com"): the domain stays, for debugging per tenant.
func Emails(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	return emailPattern.ReplaceAllStringFunc(s, func(m string) string {
		return "***" + m[strings.LastIndexByte(m, '@'):]
	})
}
