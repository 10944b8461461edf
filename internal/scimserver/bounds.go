package scimserver

import (
	"context"
	"errors"
	"net/http"
	"runtime"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/webflowscim/bridge/internal/mapping"
)

// writeMappingError answers a *mapping.Error found before the request
// reached a handler; anything else is a 400 invalidSyntax.
func writeMappingError(w http.ResponseWriter, err error) {
	var me *mapping.Error
	if errors.As(err, &me) {
		status := me.Status
		if status == 0 {
			status = http.StatusBadRequest
		}
		writeError(w, status, me.ScimType, me.Detail)
		return
	}
	writeError(w, http.StatusBadRequest, mapping.ScimTypeInvalidSyntax, err.Error())
}

// parseSlots bounds how many filters the full parser handles at once,
// across every site of the process: half the CPUs (at least one), so that
// hostile filters never take them all. Parsing is CPU-bound, and the worst
// filter within the bounds (mapping.CheckFilterBounds) costs about 13 MB
// of allocation and 20-35 ms: more parses at once gain no throughput, only
// memory. The one-condition lookups IdPs send take the fast path and never
// wait here. A nil parseSlots does not bound.
type parseSlots chan struct{}

func newParseSlots() parseSlots { return make(parseSlots, max(1, runtime.GOMAXPROCS(0)/2)) }

// parse parses a filter with the full parser, in a slot.
func (p parseSlots) parse(ctx context.Context, raw string) (filter.Expression, error) {
	if p != nil {
		select {
		case p <- struct{}{}:
			defer func() { <-p }()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return filter.ParseFilter([]byte(raw))
}

// user is parseUserFilter with the full parser in a slot.
func (p parseSlots) user(ctx context.Context, raw string) (filter.Expression, error) {
	if e, ok := simpleUserFilter(raw); ok {
		return e, nil
	}
	return p.parse(ctx, raw)
}

// checkRequestSize refuses a PATCH with too many operations, or a Groups
// request naming too many members, before the body is normalised, handed
// to the library or turned into Redis scripts (mapping.CheckRequestSize).
//
// A body no longer than both bounds is within them, unmeasured: every
// operation, and every member counted, takes at least one byte of its own
// (an array element, a value, or " eq " of a members path; decoding never
// lengthens a valid UTF-8 body's strings). That is every body IdPs send
// one user or member at a time (TestSmallBodiesNeedNoMeasure).
func (s *Server) checkRequestSize(r *http.Request, body []byte) error {
	patch, group := r.Method == http.MethodPatch, isGroupsPath(r.URL.Path)
	if !patch && !(group && (r.Method == http.MethodPost || r.Method == http.MethodPut)) {
		return nil
	}
	if len(body) <= min(boundOr(s.maxOps, mapping.DefaultMaxPatchOperations), boundOr(s.maxMembers, mapping.DefaultMaxMembersPerRequest)) {
		return nil
	}
	return mapping.CheckRequestSize(mapping.MeasureRequest(body, patch, group), s.maxOps, s.maxMembers)
}

// boundOr is a bound as mapping.CheckRequestSize reads it: ≤ 0 takes def.
func boundOr(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}
