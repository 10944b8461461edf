// Package webflowdata is the one client the bridge uses to talk to the
// Webflow Data API v2, together with the wire types both the client and the
// simulator (package webflowsim) share.
//
// Every call to Webflow goes through Client, so that pacing (Limiter),
// retries (RetryPolicy), typed errors (APIError) and call accounting
// (Observer) live in one place. Wasted upstream calls are the bridge's main
// cost: Webflow allows 60 or 120 requests a minute per token.
//
// The Users and access-group endpoints were removed by Webflow on
// 2026-01-29. The client speaks them exactly as last published and turns the
// answer of a Webflow that no longer has them into ErrUserAccountsUnavailable.
//
// It also speaks the Enterprise Workspace Members and Site Access APIs
// (members.go): cursor lists with paging helpers, invites (never retried
// blindly), role updates, bulk calls whose per-item results are read by
// type and id, Site Access by id and by email, and typed errors for every
// Enterprise code (ErrMemberManagedBySCIM and the rest) that errors.Is
// matches on single answers and bulk items alike.
package webflowdata
