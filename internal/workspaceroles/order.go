package workspaceroles

import (
	"fmt"
	"strings"
)

// DefaultSiteRoleOrder is the Site role order, highest first, when the
// config gives none: site_manager > designer > marketer > content_editor >
// reviewer. It follows the seats of reference §2.3 (Full: site_manager,
// designer; Limited: marketer, content_editor; Free: reviewer) and, within
// a seat, what the role may do (a designer cannot manage the site; a
// content editor cannot edit what a marketer can). It returns a new slice.
func DefaultSiteRoleOrder() []string {
	return []string{string(SiteManager), string(SiteDesigner), string(SiteMarketer), string(SiteContentEditor), string(SiteReviewer)}
}

// Order ranks the writable Site roles, custom roles included, so that the
// highest of several can be chosen. Every role in an Order has its own
// rank: there are no ties, so the choice never depends on map or group
// order.
type Order struct {
	rank map[SiteAccess]int // higher is more; absent: not ranked
	list []SiteAccess       // highest first
}

// ParseOrder reads an order written highest first, as the config's
// workspace.siteRoleOrder: every writable built-in role exactly once
// (site_manager, designer, marketer, content_editor, reviewer) and each
// custom Site Role as "custom:<id>" where it ranks. An empty list is
// DefaultSiteRoleOrder. Webflow says nothing of where a custom role
// stands, so the config must place every custom role it uses.
func ParseOrder(entries []string) (Order, error) {
	if len(entries) == 0 {
		entries = DefaultSiteRoleOrder()
	}
	o := Order{rank: map[SiteAccess]int{}}
	var errs []string
	for i, e := range entries {
		a, err := ParseSiteAccess(e)
		if err != nil {
			errs = append(errs, fmt.Sprintf("[%d]: %v", i, err))
			continue
		}
		if _, dup := o.rank[a]; dup {
			errs = append(errs, fmt.Sprintf("[%d]: %s is listed twice", i, a))
			continue
		}
		o.rank[a] = len(entries) - i
		o.list = append(o.list, a)
	}
	var missing []string
	for _, r := range DefaultSiteRoleOrder() {
		if _, ok := o.rank[Builtin(SiteRole(r))]; !ok {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		errs = append(errs, "must list every built-in Site role; missing "+strings.Join(missing, ", "))
	}
	if len(errs) > 0 {
		return Order{}, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return o, nil
}

// Ranks reports whether a has a place in o.
func (o Order) Ranks(a SiteAccess) bool { _, ok := o.rank[a]; return ok }

// Higher reports whether a ranks above b. Both must be ranked (see Ranks);
// an unranked role ranks below every ranked one.
func (o Order) Higher(a, b SiteAccess) bool { return o.rank[a] > o.rank[b] }

// List returns the order, highest first, as config writes it.
func (o Order) List() []string {
	out := make([]string, len(o.list))
	for i, a := range o.list {
		out[i] = a.String()
	}
	return out
}
