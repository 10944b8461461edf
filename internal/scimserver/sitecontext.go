package scimserver

import (
	"context"
	"net/http"
	"net/url"
)

// siteContext is the context serveSite hands to a site's handlers: the
// site, the actor (which token authenticated), the request's override
// (errors.go) and its parsed query, in one allocation where four
// context.WithValue layers and their values took eight.
type siteContext struct {
	context.Context
	site  *site
	actor any // a string, boxed once per token (site.actors)
	ov    override
	// query is rawQuery parsed, once: the handlers read it through
	// queryOf instead of parsing the query string again each.
	query    url.Values
	rawQuery string
}

type queryKey struct{}

func (c *siteContext) Value(key any) any {
	switch key.(type) {
	case siteKey:
		return c.site
	case actorKey:
		return c.actor
	case overrideKey:
		return &c.ov
	case queryKey:
		return c
	}
	return c.Context.Value(key)
}

// queryOf is r.URL.Query(), parsed once per request by serveSite. The
// values are shared: read them, never change them.
func queryOf(r *http.Request) url.Values {
	if c, ok := r.Context().Value(queryKey{}).(*siteContext); ok && c.query != nil && c.rawQuery == r.URL.RawQuery {
		return c.query
	}
	return r.URL.Query()
}

// overrideOf returns the override serveSite put in ctx, or a fresh one.
func overrideOf(ctx context.Context) (context.Context, *override) {
	if ov, ok := ctx.Value(overrideKey{}).(*override); ok {
		return ctx, ov
	}
	return withOverride(ctx)
}
