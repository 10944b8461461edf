package scimserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// GroupExtensionURN is our extension of the SCIM Group: the Webflow
// access group behind it.
const GroupExtensionURN = "urn:ietf:params:scim:schemas:extension:webflow:2.0:Group"

const groupSchemaURN = "urn:ietf:params:scim:schemas:core:2.0:Group"

// Group deletion policies.
const (
	GroupDeleteUnlink        = "unlink"
	GroupDeleteRemoveMembers = "remove-members"
)

// DefaultAccessGroupsRefresh is how long the access-group list fetched from
// Webflow is served from the cache.
const DefaultAccessGroupsRefresh = 10 * time.Minute

// retireFor is how long a deleted group's slug stays managed under
// remove-members, for the queue to remove it from every member.
const retireFor = 24 * time.Hour

func groupExtensionSchema() schema.Schema {
	return schema.Schema{
		ID:          GroupExtensionURN,
		Name:        optional.NewString("WebflowAccessGroup"),
		Description: optional.NewString("The Webflow access group behind this SCIM Group"),
		Attributes: []schema.CoreAttribute{
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
				Name: "slug", Mutability: schema.AttributeMutabilityReadOnly(), Description: optional.NewString("The access group's slug, as Webflow's API uses it"),
			})),
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
				Name: "accessGroupName", Mutability: schema.AttributeMutabilityReadOnly(), Description: optional.NewString("The access group's name in Webflow (renames are not sent to Webflow)"),
			})),
			schema.SimpleCoreAttribute(schema.SimpleBooleanParams(schema.BooleanParams{
				Name: "linked", Mutability: schema.AttributeMutabilityReadOnly(), Description: optional.NewString("Whether an IdP group manages this access group: always true, since only a linked access group is a SCIM Group"),
			})),
		},
	}
}

// groupsHandler is the SCIM Groups resource of one site: Webflow access
// groups, linked to IdP groups. Membership changes are recorded and queued,
// never written inline.
type groupsHandler struct {
	users *usersHandler
	site  SiteConfig
	store state.Backend
	wf    *webflowdata.Client
	log   *slog.Logger
	wake  func()
	slugs groupSlugs // the slugs of the groups read linked
}

// groupView is one access group as SCIM shows it.
type groupView struct {
	ID, Slug, Name string // Webflow's
	DisplayName    string // the IdP's name when linked, else Webflow's
	ExternalID     string
	Created        time.Time
	Modified       time.Time
}

// accessGroups returns the site's access groups, from the shared cache
// when younger than the refresh age. When Webflow cannot answer, a stale
// cache is better than nothing.
func (g *groupsHandler) accessGroups(ctx context.Context, maxAge time.Duration) ([]webflowdata.AccessGroup, error) {
	raw, at, err := g.store.CachedBlob(ctx, g.site.ID, accessGroupsBlob)
	return g.accessGroupsFrom(ctx, raw, at, err, maxAge)
}

// accessGroupsBlob names the cached access-group list in the state store.
const accessGroupsBlob = "accessgroups"

// accessGroupsFrom is accessGroups on a cache read already made (err is
// that read's error; state.ErrNotFound when nothing is cached).
func (g *groupsHandler) accessGroupsFrom(ctx context.Context, raw []byte, at time.Time, err error, maxAge time.Duration) ([]webflowdata.AccessGroup, error) {
	var cached []webflowdata.AccessGroup
	if err == nil {
		_ = json.Unmarshal(raw, &cached)
		if time.Since(at) < maxAge {
			return cached, nil
		}
	} else if !errors.Is(err, state.ErrNotFound) {
		return nil, err
	}
	fresh, ferr := g.wf.ListAccessGroups(ctx, g.site.ID)
	if ferr != nil {
		if cached != nil && !webflowdata.IsUserAccountsUnavailable(ferr) {
			g.log.Warn("could not refresh access groups from Webflow; serving the cached list", "error", ferr)
			return cached, nil
		}
		return nil, ferr
	}
	b, _ := json.Marshal(fresh)
	if err := g.store.StoreBlob(ctx, g.site.ID, accessGroupsBlob, b); err != nil {
		g.log.Warn("could not cache access groups", "error", err)
	}
	return fresh, nil
}

// views returns every linked group as a SCIM Group, in a stable order.
// Only a link makes an access group a SCIM resource (RFC 7644 3.4.1: a
// resource exists from its POST until its DELETE): an access group no IdP
// linked, or whose link an IdP deleted, is not listed and is 404, and a
// POST links it (by groupMappings, name or slug). Webflow's list only
// adds its name and creation time; a linked group whose access group
// vanished from Webflow is still shown. With no link at all, nothing is
// read but the links.
func (g *groupsHandler) views(ctx context.Context) ([]groupView, error) {
	links, raw, at, err := g.store.SiteGroups(ctx, g.site.ID, accessGroupsBlob)
	return g.viewsFrom(ctx, links, raw, at, err)
}

// viewsFrom is views on a read of the links and the access-group cache
// already made (err is that read's error).
func (g *groupsHandler) viewsFrom(ctx context.Context, links []*state.GroupRecord, raw []byte, at time.Time, err error) ([]groupView, error) {
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return nil, err
	}
	if len(links) == 0 {
		return []groupView{}, nil
	}
	ags, err := g.accessGroupsFrom(ctx, raw, at, err, g.site.AccessGroupsRefresh)
	if err != nil {
		return nil, err
	}
	bySlug := make(map[string]webflowdata.AccessGroup, len(ags))
	for _, ag := range ags {
		bySlug[ag.Slug] = ag
	}
	out := make([]groupView, 0, len(links))
	for _, l := range links {
		v := groupView{ID: l.ID, Slug: l.Slug, Name: l.Slug, DisplayName: l.DisplayName, ExternalID: l.ExternalID, Created: l.Created, Modified: l.Modified}
		if ag, ok := bySlug[l.Slug]; ok {
			v.Name, v.Created = ag.Name, ag.CreatedOn.Time
		}
		out = append(out, v)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (g *groupsHandler) view(ctx context.Context, id string) (groupView, error) {
	vs, err := g.views(ctx)
	if err != nil {
		return groupView{}, err
	}
	return g.pick(vs, id)
}

// pick returns the group id of vs, or 404.
func (g *groupsHandler) pick(vs []groupView, id string) (groupView, error) {
	for _, v := range vs {
		if v.ID == id {
			g.slugs.put(v.ID, v.Slug)
			return v, nil
		}
	}
	return groupView{}, scimerrors.ScimErrorResourceNotFound(id)
}

// viewWithMembers returns the group id and, with members, its members
// (GroupMemberNames): in three round trips, or two when this replica
// knows the group's slug (groupSlugs), the member set being read with the
// group then.
func (g *groupsHandler) viewWithMembers(ctx context.Context, id string, members bool) (groupView, []state.GroupMember, error) {
	slug, known := g.slugs.get(id)
	if !members || !known {
		v, err := g.view(ctx, id)
		if err != nil || !members {
			return v, nil, err
		}
		ms, err := g.store.GroupMemberNames(ctx, g.site.ID, v.Slug)
		return v, ms, err
	}
	links, raw, at, sets, err := g.store.SiteGroupsMembers(ctx, g.site.ID, accessGroupsBlob, []string{slug})
	vs, err := g.viewsFrom(ctx, links, raw, at, err)
	if err != nil {
		return groupView{}, nil, err
	}
	v, err := g.pick(vs, id)
	if err != nil {
		g.slugs.forget(id)
		return groupView{}, nil, err
	}
	if v.Slug != slug {
		g.slugs.put(v.ID, v.Slug)
		ms, err := g.store.GroupMemberNames(ctx, g.site.ID, v.Slug)
		return v, ms, err
	}
	ms, err := g.store.MemberNames(ctx, g.site.ID, sets)
	if err != nil {
		return groupView{}, nil, err
	}
	return v, ms[0], nil
}

// members renders a group's members: SCIM user ids from the reverse index
// (no Webflow call), with the userName as display.
func (g *groupsHandler) members(ctx context.Context, v groupView, base string) ([]map[string]any, error) {
	ms, err := g.store.GroupMemberNames(ctx, g.site.ID, v.Slug)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(ms))
	for _, m := range ms {
		out = append(out, map[string]any{"value": m.ID, "display": m.UserName, "$ref": base + "/Users/" + url.PathEscape(m.ID), "type": "User"})
	}
	return out, nil
}

func (g *groupsHandler) attributes(ctx context.Context, v groupView, r *http.Request, base string) (scim.ResourceAttributes, error) {
	attrs := scim.ResourceAttributes{
		"displayName": v.DisplayName,
		GroupExtensionURN: map[string]any{
			"slug": v.Slug, "accessGroupName": v.Name, "linked": true,
		},
	}
	var inc, exc []string
	if r != nil {
		inc, exc, _ = projectionOf(r)
	}
	if wantsMembers(inc, exc) {
		m, err := g.members(ctx, v, base)
		if err != nil {
			return nil, err
		}
		attrs["members"] = m
	}
	if v.ExternalID != "" {
		attrs["externalId"] = v.ExternalID
	}
	if len(inc) > 0 || len(exc) > 0 {
		attrs = mapping.Project(attrs, inc, exc)
	}
	return attrs, nil
}

func wantsMembers(inc, exc []string) bool {
	for _, e := range exc {
		if strings.EqualFold(e, "members") || strings.EqualFold(e, groupSchemaURN+":members") {
			return false
		}
	}
	if len(inc) == 0 {
		return true
	}
	for _, i := range inc {
		if strings.EqualFold(strings.SplitN(i, ".", 2)[0], "members") {
			return true
		}
	}
	return false
}

func (g *groupsHandler) resource(ctx context.Context, v groupView, r *http.Request) (scim.Resource, error) {
	attrs, err := g.attributes(ctx, v, r, g.users.base)
	if err != nil {
		return scim.Resource{}, err
	}
	created, modified := v.Created, v.Modified
	res := scim.Resource{ID: v.ID, Attributes: attrs, Meta: scim.Meta{Created: &created, LastModified: &modified}}
	if v.ExternalID != "" {
		res.ExternalID = optional.NewString(v.ExternalID)
	}
	return res, nil
}

// ---- membership input ----

// memberIDs reads a members value (mapping.GroupMemberIDs).
func memberIDs(v any) []string { return mapping.GroupMemberIDs(v) }

// checkMembers answers 400 for ids that are not users of this site.
func (g *groupsHandler) checkMembers(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	uniq := make([]string, 0, len(ids))
	seen := map[string]bool{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	recs, err := g.store.GetUsers(ctx, g.site.ID, uniq)
	if err != nil {
		return err
	}
	found := map[string]bool{}
	for _, r := range recs {
		found[r.ID] = true
	}
	var missing []string
	for _, id := range uniq {
		if !found[id] {
			missing = append(missing, id)
		}
	}
	return notMembers(missing)
}

// notMembers is the answer to members that are not users of the site.
func notMembers(missing []string) error {
	if len(missing) == 0 {
		return nil
	}
	if len(missing) > 5 {
		missing = append(missing[:5], fmt.Sprintf("and %d more", len(missing)-5))
	}
	return scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidValue,
		Detail: "members are not SCIM users of this site: " + strings.Join(missing, ", ")}
}

// change applies a membership change. Unknown member ids refuse the whole
// change (400), checked in the same atomic step; so does, with linkedTo
// set, a slug no longer linked to that group (state.ErrNotLinked).
func (g *groupsHandler) change(ctx context.Context, slug string, ops []state.MemberOp, linkedTo string) error {
	n, err := g.store.ChangeMembers(ctx, g.site.ID, slug, ops, state.ChangeOptions{Enqueue: true, RequireUsers: true, LinkedTo: linkedTo})
	var mu *state.MissingUsersError
	if errors.As(err, &mu) {
		return notMembers(mu.IDs)
	}
	if errors.Is(err, state.ErrGroupBusy) {
		g.log.Warn("another replace of this group's members was still at work when the wait ran out; asking the IdP to retry", "slug", slug)
		return failWith(ctx, http.StatusServiceUnavailable, "", "another change that replaces this group's members is still being applied; retry after the time in Retry-After", 2*time.Second)
	}
	if err != nil {
		return err
	}
	if n > 0 {
		g.log.Info("membership change queued", "slug", slug, "users", n)
		g.wake()
	}
	return nil
}

// ---- link ----

// findAccessGroup resolves an IdP group name to an access group: config
// mapping first, then a case-insensitive match on name or slug. A miss
// re-reads Webflow once, in case the group was just created there.
func (g *groupsHandler) findAccessGroup(ctx context.Context, displayName string) (webflowdata.AccessGroup, error) {
	want := ""
	for k, v := range g.site.GroupMappings {
		if strings.EqualFold(k, displayName) {
			want = v
		}
	}
	match := func(ags []webflowdata.AccessGroup) (webflowdata.AccessGroup, bool) {
		for _, ag := range ags {
			if want != "" && strings.EqualFold(ag.Slug, want) {
				return ag, true
			}
		}
		if want != "" {
			return webflowdata.AccessGroup{}, false
		}
		for _, ag := range ags {
			if strings.EqualFold(ag.Name, displayName) || strings.EqualFold(ag.Slug, displayName) {
				return ag, true
			}
		}
		return webflowdata.AccessGroup{}, false
	}
	ags, err := g.accessGroups(ctx, g.site.AccessGroupsRefresh)
	if err != nil {
		return webflowdata.AccessGroup{}, err
	}
	if ag, ok := match(ags); ok {
		return ag, nil
	}
	if ags, err = g.accessGroups(ctx, 30*time.Second); err != nil {
		return webflowdata.AccessGroup{}, err
	}
	if ag, ok := match(ags); ok {
		return ag, nil
	}
	detail := fmt.Sprintf("no Webflow access group matches the group %q. Access groups cannot be created through Webflow's API: create it in Webflow (Site settings > Users > Access groups), or map this group to an existing slug with sites[].groupMappings in the bridge config", displayName)
	if want != "" {
		detail = fmt.Sprintf("groupMappings maps %q to the slug %q, but the site has no access group with that slug; create it in Webflow or fix the mapping", displayName, want)
	}
	return webflowdata.AccessGroup{}, scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidValue, Detail: detail}
}

func (g *groupsHandler) link(ctx context.Context, ag webflowdata.AccessGroup, displayName, externalID string) (*state.GroupRecord, error) {
	rec := &state.GroupRecord{ID: ag.ID, SiteID: g.site.ID, Slug: ag.Slug, DisplayName: displayName, ExternalID: externalID}
	if err := g.store.LinkGroup(ctx, rec); err != nil {
		if errors.Is(err, state.ErrExists) || errors.Is(err, state.ErrConflict) {
			return nil, scimerrors.ScimError{Status: http.StatusConflict, ScimType: scimerrors.ScimTypeUniqueness,
				Detail: fmt.Sprintf("the access group %q is already linked to an IdP group", ag.Slug)}
		}
		return nil, err
	}
	// A newly managed slug may already be held by members: re-check them.
	g.log.Info("linked an IdP group to a Webflow access group", "slug", ag.Slug, "display_name", displayName)
	return rec, nil
}

// linked returns the group's link; a group no IdP linked is 404 (PUT and
// PATCH never link: only POST creates the resource).
func (g *groupsHandler) linked(ctx context.Context, id string) (*state.GroupRecord, error) {
	rec, err := g.store.GetGroup(ctx, g.site.ID, id)
	if errors.Is(err, state.ErrNotFound) {
		return nil, scimerrors.ScimErrorResourceNotFound(id)
	}
	return rec, err
}

// ---- scim.ResourceHandler ----

func (g *groupsHandler) fail(ctx context.Context, op string, err error) error {
	return g.users.fail(ctx, "groups."+op, err)
}

func str(attrs scim.ResourceAttributes, key string) string {
	for k, v := range attrs {
		if strings.EqualFold(k, key) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

func (g *groupsHandler) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	ctx := r.Context()
	name := strings.TrimSpace(str(attrs, "displayName"))
	if name == "" {
		return scim.Resource{}, scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidValue, Detail: "displayName is required"}
	}
	ag, err := g.findAccessGroup(ctx, name)
	if err != nil {
		return scim.Resource{}, g.fail(ctx, "create", err)
	}
	ids := memberIDs(attrs["members"])
	if err := g.checkMembers(ctx, ids); err != nil {
		return scim.Resource{}, g.fail(ctx, "create", err)
	}
	rec, err := g.link(ctx, ag, name, str(attrs, "externalId"))
	if err != nil {
		return scim.Resource{}, g.fail(ctx, "create", err)
	}
	if err := g.change(ctx, rec.Slug, []state.MemberOp{{Op: "replace", IDs: ids}}, ""); err != nil {
		return scim.Resource{}, g.fail(ctx, "create", err)
	}
	v, err := g.view(ctx, rec.ID)
	if err != nil {
		return scim.Resource{}, g.fail(ctx, "create", err)
	}
	res, err := g.resource(ctx, v, nil)
	if err != nil {
		return scim.Resource{}, g.fail(ctx, "create", err)
	}
	return res, nil
}

func (g *groupsHandler) Get(r *http.Request, id string) (scim.Resource, error) {
	ctx := r.Context()
	v, err := g.view(ctx, id)
	if err != nil {
		return scim.Resource{}, g.fail(ctx, "get", err)
	}
	res, err := g.resource(ctx, v, r)
	if err != nil {
		return scim.Resource{}, g.fail(ctx, "get", err)
	}
	return res, nil
}

func (g *groupsHandler) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	ctx := r.Context()
	vs, total, err := g.find(ctx, filterOf(params), max(params.StartIndex, 1), params.Count)
	if err != nil {
		return scim.Page{}, g.fail(ctx, "list", err)
	}
	out := make([]scim.Resource, 0, len(vs))
	for _, v := range vs {
		res, err := g.resource(ctx, v, r)
		if err != nil {
			return scim.Page{}, g.fail(ctx, "list", err)
		}
		out = append(out, res)
	}
	return scim.Page{TotalResults: total, Resources: out}, nil
}

func (g *groupsHandler) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	ctx := r.Context()
	rec, err := g.linked(ctx, id)
	if err != nil {
		return scim.Resource{}, g.fail(ctx, "replace", err)
	}
	ids := memberIDs(attrs["members"])
	if err := g.change(ctx, rec.Slug, []state.MemberOp{{Op: "replace", IDs: ids}}, ""); err != nil {
		return scim.Resource{}, g.fail(ctx, "replace", err)
	}
	if name := strings.TrimSpace(str(attrs, "displayName")); name != "" && (name != rec.DisplayName || str(attrs, "externalId") != rec.ExternalID) {
		rec.DisplayName, rec.ExternalID = name, str(attrs, "externalId")
		if err := g.store.UpdateGroup(ctx, rec); err != nil {
			return scim.Resource{}, g.fail(ctx, "replace", err)
		}
	}
	return g.Get(r, id)
}

func (g *groupsHandler) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	ctx := r.Context()
	pops := make([]mapping.GroupPatchOp, len(ops))
	for i, op := range ops {
		pops[i] = mapping.GroupPatchOp{Op: op.Op, Path: op.Path, Value: op.Value}
	}
	if done, err := g.patchMembers(ctx, r, id, pops); done {
		return scim.Resource{}, err
	}
	// The group is found, and answered, from one read.
	v, err := g.view(ctx, id)
	if err != nil {
		return scim.Resource{}, g.fail(ctx, "patch", err)
	}
	rec := &state.GroupRecord{ID: v.ID, SiteID: g.site.ID, Slug: v.Slug, DisplayName: v.DisplayName, ExternalID: v.ExternalID, Modified: v.Modified}
	ch, err := mapping.ApplyGroupPatch(pops, rec.DisplayName, rec.ExternalID)
	if err != nil {
		return scim.Resource{}, g.fail(ctx, "patch", err)
	}
	name, ext := ch.DisplayName, ch.ExternalID
	mops := make([]state.MemberOp, len(ch.Members))
	for i, m := range ch.Members {
		mops[i] = state.MemberOp{Op: m.Op, IDs: m.IDs}
	}
	if len(mops) > 0 {
		if err := g.change(ctx, rec.Slug, mops, ""); err != nil {
			return scim.Resource{}, g.fail(ctx, "patch", err)
		}
	}
	if name != rec.DisplayName || ext != rec.ExternalID {
		// Stored on our side only: Webflow's group name is not changed.
		rec.DisplayName, rec.ExternalID = name, ext
		if err := g.store.UpdateGroup(ctx, rec); err != nil {
			return scim.Resource{}, g.fail(ctx, "patch", err)
		}
		v.DisplayName, v.ExternalID, v.Modified = rec.DisplayName, rec.ExternalID, rec.Modified
	}
	if !patchWantsBody(r) {
		// 204 No Content (RFC 7644 §3.5.2): Entra prefers it, Okta accepts
		// it, and the answer no longer grows with the group. The library
		// answers 204 for a resource without attributes.
		return scim.Resource{}, nil
	}
	res, err := g.resource(ctx, v, r)
	if err != nil {
		return scim.Resource{}, g.fail(ctx, "patch", err)
	}
	return res, nil
}

// patchMembers serves, in one round trip, a PATCH that only changes
// members and asks for no body (Okta's and Entra's membership pushes: 204)
// of a group whose slug this replica knows (groupSlugs): the change, with
// the check that the slug is still linked to the group, is one script.
// It reports false, having changed nothing, when the full path must serve
// the request: an unknown or unlinked group (404 there), another
// attribute, a body asked for, or operations the full path refuses (its
// answer then).
func (g *groupsHandler) patchMembers(ctx context.Context, r *http.Request, id string, pops []mapping.GroupPatchOp) (bool, error) {
	slug, ok := g.slugs.get(id)
	if !ok || patchWantsBody(r) {
		return false, nil
	}
	for _, op := range pops {
		if op.Path == nil || !strings.EqualFold(op.Path.AttributePath.AttributeName, "members") {
			return false, nil
		}
	}
	// Operations on members leave displayName and externalId as they are.
	ch, err := mapping.ApplyGroupPatch(pops, "", "")
	if err != nil || len(ch.Members) == 0 {
		return false, nil
	}
	mops := make([]state.MemberOp, len(ch.Members))
	for i, m := range ch.Members {
		mops[i] = state.MemberOp{Op: m.Op, IDs: m.IDs}
	}
	err = g.change(ctx, slug, mops, id)
	if errors.Is(err, state.ErrNotLinked) {
		g.slugs.forget(id)
		return false, nil
	}
	if err != nil {
		return true, g.fail(ctx, "patch", err)
	}
	return true, nil
}

// patchWantsBody reports whether a group PATCH asked for the resource back:
// RFC 7644 §3.5.2 has the server answer 200 with it when "attributes" is
// given, and lets it answer 204 otherwise. Only the attributes asked for
// are rendered then.
func patchWantsBody(r *http.Request) bool {
	return strings.TrimSpace(queryOf(r).Get("attributes")) != ""
}

func (g *groupsHandler) Delete(r *http.Request, id string) error {
	ctx := r.Context()
	rec, err := g.store.GetGroup(ctx, g.site.ID, id)
	if errors.Is(err, state.ErrNotFound) {
		return scimerrors.ScimErrorResourceNotFound(id)
	}
	if err != nil {
		return g.fail(ctx, "delete", err)
	}
	remove := g.site.OnGroupDelete == GroupDeleteRemoveMembers
	if err := g.store.UnlinkGroup(ctx, g.site.ID, id, remove, retireFor); err != nil {
		return g.fail(ctx, "delete", err)
	}
	g.slugs.forget(id)
	g.log.Info("unlinked group", "slug", rec.Slug, "remove_members", remove)
	if remove {
		g.wake()
	}
	return nil
}

// ---- list ----

// find filters the groups: displayName eq (case-insensitive), id eq,
// externalId eq, members[value eq] (Entra's membership check), with and.
func (g *groupsHandler) find(ctx context.Context, expr filter.Expression, start, count int) ([]groupView, int, error) {
	vs, err := g.views(ctx)
	if err != nil {
		return nil, 0, err
	}
	var out []groupView
	for _, v := range vs {
		ok, err := g.matches(ctx, expr, v)
		if err != nil {
			return nil, 0, err
		}
		if ok {
			out = append(out, v)
		}
	}
	lo := min(start-1, len(out))
	hi := min(lo+count, len(out))
	return out[lo:hi], len(out), nil
}

func (g *groupsHandler) matches(ctx context.Context, e filter.Expression, v groupView) (bool, error) {
	invalid := scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidFilter,
		Detail: `Groups support filters with eq on displayName, id, externalId and members[value eq "<id>"], joined by and`}
	switch x := e.(type) {
	case nil:
		return true, nil
	case *filter.LogicalExpression:
		if x.Operator != filter.AND {
			return false, invalid
		}
		a, err := g.matches(ctx, x.Left, v)
		if err != nil || !a {
			return false, err
		}
		return g.matches(ctx, x.Right, v)
	case *filter.AttributeExpression:
		if x.Operator != filter.EQ || x.AttributePath.SubAttribute != nil {
			return false, invalid
		}
		want, ok := x.CompareValue.(string)
		if !ok {
			return false, invalid
		}
		want = strings.ReplaceAll(want, `\"`, `"`)
		switch strings.ToLower(x.AttributePath.AttributeName) {
		case "displayname":
			return strings.EqualFold(v.DisplayName, want), nil
		case "id":
			return v.ID == want, nil
		case "externalid":
			return v.ExternalID == want, nil
		}
	case *filter.ValuePath:
		if strings.EqualFold(x.AttributePath.AttributeName, "members") {
			ids, err := mapping.MembersFilterIDs(x.ValueFilter)
			if err != nil {
				return false, err
			}
			for _, id := range ids {
				in, err := g.store.IsGroupMember(ctx, g.site.ID, v.Slug, id)
				if err != nil || in {
					return in, err
				}
			}
			return false, nil
		}
	}
	return false, invalid
}

var groupSchemas = []string{groupSchemaURN, GroupExtensionURN}

// projected renders v with the attributes and excludedAttributes of r
// applied (the map path; appendGroup serves the rest).
func (g *groupsHandler) projected(ctx context.Context, v groupView, r *http.Request, base string) ([]byte, error) {
	attrs, err := g.attributes(ctx, v, r, base)
	if err != nil {
		return nil, err
	}
	attrs["id"] = v.ID
	attrs["schemas"] = groupSchemas
	attrs["meta"] = map[string]any{"resourceType": "Group", "location": base + "/Groups/" + url.PathEscape(v.ID),
		"created": v.Created.UTC().Format(time.RFC3339), "lastModified": v.Modified.UTC().Format(time.RFC3339)}
	return json.Marshal(projectCommon(attrs, r))
}

// serveList answers GET /Groups (itemsPerPage = the number returned).
func (g *groupsHandler) serveList(w http.ResponseWriter, r *http.Request, base string) {
	ctx, ov := withOverride(r.Context())
	q := queryOf(r)
	err := func() error {
		start, err := queryInt(q, "startIndex", 1)
		if err != nil {
			return err
		}
		count, err := queryInt(q, "count", maxResults)
		if err != nil {
			return err
		}
		start, count = max(start, 1), min(max(count, 0), maxResults)
		var expr filter.Expression
		if raw := strings.TrimSpace(q.Get("filter")); raw != "" {
			if expr, err = g.users.parseSlots.parse(ctx, raw); err != nil {
				return scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidFilter, Detail: "the filter could not be parsed"}
			}
		}
		vs, total, err := g.find(ctx, expr, start, count)
		if err != nil {
			return g.fail(ctx, "list", err)
		}
		plain, withMembers := plainGroupRender(mapping.ParseAttrList(q.Get("attributes")), mapping.ParseAttrList(q.Get("excludedAttributes")))
		// The page's members, all in two round trips; the answer is then
		// streamed.
		var members [][]state.GroupMember
		var flush func([]byte) []byte
		if plain {
			if withMembers {
				slugs := make([]string, len(vs))
				for i, v := range vs {
					slugs[i] = v.Slug
				}
				if members, err = g.store.GroupsMemberNames(ctx, g.site.ID, slugs); err != nil {
					return g.fail(ctx, "list", err)
				}
			}
			w.Header().Set("Content-Type", scimContentType)
			flush = func(b []byte) []byte {
				_, _ = w.Write(b)
				return b[:0]
			}
		}
		// As json.Marshal writes a listResponse (itemsPerPage = the number
		// returned).
		b := make([]byte, 0, streamChunk+4<<10)
		b = append(b, `{"schemas":["`+listResponseSchema+`"],"totalResults":`...)
		b = strconv.AppendInt(b, int64(total), 10)
		b = append(b, `,"itemsPerPage":`...)
		b = strconv.AppendInt(b, int64(len(vs)), 10)
		b = append(b, `,"startIndex":`...)
		b = strconv.AppendInt(b, int64(start), 10)
		b = append(b, `,"Resources":[`...)
		for i, v := range vs {
			if i > 0 {
				b = append(b, ',')
			}
			if plain {
				var ms []state.GroupMember
				if withMembers {
					ms = members[i]
				}
				b = appendGroup(b, v, ms, withMembers, base, flush)
				continue
			}
			one, err := g.projected(ctx, v, r, base)
			if err != nil {
				return g.fail(ctx, "list", err)
			}
			b = append(b, one...)
		}
		b = append(b, `]}`...)
		w.Header().Set("Content-Type", scimContentType)
		_, _ = w.Write(b)
		return nil
	}()
	if err != nil {
		writeHandlerError(w, ov, err)
	}
}
