// Package scimserver is the bridge's SCIM 2.0 surface for site Membership:
// one elimity-com/scim server per configured Webflow site, mounted at
// /sites/{siteID}/scim/v2/, with the layers the library needs around it.
//
// From the outside in: recover → access log → path normaliser → mux →
// site lookup + bearer auth → body limit → PATCH/filter normaliser →
// status override → scim.Server → handlers. The library forces every
// status outside its fixed list (429, 503, …) to 500; the status override
// layer restores what the handler meant, so IdPs see 429 and 503 with
// Retry-After, never an opaque 500.
package scimserver
