// Package mapping translates between SCIM 2.0 Users (as handed over by
// github.com/elimity-com/scim) and Webflow Membership users.
//
// Everything here is pure: no network, no Redis, no clock. The SCIM server
// package calls these functions from its elimity ResourceHandler:
//
//   - FromAttributes / ToAttributes convert POST/PUT bodies and responses.
//   - NormalizePatchBody runs on the raw PATCH body BEFORE elimity parses
//     it, because elimity fails the whole request on a single op it does
//     not like (manager shapes, value:null, unknown attributes...).
//   - ApplyPatch applies the operations elimity validated; elimity never
//     applies PATCH itself.
//   - RewriteFilter (raw query) and TranslateUserFilter / Matches (parsed
//     AST) implement the filters the IdPs send.
//   - Project implements attributes / excludedAttributes, which elimity
//     ignores.
//
// The Webflow side only knows data.email (immutable after invite), data.name,
// the two consent flags, custom data keys and accessGroups; everything else
// of a SCIM User is stored by the bridge only.
package mapping
