package mapping

import (
	"encoding/json"
	"strings"

	"github.com/elimity-com/scim"
	filter "github.com/scim2/filter-parser/v2"
)

// Group writes, as every surface that serves SCIM Groups reads them (the
// site surface through elimity, the workspace groups without it): which
// members a POST, PUT or PATCH names, and what a PATCH changes. Run
// NormalizeGroupPatchBody first; these read what it leaves.

// GroupMemberStep is one step of a membership change, applied in order:
// add, remove, removeAll (the whole group) or replace (the group becomes
// exactly IDs).
type GroupMemberStep struct {
	Op  string
	IDs []string
}

// GroupPatchOp is one PATCH operation: Op lower-case, Path nil for a
// path-less operation.
type GroupPatchOp struct {
	Op    string
	Path  *filter.Path
	Value any
}

// GroupChange is what a group PATCH asks for: the displayName and
// externalId after it, and the membership steps in order.
type GroupChange struct {
	DisplayName string
	ExternalID  string
	Members     []GroupMemberStep
}

// GroupMemberIDs reads a members value: a list of {value, …}, or one such
// object (the normaliser makes lists of those; POST and PUT bodies may
// carry either). Empty values are skipped.
func GroupMemberIDs(v any) []string {
	var ids []string
	add := func(m any) {
		switch x := m.(type) {
		case map[string]any:
			for k, val := range x {
				if strings.EqualFold(k, "value") {
					if s, ok := val.(string); ok && s != "" {
						ids = append(ids, s)
					}
				}
			}
		case string:
			if x != "" {
				ids = append(ids, x)
			}
		}
	}
	switch x := v.(type) {
	case []any:
		for _, m := range x {
			add(m)
		}
	case []map[string]any:
		for _, m := range x {
			add(m)
		}
	default:
		add(x)
	}
	return ids
}

// groupMemberStep maps a PATCH op on members to a step. A remove with no
// value removes everyone; with values, only those (Entra without the
// aadOptscim062020 flag). A replace with [] empties the group.
func groupMemberStep(op string, ids []string, noValue bool) GroupMemberStep {
	switch op {
	case "add":
		return GroupMemberStep{Op: "add", IDs: ids}
	case "remove":
		if noValue {
			return GroupMemberStep{Op: "removeAll"}
		}
		return GroupMemberStep{Op: "remove", IDs: ids}
	default:
		return GroupMemberStep{Op: "replace", IDs: ids}
	}
}

// MembersFilterIDs reads the ids of members[value eq "x"] (several eq
// joined by or): Okta's remove, Entra's remove with the flag, and Entra's
// membership check in a Groups filter. Anything else is invalidFilter.
func MembersFilterIDs(e filter.Expression) ([]string, error) {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		if strings.EqualFold(x.AttributePath.AttributeName, "value") && x.Operator == filter.EQ {
			if s, ok := x.CompareValue.(string); ok {
				return []string{strings.ReplaceAll(s, `\"`, `"`)}, nil
			}
		}
	case *filter.LogicalExpression:
		if x.Operator == filter.OR {
			a, err := MembersFilterIDs(x.Left)
			if err != nil {
				return nil, err
			}
			b, err := MembersFilterIDs(x.Right)
			return append(a, b...), err
		}
	}
	return nil, newError(ScimTypeInvalidFilter, `only members[value eq "<id>"] is supported in a members path`)
}

// ApplyGroupPatch reads a group PATCH (already normalised) against the
// group's current displayName and externalId: every shape idp-clients.md
// lists for Okta and Entra (path-less replace of displayName, externalId
// or members; add, remove and replace on members, with a value or a
// members[value eq …] path; remove of members without a value).
// Operations on other attributes are ignored, as the normaliser leaves
// none.
func ApplyGroupPatch(ops []GroupPatchOp, displayName, externalID string) (GroupChange, error) {
	ch := GroupChange{DisplayName: displayName, ExternalID: externalID}
	for _, op := range ops {
		if op.Path == nil {
			m, _ := op.Value.(map[string]any)
			for k, v := range m {
				switch strings.ToLower(k) {
				case "displayname":
					if s, ok := v.(string); ok && s != "" {
						ch.DisplayName = s
					}
				case "externalid":
					ch.ExternalID, _ = v.(string)
				case "members":
					ch.Members = append(ch.Members, groupMemberStep(op.Op, GroupMemberIDs(v), v == nil))
				}
			}
			continue
		}
		switch strings.ToLower(op.Path.AttributePath.AttributeName) {
		case "displayname":
			if s, ok := op.Value.(string); ok && s != "" {
				ch.DisplayName = s
			}
		case "externalid":
			ch.ExternalID, _ = op.Value.(string)
		case "members":
			if op.Path.ValueExpression != nil {
				ids, err := MembersFilterIDs(op.Path.ValueExpression)
				if err != nil {
					return GroupChange{}, err
				}
				if op.Op == "remove" {
					ch.Members = append(ch.Members, GroupMemberStep{Op: "remove", IDs: ids})
				}
				continue
			}
			ch.Members = append(ch.Members, groupMemberStep(op.Op, GroupMemberIDs(op.Value), op.Value == nil))
		}
	}
	return ch, nil
}

// ParseGroupPatch decodes a normalised group PATCH body into operations,
// for a surface that does not parse it with elimity: the body must be a
// JSON object with a non-empty Operations list (any case) of objects with
// op add, remove or replace and, when present, a path that parses.
func ParseGroupPatch(body []byte) ([]GroupPatchOp, error) { return parsePatchOps(body) }

// ParseUserPatch is ParseGroupPatch for a /Users PATCH body normalised by
// NormalizePatchBody: the operations ApplyPatch takes, for a surface that
// does not parse them with elimity (the workspace members surface). The
// rules are the same: an Operations list, op add, remove or replace, and
// a path within the filter bounds that parses.
func ParseUserPatch(body []byte) ([]scim.PatchOperation, error) {
	ops, err := parsePatchOps(body)
	if err != nil {
		return nil, err
	}
	out := make([]scim.PatchOperation, len(ops))
	for i, op := range ops {
		out[i] = scim.PatchOperation{Op: op.Op, Path: op.Path, Value: op.Value}
	}
	return out, nil
}

func parsePatchOps(body []byte) ([]GroupPatchOp, error) {
	var top map[string]json.RawMessage
	if err := decodeJSON(body, &top); err != nil || top == nil {
		return nil, newError(ScimTypeInvalidSyntax, "the PATCH body is not a JSON object")
	}
	var raw json.RawMessage
	for k, v := range top {
		if strings.EqualFold(k, "Operations") {
			raw = v
		}
	}
	var list []map[string]any
	if raw == nil || decodeJSON(raw, &list) != nil {
		return nil, newError(ScimTypeInvalidSyntax, "a PATCH needs an Operations list of objects")
	}
	out := make([]GroupPatchOp, 0, len(list))
	for _, m := range list {
		op := GroupPatchOp{}
		var path string
		for k, v := range m {
			switch strings.ToLower(k) {
			case "op":
				s, _ := v.(string)
				op.Op = strings.ToLower(s)
			case "path":
				path, _ = v.(string)
			case "value":
				op.Value = v
			}
		}
		switch op.Op {
		case "add", "remove", "replace":
		default:
			return nil, newError(ScimTypeInvalidSyntax, `every operation needs op "add", "remove" or "replace"`)
		}
		if path != "" {
			if err := CheckFilterBounds(path); err != nil {
				return nil, err
			}
			p, err := filter.ParsePath([]byte(path))
			if err != nil {
				return nil, newError(ScimTypeInvalidPath, "the path "+truncate(path, 80)+" does not parse")
			}
			op.Path = &p
		}
		out = append(out, op)
	}
	return out, nil
}
