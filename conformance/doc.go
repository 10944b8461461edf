// Package conformance replays what Okta, Microsoft Entra ID and a scripting
// admin send, over the wire, against a real `bridge demo` process (the
// bridge on its embedded store, in front of the Webflow simulator), and
// checks each answer's status and shape and the effect on the simulated
// Webflow. It is a black-box suite: it knows the bridge only by HTTP.
//
// Run it with `go test ./conformance/`. The binary is built from
// ./cmd/bridge once per run.
package conformance
