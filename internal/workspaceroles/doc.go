// Package workspaceroles turns IdP groups into Webflow Workspace roles and
// per-site access (issue 15), and plans the fewest Workspace Members and
// Site Access writes that bring Webflow to them. It is pure: no network,
// no Redis, no clock.
package workspaceroles
