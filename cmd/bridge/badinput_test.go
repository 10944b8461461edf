package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

// The hostile-input corpus of issue 7 ("Bad input"): every request is
// broken or hostile, is sent byte for byte over a raw TCP connection (so
// nothing cleans the path, the headers or the body on the way), and must
// be answered with a 4xx SCIM Error whose detail is useful and leaks
// nothing. Afterwards the bridge's Redis and the simulator must be exactly
// as they were.

const (
	otherSite      = "6f0000000000000000000001"
	otherSiteToken = "other-site-token-0123456789abcdef"
	scimErrorURN   = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// Categories of the corpus.
const (
	catJSON    = "json"    // broken/truncated JSON, wrong types, deep nesting, huge arrays
	catSize    = "size"    // oversized bodies and headers
	catUnicode = "unicode" // invalid UTF-8 and odd Unicode in names and emails
	catFilter  = "filter"  // invalid and hostile filters, paging parameters
	catSchema  = "schema"  // unknown/missing schemas, invalid PATCH paths and ops
	catMethod  = "method"  // wrong content types and methods
	catAuth    = "auth"    // missing, malformed or other-site tokens
	catIDs     = "ids"     // ids of another site, hostile ids and paths
)

// hostileCase is one raw request.
type hostileCase struct {
	cat    string
	name   string
	method string
	path   string // the request-target exactly as written on the wire
	auth   string // "" = the surface's own token; "-" = no Authorization; else the header value
	ct     string // "" = application/scim+json when there is a body; "-" = none
	hdr    []string
	body   []byte
	// legal marks a request that is odd but valid: 2xx is the right answer.
	legal bool
	// want, if set, is the exact status expected.
	want int
	// serverLayer marks requests Go's HTTP server itself refuses before
	// any handler runs (malformed header bytes, headers over
	// MaxHeaderBytes): a 4xx without a SCIM body is accepted there.
	serverLayer bool
	// declaredLen, if set, is the Content-Length sent instead of the
	// body's; the write side is then closed after the body.
	declaredLen int
}

type rawAnswer struct {
	status int
	header http.Header
	body   []byte
}

// sendRaw writes the request on a fresh connection and reads the answer.
func sendRaw(t *testing.T, addr string, c hostileCase) (rawAnswer, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return rawAnswer{}, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: bridge.test\r\nConnection: close\r\nUser-Agent: hostile-corpus\r\n", c.method, c.path)
	switch c.auth {
	case "":
		fmt.Fprintf(&b, "Authorization: Bearer %s\r\n", surfaceToken(c.path))
	case "-":
	default:
		fmt.Fprintf(&b, "Authorization: %s\r\n", c.auth)
	}
	chunked := false
	for i := 0; i+1 < len(c.hdr); i += 2 {
		if strings.EqualFold(c.hdr[i], "Transfer-Encoding") {
			chunked = true
		}
		fmt.Fprintf(&b, "%s: %s\r\n", c.hdr[i], c.hdr[i+1])
	}
	if c.body != nil {
		switch c.ct {
		case "":
			b.WriteString("Content-Type: application/scim+json\r\n")
		case "-":
		default:
			fmt.Fprintf(&b, "Content-Type: %s\r\n", c.ct)
		}
		switch {
		case c.declaredLen > 0:
			fmt.Fprintf(&b, "Content-Length: %d\r\n", c.declaredLen)
		case !chunked:
			fmt.Fprintf(&b, "Content-Length: %d\r\n", len(c.body))
		}
	}
	b.WriteString("\r\n")
	b.Write(c.body)
	// Write while reading: the server may answer (413) before it has read
	// everything.
	werr := make(chan error, 1)
	go func() {
		_, err := conn.Write(b.Bytes())
		if c.declaredLen > 0 {
			_ = conn.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	req := &http.Request{Method: c.method}
	res, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return rawAnswer{}, fmt.Errorf("reading the answer: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	_ = conn.Close()
	<-werr
	return rawAnswer{status: res.StatusCode, header: res.Header, body: body}, nil
}

func surfaceToken(path string) string {
	switch {
	case strings.HasPrefix(path, workspacePrefix):
		return testWorkspaceToken
	case strings.HasPrefix(path, "/identity"):
		return testAdminToken
	case strings.HasPrefix(path, "/sites/"+otherSite):
		return otherSiteToken
	}
	return testToken
}

// storeSnapshot reads every key of the bridge's Redis, type-aware. Keys
// that legitimately change on reads are left out (see hostileExcluded).
func storeSnapshot(t *testing.T, h *bridgeHarness) map[string]string {
	t.Helper()
	ctx := context.Background()
	// This bridge's keys only: on a shared real Redis (REDIS_URL) other
	// test packages write under their own prefixes at the same time.
	pattern := "*"
	if h.prefix != "" {
		pattern = h.prefix + ":*"
	}
	var keys []string
	err := state.ForEachKey(ctx, h.app.rdb, pattern, func(k string) error { keys = append(keys, k); return nil })
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range keys {
		if hostileExcluded(k) {
			continue
		}
		typ, err := h.app.rdb.Type(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		var v any
		switch typ {
		case "string":
			v, err = h.app.rdb.Get(ctx, k).Result()
		case "hash":
			v, err = h.app.rdb.HGetAll(ctx, k).Result()
		case "set":
			var m []string
			m, err = h.app.rdb.SMembers(ctx, k).Result()
			sort.Strings(m)
			v = m
		case "zset":
			v, err = h.app.rdb.ZRangeWithScores(ctx, k, 0, -1).Result()
		case "list":
			v, err = h.app.rdb.LRange(ctx, k, 0, -1).Result()
		case "stream":
			v, err = h.app.rdb.XRange(ctx, k, "-", "+").Result()
		default:
			t.Fatalf("key %q has type %q, which the snapshot does not read", k, typ)
		}
		if err != nil {
			t.Fatalf("reading %q: %v", k, err)
		}
		j, _ := json.Marshal(v)
		out[typ+" "+k] = string(j)
	}
	return out
}

// hostileExcluded names the keys a read may legitimately touch:
//   - "{t:<fingerprint>}:..." are the Webflow rate limiter's GCRA state
//     (gcra, pause, limit): every proxied or refreshing call moves them.
//
// Nothing else is excluded: user records, indexes, groups, memberships,
// the membership queue, the access-group cache and collaborator links
// must all be byte-for-byte unchanged.
func hostileExcluded(k string) bool {
	return strings.Contains(k, "{t:")
}

type simSnapshot struct {
	Users, OtherUsers, SCIMUsers, Invites, AccessGroups string
}

func takeSimSnapshot(h *bridgeHarness) simSnapshot {
	j := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	return simSnapshot{
		Users:        j(h.sim.Users(testSite)),
		OtherUsers:   j(h.sim.Users(otherSite)),
		SCIMUsers:    j(h.sim.SCIMUsers()),
		Invites:      j(h.sim.Invites()),
		AccessGroups: j(h.sim.AccessGroups(testSite)),
	}
}

func nest(open, close string, depth int, inner string) string {
	return strings.Repeat(open, depth) + inner + strings.Repeat(close, depth)
}

// TestHostileInput is the bad-input corpus of issue 7.
func TestHostileInput(t *testing.T) {
	h := newBridge(t, func(c *config.Config) {
		c.Sites = append(c.Sites, config.SiteConfig{ID: otherSite, WebflowToken: webflowsim.DemoSiteToken, SCIMTokens: []string{otherSiteToken}})
	}, withWorkspaceGroups)
	// Site B exists in Webflow too, and the bridge's Webflow token reaches
	// it, so "not found on site B" is Webflow's honest answer.
	seed := webflowsim.DemoSeed()
	var tok webflowsim.SeedToken
	for _, st := range seed.Tokens {
		if st.Token == webflowsim.DemoSiteToken {
			tok = st
		}
	}
	tok.Sites = append(append([]string(nil), tok.Sites...), otherSite)
	siteB := webflowsim.SeedSite{ID: otherSite, DisplayName: "Other site", AccessGroups: seed.Sites[0].AccessGroups}
	if err := h.sim.LoadSeed(webflowsim.Seed{Tokens: []webflowsim.SeedToken{tok}, Sites: []webflowsim.SeedSite{siteB}}); err != nil {
		t.Fatal(err)
	}
	// The corpus goes to the app behind an http.Server configured as
	// `bridge serve` configures it (MaxHeaderBytes and timeouts).
	prod := httptest.NewUnstartedServer(h.app.handler)
	prod.Config = newHTTPServer("", h.app.handler)
	prod.Start()
	t.Cleanup(prod.Close)
	addr := strings.TrimPrefix(prod.URL, "http://")

	// ---- seed ----
	alice, bob := h.newUser("alice@example.com"), h.newUser("bob@example.com")
	carol := h.newUser("carol@example.com")
	gid := str(h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Staff",
		"members": []map[string]any{{"value": alice}, {"value": bob}}})).Body, "id")
	h.drain()
	if h.slugs("alice@example.com") != "staff" {
		t.Fatalf("seed: alice's groups %q", h.slugs("alice@example.com"))
	}
	c := h.wsDo("POST", "/Users", collabBody)
	if c.Status != 201 {
		t.Fatalf("seed collaborator: %d %s", c.Status, c.Raw)
	}
	cid := str(c.Body, "id")
	// A workspace group (issue 15) with the collaborator in it, applied.
	wg := h.wsDo("POST", "/Groups", fmt.Sprintf(`{"displayName":"Marketing","members":[{"value":%q}]}`, cid))
	if wg.Status != 201 {
		t.Fatalf("seed workspace group: %d %s", wg.Status, wg.Raw)
	}
	wgid := str(wg.Body, "id")
	if err := h.app.wsRoles.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Warm what reads would otherwise fill on first use (the access-group
	// cache), so the snapshot is taken in the steady state.
	h.must(200, h.do("GET", "/Groups", nil))
	h.must(200, h.do("GET", "/Users", nil))
	for _, p := range []string{"/Groups", "/Users"} {
		h.must(200, h.do("GET", h.ts.URL+"/sites/"+otherSite+"/scim/v2"+p, nil, "Authorization", "Bearer "+otherSiteToken))
	}
	h.drain()

	// mike@example.com signed up on the site: a Webflow user the bridge
	// never provisioned, whose id the corpus asks about.
	stranger, ok := h.webflowUser("mike@example.com")
	if !ok {
		t.Fatal("seed: mike@example.com")
	}
	// premium is an access group no IdP linked: not a SCIM Group.
	var premium string
	for _, ag := range h.sim.AccessGroups(testSite) {
		if ag.Slug == "premium" {
			premium = ag.ID
		}
	}
	corpus := hostileCorpus(alice, bob, carol, gid, cid, stranger.ID, premium)
	corpus = append(corpus, workspaceGroupCases(cid, wgid)...)
	before := storeSnapshot(t, h)
	simBefore := takeSimSnapshot(h)
	h.sim.ResetRequests()

	perCat := map[string]int{}
	perStatus := map[int]int{}
	perCatStatus := map[string]map[int]int{}
	leaks := []string{"runtime error", "panic", "goroutine", "nil pointer", "dial tcp", "127.0.0.1:", "[::1]", "0x",
		testToken, testWorkspaceToken, testAdminToken, otherSiteToken, webflowsim.DemoSiteToken, webflowsim.DemoSCIMToken}
	start := time.Now()
	for i, c := range corpus {
		label := fmt.Sprintf("#%d %s/%s %s %.80s", i, c.cat, c.name, c.method, c.path)
		perCat[c.cat]++
		a, err := sendRaw(t, addr, c)
		if err != nil {
			t.Errorf("%s: %v", label, err)
			continue
		}
		perStatus[a.status]++
		if perCatStatus[c.cat] == nil {
			perCatStatus[c.cat] = map[int]int{}
		}
		perCatStatus[c.cat][a.status]++
		switch {
		case c.want != 0 && a.status != c.want:
			t.Errorf("%s: status %d, want %d: %.300s", label, a.status, c.want, a.body)
		case c.legal && (a.status < 200 || a.status > 299):
			t.Errorf("%s: odd but legal request answered %d: %.300s", label, a.status, a.body)
		case !c.legal && (a.status < 400 || a.status > 499):
			t.Errorf("%s: status %d, want a 4xx: %.300s", label, a.status, a.body)
		}
		if a.status < 400 || c.method == http.MethodHead {
			continue
		}
		if c.serverLayer && !strings.HasPrefix(a.header.Get("Content-Type"), "application/scim+json") {
			continue // Go's server answered before any handler ran
		}
		if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
			t.Errorf("%s: %d with Content-Type %q: %.300s", label, a.status, ct, a.body)
		}
		var e struct {
			Schemas []string `json:"schemas"`
			Status  any      `json:"status"`
			Detail  string   `json:"detail"`
		}
		if err := json.Unmarshal(a.body, &e); err != nil {
			t.Errorf("%s: %d body is not JSON: %.300s", label, a.status, a.body)
			continue
		}
		if len(e.Schemas) != 1 || e.Schemas[0] != scimErrorURN {
			t.Errorf("%s: %d body is not a SCIM Error: %.300s", label, a.status, a.body)
		}
		if e.Status != strconv.Itoa(a.status) {
			t.Errorf("%s: status %d but body status %#v", label, a.status, e.Status)
		}
		if len(e.Detail) <= 10 || e.Detail == http.StatusText(a.status) {
			t.Errorf("%s: %d detail is not useful: %q", label, a.status, e.Detail)
		}
		for _, l := range leaks {
			if strings.Contains(e.Detail, l) {
				t.Errorf("%s: %d detail leaks %q: %.300s", label, a.status, l, e.Detail)
			}
		}
	}
	elapsed := time.Since(start)
	h.drain()

	// ---- state ----
	after := storeSnapshot(t, h)
	for k, v := range before {
		if w, ok := after[k]; !ok {
			t.Errorf("store: key %s disappeared", k)
		} else if w != v {
			t.Errorf("store: key %s changed:\n before %.400s\n after  %.400s", k, v, w)
		}
	}
	for k, v := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("store: new key %s = %.400s", k, v)
		}
	}
	if simAfter := takeSimSnapshot(h); !reflect.DeepEqual(simBefore, simAfter) {
		t.Errorf("simulator state changed:\n before %+v\n after  %+v", simBefore, simAfter)
	}
	// No write reached Webflow's Data API. The workspace passthrough is a
	// relay: it forwards well-formed JSON for Webflow to judge, so a write
	// there may reach the simulator, but only to be refused.
	relayed := 0
	for _, r := range h.sim.Requests() {
		if r.Method == http.MethodGet {
			continue
		}
		if strings.HasPrefix(r.Path, "/scim/") && r.Status >= 400 && r.Status < 500 {
			relayed++
			continue
		}
		t.Errorf("simulator saw a write during the corpus: %s %s → %d", r.Method, r.Path, r.Status)
	}
	// Ids the bridge does not hold cost no Webflow call at all, not even a
	// read (issue 14: outside a rebuild an unknown id is 404 at once).
	for _, r := range h.sim.Requests() {
		if p := strings.ToLower(r.Path); strings.Contains(p, stranger.ID) || strings.Contains(p, unknownHexID) {
			t.Errorf("an id the bridge does not hold reached Webflow: %s %s → %d", r.Method, r.Path, r.Status)
		}
	}

	// ---- summary ----
	cats := make([]string, 0, len(perCat))
	for k := range perCat {
		cats = append(cats, k)
	}
	sort.Strings(cats)
	legal := 0
	for _, c := range corpus {
		if c.legal {
			legal++
		}
	}
	t.Logf("hostile corpus: %d requests (%d odd-but-legal) in %s; %d refused writes relayed to Webflow's SCIM by the passthrough",
		len(corpus), legal, elapsed.Round(time.Millisecond), relayed)
	for _, k := range cats {
		t.Logf("  %-8s %3d  statuses %v", k, perCat[k], perCatStatus[k])
	}
	t.Logf("  all statuses: %v", perStatus)
	if len(corpus) < 200 {
		t.Errorf("the corpus has %d requests; the issue asks for at least 200", len(corpus))
	}
	if legal*10 > len(corpus) {
		t.Errorf("%d of %d cases are legal: keep them a small minority", legal, len(corpus))
	}
}

// workspaceGroupCases are the hostile requests of the workspace groups
// surface (issue 15): wgid is the group "Marketing" with cid in it.
func workspaceGroupCases(cid, wgid string) []hostileCase {
	G := workspacePrefix + "/Groups"
	GI := G + "/" + wgid
	grp := func(attrs string) []byte {
		return []byte(`{"schemas":["` + groupSchema + `"],` + attrs + `}`)
	}
	patchOps := func(ops string) []byte {
		return []byte(`{"schemas":["` + patchSchema + `"],"Operations":` + ops + `}`)
	}
	fq := func(f string) string { return "?filter=" + url.QueryEscape(f) }
	var cs []hostileCase
	add := func(cat, name, method, path string, body []byte, mods ...func(*hostileCase)) {
		c := hostileCase{cat: cat, name: "wsg-" + name, method: method, path: path, body: body}
		for _, m := range mods {
			m(&c)
		}
		cs = append(cs, c)
	}
	want := func(s int) func(*hostileCase) { return func(c *hostileCase) { c.want = s } }
	auth := func(v string) func(*hostileCase) { return func(c *hostileCase) { c.auth = v } }

	add(catJSON, "post-truncated", "POST", G, grp(`"displayName":"Engineering"`)[:30])
	add(catJSON, "post-not-object", "POST", G, []byte(`["displayName"]`))
	add(catJSON, "post-displayName-number", "POST", G, grp(`"displayName":42`))
	add(catJSON, "post-members-string", "POST", G, grp(`"displayName":"Engineering","members":"x"`))
	add(catJSON, "post-member-value-number", "POST", G, grp(`"displayName":"Engineering","members":[{"value":42}]`))
	add(catJSON, "post-member-no-value", "POST", G, grp(`"displayName":"Engineering","members":[{"display":"x"}]`))
	add(catJSON, "post-externalId-object", "POST", G, grp(`"displayName":"Engineering","externalId":{}`))
	add(catSchema, "post-unconfigured-name", "POST", G, grp(`"displayName":"Sales"`), want(400))
	add(catSchema, "post-empty-name", "POST", G, grp(`"displayName":"  "`), want(400))
	add(catSchema, "post-taken-name", "POST", G, grp(`"displayName":"marketing"`), want(409))
	add(catIDs, "post-unknown-member", "POST", G, grp(`"displayName":"Engineering","members":[{"value":"no-such-user-0001"}]`), want(400))
	add(catIDs, "post-hostile-member", "POST", G, grp(`"displayName":"Engineering","members":[{"value":"../../Users"}]`), want(400))
	add(catIDs, "put-unknown-member", "PUT", GI, grp(`"displayName":"Marketing","members":[{"value":"no-such-user-0002"}]`), want(400))
	add(catSchema, "put-unconfigured-name", "PUT", GI, grp(`"displayName":"Sales","members":[{"value":"`+cid+`"}]`), want(400))
	add(catIDs, "patch-unknown-group", "PATCH", G+"/0123456789abcdef0123456789abcdef", patchOps(`[{"op":"add","path":"members","value":[{"value":"`+cid+`"}]}]`), want(404))
	add(catIDs, "get-malformed-id", "GET", G+"/..%2F..%2FUsers", nil, want(404))
	add(catIDs, "delete-unknown-group", "DELETE", G+"/0123456789abcdef0123456789abcdee", nil, want(404))
	add(catIDs, "patch-add-unknown-member", "PATCH", GI, patchOps(`[{"op":"add","path":"members","value":[{"value":"no-such-user-0003"}]}]`), want(400))
	add(catSchema, "patch-rename-unconfigured", "PATCH", GI, patchOps(`[{"op":"replace","value":{"displayName":"Sales"}}]`), want(400))
	add(catSchema, "patch-op-move", "PATCH", GI, patchOps(`[{"op":"move","path":"members","value":[]}]`))
	add(catSchema, "patch-no-operations", "PATCH", GI, []byte(`{"schemas":["`+patchSchema+`"]}`))
	add(catSchema, "patch-members-bad-filter", "PATCH", GI, patchOps(`[{"op":"remove","path":"members[display eq \"x\"]"}]`))
	add(catJSON, "patch-truncated", "PATCH", GI, patchOps(`[{"op":"add"`))
	add(catSize, "patch-too-many-ops", "PATCH", GI, patchOps("["+strings.TrimSuffix(strings.Repeat(`{"op":"remove","path":"members[value eq \"x\"]"},`, 1001), ",")+"]"), want(400))
	add(catSize, "post-over-1MiB", "POST", G, grp(`"displayName":"Engineering","externalId":"`+strings.Repeat("x", 1<<20)+`"`), want(413))
	add(catFilter, "filter-co", "GET", G+fq(`displayName co "x"`), nil, want(400))
	add(catFilter, "filter-or", "GET", G+fq(`displayName eq "a" or id eq "b"`), nil, want(400))
	add(catFilter, "filter-unparsable", "GET", G+fq(`displayName eq`), nil, want(400))
	add(catFilter, "filter-members-display", "GET", G+fq(`members[display eq "x"]`), nil, want(400))
	add(catFilter, "filter-deep", "GET", G+fq(strings.Repeat("(", 200)+`id eq "x"`+strings.Repeat(")", 200)), nil, want(400))
	add(catMethod, "post-ct-text", "POST", G, grp(`"displayName":"Engineering"`), func(c *hostileCase) { c.ct = "text/plain" }, want(415))
	add(catMethod, "patch-ct-form", "PATCH", GI, patchOps(`[{"op":"remove","path":"members"}]`), func(c *hostileCase) { c.ct = "application/x-www-form-urlencoded" }, want(415))
	add(catMethod, "post-to-id", "POST", GI, grp(`"displayName":"Marketing"`), want(405))
	add(catAuth, "no-token", "GET", G, nil, auth("-"), want(401))
	add(catAuth, "queue-no-token", "GET", "/workspace/admin/memberships", nil, auth("-"), want(401))
	add(catAuth, "queue-site-token", "GET", "/workspace/admin/memberships", nil, auth("Bearer "+testToken), want(401))
	add(catMethod, "queue-post", "POST", "/workspace/admin/memberships", []byte(`{}`), auth("Bearer "+testWorkspaceToken), want(405))
	add(catAuth, "site-token", "PATCH", GI, patchOps(`[{"op":"remove","path":"members"}]`), auth("Bearer "+testToken), want(401))
	return cs
}

// unknownHexID is a Webflow-shaped id nobody holds.
const unknownHexID = "65a1b2c3d4e5f60718293a4b"

// hostileCorpus builds the requests. alice and bob are members of group
// gid; carol is in no group; cid is a workspace collaborator; stranger is
// the Webflow id of a user the bridge never provisioned; unlinked is the
// id of an access group no IdP linked.
func hostileCorpus(alice, bob, carol, gid, cid, stranger, unlinked string) []hostileCase {
	S := "/sites/" + testSite + "/scim/v2"
	O := "/sites/" + otherSite + "/scim/v2"
	W := workspacePrefix
	U, G := S+"/Users", S+"/Groups"
	UA, GA := U+"/"+alice, G+"/"+gid
	WU, WC := W+"/Users", W+"/Users/"+cid
	Q := S[:len(S)-len("/scim/v2")] + "/admin/memberships"
	user := func(attrs string) []byte {
		return []byte(`{"schemas":["` + userSchema + `"],` + attrs + `}`)
	}
	group := func(attrs string) []byte {
		return []byte(`{"schemas":["` + groupSchema + `"],` + attrs + `}`)
	}
	patchOps := func(ops string) []byte {
		return []byte(`{"schemas":["` + patchSchema + `"],"Operations":` + ops + `}`)
	}
	fq := func(f string) string { return "?filter=" + url.QueryEscape(f) }

	var cs []hostileCase
	add := func(cat, name, method, path string, body []byte, mods ...func(*hostileCase)) {
		c := hostileCase{cat: cat, name: name, method: method, path: path, body: body}
		for _, m := range mods {
			m(&c)
		}
		cs = append(cs, c)
	}
	legal := func(c *hostileCase) { c.legal = true }
	want := func(s int) func(*hostileCase) { return func(c *hostileCase) { c.want = s } }
	auth := func(v string) func(*hostileCase) { return func(c *hostileCase) { c.auth = v } }
	ct := func(v string) func(*hostileCase) { return func(c *hostileCase) { c.ct = v } }
	hdr := func(kv ...string) func(*hostileCase) { return func(c *hostileCase) { c.hdr = append(c.hdr, kv...) } }
	serverLayer := func(c *hostileCase) { c.serverLayer = true }

	// ---- broken and truncated JSON ----
	okUser := string(user(`"userName":"new1@example.com","active":true`))
	okGroup := string(group(`"displayName":"Staff"`))
	okPatch := string(patchOps(`[{"op":"replace","path":"active","value":false}]`))
	broken := map[string]string{
		"empty-object-brace": `{`,
		"truncated-half":     okUser[:len(okUser)/2],
		"truncated-last":     okUser[:len(okUser)-1],
		"trailing-garbage":   okUser + `}`,
		"two-documents":      okUser + okUser,
		"single-quotes":      `{'schemas':['` + userSchema + `'],'userName':'x@example.com'}`,
		"trailing-comma":     `{"schemas":["` + userSchema + `"],"userName":"x@example.com",}`,
		"unquoted-key":       `{schemas:["` + userSchema + `"]}`,
		"raw-nul":            "{\"userName\":\"a\x00b@example.com\"}",
		"bare-string":        `"x@example.com"`,
		"null":               `null`,
		"array":              `[` + okUser + `]`,
		"number":             `42`,
		"whitespace-only":    "   \n\t ",
		"comment":            `{/*c*/"userName":"x@example.com"}`,
		"nan":                `{"schemas":["` + userSchema + `"],"userName":"x@example.com","active":NaN}`,
		"bad-escape":         `{"schemas":["` + userSchema + `"],"userName":"x\q@example.com"}`,
		"unterminated-str":   `{"schemas":["` + userSchema + `"],"userName":"x@example.com`,
	}
	names := make([]string, 0, len(broken))
	for k := range broken {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		add(catJSON, "post-user-"+k, "POST", U, []byte(broken[k]))
	}
	for _, k := range []string{"empty-object-brace", "truncated-half", "trailing-garbage", "null", "array", "bare-string"} {
		add(catJSON, "patch-user-"+k, "PATCH", UA, []byte(broken[k]))
		add(catJSON, "put-user-"+k, "PUT", UA, []byte(broken[k]))
		add(catJSON, "ws-post-"+k, "POST", WU, []byte(broken[k]))
	}
	add(catJSON, "post-group-truncated", "POST", G, []byte(okGroup[:len(okGroup)-3]))
	add(catJSON, "patch-group-truncated", "PATCH", GA, []byte(okPatch[:len(okPatch)-2]))
	add(catJSON, "put-group-truncated", "PUT", GA, []byte(okGroup[:20]))
	add(catJSON, "ws-patch-truncated", "PATCH", WC, []byte(okPatch[:len(okPatch)-2]))
	add(catJSON, "ws-put-truncated", "PUT", WC, []byte(collabBody[:40]))
	add(catJSON, "post-user-empty-body", "POST", U, []byte{})

	// ---- wrong JSON types ----
	for _, v := range []string{`42`, `["x@example.com"]`, `{"value":"x@example.com"}`, `true`, `null`} {
		add(catJSON, "userName-as-"+v, "POST", U, user(`"userName":`+v))
	}
	for _, v := range []string{`"maybe"`, `[]`, `{}`, `2`} {
		add(catJSON, "active-as-"+v, "POST", U, user(`"userName":"t1@example.com","active":`+v))
	}
	for _, v := range []string{`"x@example.com"`, `42`, `{"value":42}`, `[42]`, `[{"value":["a@example.com"]}]`, `[{"value":"a@example.com","primary":"perhaps"}]`} {
		add(catJSON, "emails-as-"+v, "POST", U, user(`"userName":"t2@example.com","emails":`+v))
	}
	for _, v := range []string{`"Jane Doe"`, `42`, `["Jane"]`, `{"givenName":42}`} {
		add(catJSON, "name-as-"+v, "POST", U, user(`"userName":"t3@example.com","name":`+v))
	}
	add(catJSON, "schemas-as-string", "POST", U, []byte(`{"schemas":"`+userSchema+`","userName":"t4@example.com"}`))
	add(catJSON, "displayName-as-object", "POST", U, user(`"userName":"t5@example.com","displayName":{"x":1}`))
	add(catJSON, "externalId-as-array", "POST", U, user(`"userName":"t6@example.com","externalId":[1,2]`))
	// (A single {"value": id} object is accepted on purpose: memberIDs.)
	for _, v := range []string{`{"value":{"nested":1}}`, `42`, `"` + alice + `"`, `[42]`, `[{"value":42}]`} {
		add(catJSON, "members-as-"+v, "POST", G, group(`"displayName":"Premium","members":`+v))
		add(catJSON, "put-members-as-"+v, "PUT", GA, group(`"displayName":"Staff","members":`+v))
	}
	add(catJSON, "group-displayName-number", "POST", G, group(`"displayName":42`))
	for name, ops := range map[string]string{"object": `{"op":"replace","path":"active","value":false}`, "null": `null`, "empty": `[]`, "string": `"replace"`, "array-of-numbers": `[1,2]`} {
		add(catJSON, "Operations-"+name, "PATCH", UA, patchOps(ops))
		add(catJSON, "group-Operations-"+name, "PATCH", GA, patchOps(ops))
	}
	add(catJSON, "ws-Operations-null", "PATCH", WC, patchOps(`null`))
	add(catJSON, "ws-Operations-object", "PATCH", WC, patchOps(`{"op":"replace"}`))
	add(catJSON, "op-as-number", "PATCH", UA, patchOps(`[{"op":1,"path":"active","value":false}]`))
	add(catJSON, "path-as-number", "PATCH", UA, patchOps(`[{"op":"replace","path":7,"value":false}]`))
	add(catJSON, "value-active-maybe", "PATCH", UA, patchOps(`[{"op":"replace","path":"active","value":"maybe"}]`))
	add(catJSON, "group-op-as-number", "PATCH", GA, patchOps(`[{"op":1,"path":"members","value":[]}]`))
	add(catJSON, "group-path-as-number", "PATCH", GA, patchOps(`[{"op":"add","path":7,"value":[]}]`))
	add(catJSON, "group-members-value-object", "PATCH", GA, patchOps(`[{"op":"add","path":"members","value":{"value":42}}]`))
	add(catJSON, "ws-userName-number", "POST", WU, user(`"userName":42`))
	add(catJSON, "ws-active-maybe", "POST", WU, user(`"userName":"ws1@example.com","active":"maybe"`))
	add(catJSON, "ws-emails-number", "POST", WU, user(`"userName":"ws2@example.com","emails":42`))
	add(catJSON, "ws-patch-active-maybe", "PATCH", WC, patchOps(`[{"op":"replace","path":"active","value":"maybe"}]`))
	// PATCH values are checked as POST and PUT bodies are (issue 14 point
	// 5): a wrong type is 400 invalidValue, add or replace without a value
	// 400 invalidSyntax; before, most were coerced and stored.
	ext := "urn:ietf:params:scim:schemas:extension:webflow:2.0:User"
	for _, c := range []struct{ name, ops string }{
		{"userName-number", `[{"op":"replace","path":"userName","value":42}]`},
		{"userName-number-pathless", `[{"op":"replace","value":{"userName":42}}]`},
		{"displayName-object", `[{"op":"replace","path":"displayName","value":{"x":1}}]`},
		{"displayName-boolean", `[{"op":"Replace","path":"displayName","value":true}]`},
		{"externalId-list", `[{"op":"add","path":"externalId","value":[1]}]`},
		{"nickName-number-core-container", `[{"op":"replace","value":{"` + userSchema + `":{"nickName":7}}}]`},
		{"core-container-string", `[{"op":"replace","value":{"` + userSchema + `":"x"}}]`},
		{"givenName-number", `[{"op":"replace","path":"name.givenName","value":5}]`},
		{"familyName-number-dotted", `[{"op":"replace","value":{"name.familyName":5}}]`},
		{"name-sub-number-in-object", `[{"op":"replace","path":"name","value":{"givenName":{"x":1}}}]`},
		{"name-string", `[{"op":"replace","path":"name","value":"Jane Doe"}]`},
		{"emails-string", `[{"op":"replace","path":"emails","value":"x@example.com"}]`},
		{"emails-list-of-strings", `[{"op":"add","path":"emails","value":["x@example.com"]}]`},
		{"emails-value-number", `[{"op":"add","path":"emails","value":[{"value":42}]}]`},
		{"emails-type-object", `[{"op":"add","path":"emails","value":[{"value":"x@example.com","type":{}}]}]`},
		{"emails-primary-maybe", `[{"op":"replace","path":"emails","value":[{"value":"alice@example.com","primary":"maybe"}]}]`},
		{"work-email-number", `[{"op":"Replace","path":"emails[type eq \"work\"].value","value":5}]`},
		{"work-email-element-string", `[{"op":"replace","path":"emails[type eq \"work\"]","value":"x@example.com"}]`},
		{"remove-listed-emails-number", `[{"op":"remove","path":"emails","value":[{"value":7}]}]`},
		{"active-zero", `[{"op":"replace","path":"active","value":0}]`},
		{"active-object-pathless", `[{"op":"replace","value":{"active":{}}}]`},
		{"data-number", `[{"op":"replace","path":"` + ext + `:data","value":5}]`},
		{"consent-number", `[{"op":"replace","path":"` + ext + `:data.accept-privacy","value":1}]`},
		{"ext-container-list", `[{"op":"replace","value":{"` + ext + `":[]}}]`},
		{"pathless-value-string", `[{"op":"replace","value":"active"}]`},
		{"valid-then-wrong", `[{"op":"replace","path":"displayName","value":"A"},{"op":"replace","path":"title","value":7}]`},
	} {
		add(catJSON, "patch-value-"+c.name, "PATCH", UA, patchOps(c.ops), want(400))
	}
	for _, c := range []struct{ name, ops string }{
		{"replace-with-path", `[{"op":"replace","path":"displayName"}]`},
		{"add-with-path", `[{"op":"Add","path":"nickName"}]`},
		{"replace-pathless", `[{"op":"replace"}]`},
		{"add-pathless-null-path", `[{"op":"add","path":null}]`},
		{"deactivate-then-valueless", `[{"op":"replace","value":{"active":false}},{"op":"add","path":"title"}]`},
	} {
		add(catSchema, "patch-no-value-"+c.name, "PATCH", UA, patchOps(c.ops), want(400))
	}
	for _, c := range []struct{ name, ops string }{
		{"displayName-number", `[{"op":"replace","path":"displayName","value":42}]`},
		{"displayName-number-pathless", `[{"op":"replace","value":{"id":"x","displayName":42}}]`},
		{"externalId-object", `[{"op":"replace","path":"externalId","value":{"a":1}}]`},
		{"members-string", `[{"op":"add","path":"members","value":"` + carol + `"}]`},
		{"members-list-of-strings", `[{"op":"replace","path":"members","value":["` + carol + `"]}]`},
		{"members-display-number", `[{"op":"add","path":"members","value":[{"value":"` + carol + `","display":5}]}]`},
		{"remove-listed-members-number", `[{"op":"Remove","path":"members","value":[{"value":7}]}]`},
	} {
		add(catJSON, "group-patch-value-"+c.name, "PATCH", GA, patchOps(c.ops), want(400))
	}
	for _, o := range []string{"replace", "add"} {
		// On the old main a replace of members without a value emptied the group.
		add(catSchema, "group-patch-no-value-"+o+"-members", "PATCH", GA, patchOps(`[{"op":"`+o+`","path":"members"}]`), want(400))
	}

	// ---- deep nesting and huge arrays ----
	add(catJSON, "deep-arrays-in-displayName", "POST", U, user(`"userName":"d1@example.com","displayName":`+nest("[", "]", 10000, "1")))
	add(catJSON, "deep-objects-in-name", "POST", U, user(`"userName":"d2@example.com","name":`+nest(`{"a":`, "}", 10000, "1")))
	add(catJSON, "deep-arrays-in-patch-value", "PATCH", UA, patchOps(`[{"op":"replace","path":"displayName","value":`+nest("[", "]", 10000, "1")+`}]`))
	add(catJSON, "deep-objects-in-group", "POST", G, group(`"displayName":"Premium","members":`+nest(`{"a":`, "}", 10000, "1")))
	add(catJSON, "deep-arrays-top-level", "POST", U, []byte(nest("[", "]", 50000, "")))
	add(catJSON, "ws-deep-arrays", "POST", WU, []byte(nest("[", "]", 20000, "")))
	add(catJSON, "huge-emails-array", "POST", U, user(`"userName":"h1@example.com","emails":[`+strings.TrimSuffix(strings.Repeat(`{"value":1},`, 60000), ",")+`]`))
	add(catJSON, "huge-members-array", "POST", G, group(`"displayName":"Premium","members":[`+strings.TrimSuffix(strings.Repeat(`{"value":"000000000000000000000000"},`, 25000), ",")+`]`))
	add(catJSON, "huge-operations-array", "PATCH", UA, patchOps(`[`+strings.TrimSuffix(strings.Repeat(`{"op":"move","path":"active"},`, 25000), ",")+`]`))
	add(catJSON, "huge-schemas-array", "POST", U, []byte(`{"schemas":[`+strings.TrimSuffix(strings.Repeat(`"urn:x",`, 100000), ",")+`],"userName":"h2@example.com"}`))

	// ---- oversized bodies and headers ----
	pad := func(n int) string { return strings.Repeat("a", n) }
	over := (1 << 20) + 1
	add(catSize, "post-user-just-over-1MiB", "POST", U, user(`"userName":"big@example.com","displayName":"`+pad(over)+`"`), want(413))
	add(catSize, "patch-user-2MiB", "PATCH", UA, patchOps(`[{"op":"replace","path":"displayName","value":"`+pad(2<<20)+`"}]`), want(413))
	add(catSize, "put-user-just-over", "PUT", UA, user(`"userName":"alice@example.com","displayName":"`+pad(over)+`"`), want(413))
	add(catSize, "post-group-just-over", "POST", G, group(`"displayName":"`+pad(over)+`"`), want(413))
	add(catSize, "patch-group-just-over", "PATCH", GA, patchOps(`[{"op":"add","path":"members","value":[{"value":"`+pad(over)+`"}]}]`), want(413))
	add(catSize, "ws-post-just-over", "POST", WU, user(`"userName":"big@example.com","displayName":"`+pad(over)+`"`), want(413))
	add(catSize, "ws-patch-just-over", "PATCH", WC, patchOps(`[{"op":"replace","path":"displayName","value":"`+pad(over)+`"}]`), want(413))
	add(catSize, "chunked-over-1MiB", "POST", U, chunk(user(`"userName":"big@example.com","displayName":"`+pad(over)+`"`)), hdr("Transfer-Encoding", "chunked"), want(413))
	add(catSize, "ws-chunked-over-1MiB", "POST", WU, chunk(user(`"userName":"big@example.com","displayName":"`+pad(over)+`"`)), hdr("Transfer-Encoding", "chunked"), want(413))
	add(catSize, "content-length-lies-short", "POST", U, []byte(okUser[:10]), func(c *hostileCase) { c.declaredLen = len(okUser) })
	add(catSize, "ws-content-length-lies-short", "POST", WU, []byte(okUser[:10]), func(c *hostileCase) { c.declaredLen = len(okUser) })
	add(catSize, "header-100KiB-junk", "POST", U, []byte(`{`), hdr("X-Junk", pad(100<<10)), serverLayer)
	add(catSize, "header-100KiB-junk-get", "GET", UA, nil, hdr("X-Junk", pad(100<<10)), serverLayer)
	add(catSize, "ws-header-100KiB", "GET", WC, nil, hdr("X-Junk", pad(100<<10)), serverLayer)
	add(catSize, "many-headers", "GET", U, nil, hdr(manyHeaders(3000)...), serverLayer)
	add(catSize, "authorization-100KiB", "GET", U, nil, auth("Bearer "+pad(100<<10)), serverLayer)
	add(catSize, "authorization-40KiB", "GET", U, nil, auth("Bearer "+pad(40<<10)), want(401))
	add(catSize, "ws-authorization-40KiB", "GET", WU, nil, auth("Bearer "+pad(40<<10)), want(401))
	add(catSize, "url-40KiB", "GET", U+"/"+pad(40<<10), nil)
	// Issue 14: at most 1,000 PATCH operations and 1,000 group members per
	// request, refused before any Redis script runs (one PATCH of 55,000
	// members held Redis for 53 ms).
	repeat := func(item string, n int) string { return strings.TrimSuffix(strings.Repeat(item+",", n), ",") }
	members1001 := "[" + repeat(`{"value":"`+carol+`"}`, 1001) + "]"
	add(catSize, "patch-user-1001-operations", "PATCH", UA, patchOps("["+repeat(`{"op":"replace","path":"title","value":"x"}`, 1001)+"]"), want(400))
	add(catSize, "patch-group-1001-operations", "PATCH", GA, patchOps("["+repeat(`{"op":"add","path":"members","value":[{"value":"`+carol+`"}]}`, 1001)+"]"), want(400))
	add(catSize, "patch-group-1001-members", "PATCH", GA, patchOps(`[{"op":"add","path":"members","value":`+members1001+`}]`), want(400))
	add(catSize, "patch-group-1001-members-pathless", "PATCH", GA, patchOps(`[{"op":"replace","value":{"members":`+members1001+`}}]`), want(400))
	add(catSize, "patch-group-1001-value-path", "PATCH", GA, patchOps(`[{"op":"remove","path":"members[`+strings.TrimSuffix(strings.Repeat(`value eq \"`+alice+`\" or `, 1001), " or ")+`]"}]`), want(400))
	add(catSize, "post-group-1001-members", "POST", G, group(`"displayName":"Premium","members":`+members1001), want(400))
	add(catSize, "put-group-1001-members", "PUT", GA, group(`"displayName":"Staff","members":`+members1001), want(400))

	// ---- invalid UTF-8 and odd Unicode ----
	badBytes := map[string]string{
		"invalid-ff":        "\xff\xfe",
		"overlong-slash":    "\xc0\xaf",
		"overlong-nul":      "\xc0\x80",
		"truncated-seq":     "\xe2\x82",
		"raw-surrogate":     "\xed\xa0\x80",
		"beyond-unicode":    "\xf4\x90\x80\x80",
		"lone-continuation": "\x80",
	}
	bnames := make([]string, 0, len(badBytes))
	for k := range badBytes {
		bnames = append(bnames, k)
	}
	sort.Strings(bnames)
	for _, k := range bnames {
		b := badBytes[k]
		add(catUnicode, "userName-"+k, "POST", U, user(`"userName":"u`+b+`@example.com"`))
		add(catUnicode, "displayName-"+k, "POST", U, user(`"userName":"u1@example.com","displayName":"D`+b+`"`))
		add(catUnicode, "patch-displayName-"+k, "PATCH", UA, patchOps(`[{"op":"replace","path":"displayName","value":"A`+b+`"}]`))
		add(catUnicode, "group-displayName-"+k, "PATCH", GA, patchOps(`[{"op":"replace","path":"displayName","value":"Staff`+b+`"}]`))
		add(catUnicode, "ws-userName-"+k, "POST", WU, user(`"userName":"w`+b+`@example.com"`))
	}
	odd := map[string]string{
		"rtl-override":     `\u202e`,
		"rtl-mark":         `\u200f`,
		"zero-width-join":  `\u200d`,
		"zero-width-space": `\u200b`,
		"nul-escape":       `\u0000`,
		"lone-high":        `\ud800`,
		"lone-low":         `\udfff`,
		"bom":              `\ufeff`,
		"replacement":      `\ufffd`,
		"bell":             `\u0007`,
	}
	onames := make([]string, 0, len(odd))
	for k := range odd {
		onames = append(onames, k)
	}
	sort.Strings(onames)
	for _, k := range onames {
		e := odd[k]
		add(catUnicode, "userName-"+k, "POST", U, user(`"userName":"ev`+e+`il@example.com"`))
		add(catUnicode, "emails-"+k, "POST", U, user(`"userName":"ev`+e+`il2@example.com","emails":[{"value":"ev`+e+`il2@example.com","primary":true}]`))
		add(catUnicode, "group-displayName-"+k, "POST", G, group(`"displayName":"Sta`+e+`ff"`))
	}
	// Changing an existing user's address is refused (emailChange: reject),
	// however the new address is spelled.
	for name, v := range map[string]string{
		"homoglyph-domain":   "alice@ex\u0430mple.com",
		"homoglyph-local":    "\u0430lice@example.com",
		"fullwidth-at":       "alice\uff20example.com",
		"idn-punycode-mixed": "alice@xn--exmple-cua.com",
		"rtl-in-domain":      "alice@example\u202e.com",
	} {
		j, _ := json.Marshal(v)
		add(catUnicode, "patch-userName-"+name, "PATCH", UA, patchOps(`[{"op":"replace","path":"userName","value":`+string(j)+`}]`))
		add(catUnicode, "patch-emails-"+name, "PATCH", UA, patchOps(`[{"op":"replace","path":"emails[type eq \"work\"].value","value":`+string(j)+`}]`))
	}
	for _, v := range []string{"not-an-email", "@example.com", "alice@", "alice@@example.com", "Alice <alice@example.com>", "alice@example..com", "alice@.example.com", "a b@example.com", pad(300) + "@example.com", "alice@example.com\r\nBcc: x@example.com", ""} {
		j, _ := json.Marshal(v)
		add(catUnicode, "not-an-address-"+strconv.Quote(v)[:min(20, len(strconv.Quote(v)))], "POST", U, user(`"userName":`+string(j)))
	}
	add(catUnicode, "emails-not-address", "POST", U, user(`"userName":"ok9@example.com","emails":[{"value":"not an address","primary":true}]`))

	// ---- invalid and hostile filters ----
	filters := []string{
		`userName eq "x`, `userName eq x"`, `(userName eq "x"`, `userName eq "x")`, `((((userName eq "x")))`,
		`userName eq "x" or 1 eq 1`, `userName eq "x" or userName pr or`, `"}]`, `userName eq "*"x`, `*`,
		"userName eq \"x\"\r\nFLUSHALL", `userName eq "x"; redis.call("FLUSHALL")`,
		`unknownAttr eq "x"`, `userName zz "x"`, `userName eq`, `eq "x"`, `and`, `userName eq "x" and`,
		`emails[type eq "work" and value co "@"`, `emails[value eq "x"]]`, `name..givenName eq "x"`,
		`userName eq "` + pad(40<<10) + ``, `userName eq "x" ` + strings.Repeat(`or userName eq "x" `, 1500) + `or`,
		`meta.lastModified gt "not a date"`, `userName eq 42abc`, `userName sw`,
		`userName eq "x" or (emails[value eq "y"] and`, `emails[type eq "work"`, `name.givenName[value eq "x"] eq "y"`,
		`userName eq "x" and (`, `userName eq "a" or (userName eq "b" and (userName eq "c" or userName eq "d")`, `userName eq "x" ` + strings.Repeat("and ", 3000),
		`EVAL "return 1" 0`, `userName eq "x"}}{{`, `userName eq "x" or`, `not`, `userName eq "x" not`,
	}
	for i, f := range filters {
		add(catFilter, fmt.Sprintf("users-%d", i), "GET", U+fq(f), nil)
	}
	// Over MaxHeaderBytes as a request line: Go's server answers 431.
	add(catFilter, "users-100KiB", "GET", U+fq(`userName eq "`+pad(100<<10)+`"`), nil, serverLayer)
	add(catFilter, "users-100KiB-ors", "GET", U+fq(`userName eq "x" `+strings.Repeat(`or userName eq "x" `, 5000)), nil, serverLayer)
	add(catFilter, "groups-100KiB", "GET", G+fq(`displayName eq "`+pad(100<<10)+`"`), nil, serverLayer)
	for i, f := range []string{`displayName eq "x`, `members[value eq]`, `displayName eq "x" or 1 eq 1`, `*`, `displayName eq "` + pad(40<<10), `bogus eq "x"`, "displayName eq \"x\"\r\nFLUSHALL"} {
		add(catFilter, fmt.Sprintf("groups-%d", i), "GET", G+fq(f), nil)
	}
	add(catFilter, "ws-100KiB", "GET", WU+fq(pad(100<<10)), nil, serverLayer)
	for i, f := range []string{`userName eq "x`, `userName eq "x" or 1 eq 1`, `(`, pad(40 << 10)} {
		add(catFilter, fmt.Sprintf("ws-%d", i), "GET", WU+fq(f), nil)
	}
	for _, p := range []string{"startIndex=abc", "count=abc", "startIndex=1.5", "count=99999999999999999999", "startIndex=99999999999999999999", "count=1e3", "startIndex=0x10", "count=%00", "startIndex=abc&startIndex=1", "count=5;count=6"} {
		add(catFilter, "paging-"+p, "GET", U+"?"+p, nil)
	}
	for _, p := range []string{"startIndex=abc", "count=abc", "count=99999999999999999999"} {
		add(catFilter, "group-paging-"+p, "GET", G+"?"+p, nil)
	}
	// Issue 14: a filter over 2 KiB or nested deeper than 10 levels is
	// refused before the parser sees it (it once cost 571 MB of RSS).
	for coll, attr := range map[string]string{"users": "userName", "groups": "displayName"} {
		at := map[string]string{"users": U, "groups": G}[coll]
		long := attr + ` eq "` + pad(2049-len(attr)-5) + `"`
		add(catFilter, coll+"-filter-2049-bytes", "GET", at+fq(long), nil, want(400))
		add(catFilter, coll+"-filter-depth-11", "GET", at+fq(nest("(", ")", 11, attr+` eq "x"`)), nil, want(400))
		add(catFilter, coll+"-filter-5000-parens", "GET", at+fq(nest("(", ")", 5000, attr+` eq "x"`)), nil, want(400))
		// 60 KB of parentheses, unescaped so that the request line stays
		// under MaxHeaderBytes (64 KiB).
		add(catFilter, coll+"-filter-60KB-parens", "GET", at+"?filter="+nest("(", ")", 30000, attr+`%20eq%20%22x%22`), nil, want(400))
	}
	add(catFilter, "users-filter-depth-11-value-path", "GET", U+fq(nest("(", ")", 10, `emails[value eq "x"]`)), nil, want(400))
	add(catFilter, "malformed-query-escape", "GET", U+"?filter=%zz", nil)
	add(catFilter, "filter-bad-escape-in-value", "GET", U+"?filter=userName%20eq%20%22%G1%22", nil)
	add(catFilter, "filter-twice", "GET", U+"?filter=%28&filter=userName%20eq%20%22x%22", nil)
	// RFC 7644 3.4.2.2: a compValue string is a JSON string, which cannot
	// hold a raw control character, and tokens are separated by spaces.
	add(catFilter, "filter-nul-in-literal", "GET", U+fq("userName eq \"\x00\""), nil)
	add(catFilter, "filter-tab-separators", "GET", U+fq("userName\teq\t\"x\""), nil)
	// Odd but legal: answered 200, nothing matching or nothing to apply.
	add(catFilter, "legal-sortBy-unknown", "GET", U+"?sortBy=password&sortOrder=sideways", nil, legal) // sort unsupported: ignored
	add(catFilter, "legal-count-negative", "GET", U+"?count=-5", nil, legal)                           // RFC 7644 3.4.2.4: as 0
	add(catFilter, "legal-startIndex-negative", "GET", U+"?startIndex=-1", nil, legal)                 // RFC 7644 3.4.2.4: as 1
	add(catFilter, "legal-sql-quote-literal", "GET", U+fq(`userName eq "') or ('1'='1"`), nil, legal)
	add(catFilter, "legal-co-empty-matches-all", "GET", U+fq(`userName co ""`), nil, legal)
	// The discovery lists take no filter (RFC 7644 §4): refused, not
	// ignored, and not run through the library's PassesFilter.
	for _, f := range []string{`id eq "` + userSchema + `"`, `name co "User"`, `attributes.name eq "userName"`, `bogus eq 1`, `(`} {
		add(catFilter, "schemas-"+f, "GET", S+"/Schemas"+fq(f), nil, want(400))
		add(catFilter, "resourcetypes-"+f, "GET", S+"/ResourceTypes"+fq(f), nil, want(400))
	}
	add(catFilter, "legal-no-match", "GET", U+fq(`userName eq "nobody@example.com"`), nil, legal)
	add(catFilter, "legal-homoglyph-no-match", "GET", U+fq("userName eq \"\u0430lice@example.com\""), nil, legal)
	add(catFilter, "legal-injection-as-literal", "GET", U+fq(`userName eq "x\" or \"1\" eq \"1"`), nil, legal)

	// ---- unknown/missing schemas, invalid PATCH ----
	add(catSchema, "user-missing-schemas", "POST", U, []byte(`{"userName":"s1@example.com"}`))
	add(catSchema, "user-unknown-schema", "POST", U, []byte(`{"schemas":["urn:bogus:schema"],"userName":"s2@example.com"}`))
	add(catSchema, "user-empty-schemas", "POST", U, []byte(`{"schemas":[],"userName":"s3@example.com"}`))
	add(catSchema, "user-group-schema", "POST", U, []byte(`{"schemas":["`+groupSchema+`"],"userName":"s4@example.com"}`))
	add(catSchema, "group-missing-schemas", "POST", G, []byte(`{"displayName":"Staff"}`))
	add(catSchema, "user-missing-userName", "POST", U, user(`"active":true`))
	add(catSchema, "user-null-userName", "POST", U, user(`"userName":null,"active":true`))
	add(catSchema, "put-user-missing-userName", "PUT", UA, user(`"active":true`))
	add(catSchema, "group-missing-displayName", "POST", G, []byte(`{"schemas":["`+groupSchema+`"],"members":[]}`))
	add(catSchema, "group-user-schema", "POST", G, []byte(`{"schemas":["`+userSchema+`"],"displayName":"Staff"}`))
	add(catSchema, "put-user-unknown-schema", "PUT", UA, []byte(`{"schemas":["urn:bogus:schema"],"userName":"alice@example.com"}`))
	add(catSchema, "patch-missing-schemas", "PATCH", UA, []byte(`{"Operations":[{"op":"replace","path":"active","value":false}]}`))
	add(catSchema, "patch-wrong-schema", "PATCH", UA, []byte(`{"schemas":["`+userSchema+`"],"Operations":[{"op":"replace","path":"active","value":false}]}`))
	add(catSchema, "group-patch-wrong-schema", "PATCH", GA, []byte(`{"schemas":["urn:bogus"],"Operations":[{"op":"add","path":"members","value":[{"value":"`+carol+`"}]}]}`))
	add(catSchema, "ws-patch-missing-ops", "PATCH", WC, []byte(`{"schemas":["`+patchSchema+`"]}`))
	badPaths := []string{"emails[", "name..givenName", "members[value eq]", "urn:bogus:attr", "emails[type eq \"work\"", "]", "emails[type eq \"work\"].value.extra", "active.", ".active", "emails[value co \"@\" or 1 eq 1]", "name.givenName[", pad(10 << 10)}
	for _, p := range badPaths {
		j, _ := json.Marshal(p)
		if p == "urn:bogus:attr" || strings.HasPrefix(p, "aaaa") {
			// An unknown attribute is dropped by design (normalize.go,
			// idp-clients.md "ignore unknown attributes"): 200, no change.
			add(catSchema, "legal-user-unknown-path-"+p[:min(14, len(p))], "PATCH", UA, patchOps(`[{"op":"replace","path":`+string(j)+`,"value":false}]`), legal)
			continue
		}
		add(catSchema, "user-path-"+strconv.Quote(p)[:min(24, len(strconv.Quote(p)))], "PATCH", UA, patchOps(`[{"op":"replace","path":`+string(j)+`,"value":false}]`))
	}
	for _, p := range []string{"members[", "members[value eq]", "members[value eq \"" + bob + "\"", "members..value", "displayName["} {
		j, _ := json.Marshal(p)
		add(catSchema, "group-path-"+strconv.Quote(p)[:min(24, len(strconv.Quote(p)))], "PATCH", GA, patchOps(`[{"op":"remove","path":`+string(j)+`}]`))
	}
	for _, o := range []string{"move", "copy", "test", "", "delete", "REPLACEX"} {
		add(catSchema, "user-op-"+o, "PATCH", UA, patchOps(`[{"op":"`+o+`","path":"active","value":false}]`))
		add(catSchema, "group-op-"+o, "PATCH", GA, patchOps(`[{"op":"`+o+`","path":"members","value":[{"value":"`+carol+`"}]}]`))
	}
	add(catSchema, "ws-op-move", "PATCH", WC, patchOps(`[{"op":"move","path":"active","value":false}]`))
	add(catSchema, "user-op-missing", "PATCH", UA, patchOps(`[{"path":"active","value":false}]`))
	// id and meta are read-only: normalize.go drops them (IdPs echo them
	// back), so these answer 200 with the resource unchanged; the state
	// comparison proves nothing moved.
	add(catSchema, "legal-user-replace-id", "PATCH", UA, patchOps(`[{"op":"replace","path":"id","value":"`+bob+`"}]`), legal)
	add(catSchema, "legal-user-replace-meta", "PATCH", UA, patchOps(`[{"op":"replace","path":"meta","value":{"created":"2001-01-01T00:00:00Z"}}]`), legal)
	add(catSchema, "legal-group-replace-id", "PATCH", GA, patchOps(`[{"op":"replace","path":"id","value":"x"}]`), legal)
	// ... but a read-only attribute never masks an invalid operation.
	add(catSchema, "user-replace-id-pathless-and-bad-op", "PATCH", UA, patchOps(`[{"op":"replace","value":{"id":"`+bob+`"}},{"op":"move","path":"active"}]`))
	add(catSchema, "user-replace-meta-created-and-bad-value", "PATCH", UA, patchOps(`[{"op":"replace","path":"meta.created","value":"2001"},{"op":"replace","path":"active","value":"maybe"}]`))
	add(catSchema, "group-replace-meta-and-bad-op", "PATCH", GA, patchOps(`[{"op":"replace","path":"meta","value":{}},{"op":"bogus"}]`))
	add(catSchema, "user-unknown-attr-and-bad-op", "PATCH", UA, patchOps(`[{"op":"replace","path":"urn:bogus:attr","value":1},{"op":"replace","path":"displayName","value":"X"},{"op":"move","path":"active"}]`))
	add(catSchema, "user-remove-no-path", "PATCH", UA, patchOps(`[{"op":"remove"}]`))
	add(catSchema, "user-remove-userName", "PATCH", UA, patchOps(`[{"op":"remove","path":"userName"}]`))
	add(catSchema, "user-ops-not-objects", "PATCH", UA, patchOps(`["replace","active",false]`))
	add(catSchema, "group-remove-all-then-bogus", "PATCH", GA, patchOps(`[{"op":"remove","path":"members"},{"op":"bogus"}]`))
	add(catSchema, "group-add-unknown-member", "PATCH", GA, patchOps(`[{"op":"add","path":"members","value":[{"value":"000000000000000000000000"}]}]`))
	add(catSchema, "group-add-member-of-other-site", "PATCH", O+"/Groups/"+gid, patchOps(`[{"op":"add","path":"members","value":[{"value":"`+carol+`"}]}]`))
	add(catSchema, "put-user-no-userName", "PUT", UA, user(`"displayName":"Alice"`))
	add(catSchema, "put-user-other-id", "PUT", UA, user(`"id":"`+bob+`","userName":"bob@example.com"`))
	add(catSchema, "put-group-no-displayName", "PUT", GA, group(`"members":[]`))
	add(catSchema, "post-group-unknown-access-group", "POST", G, group(`"displayName":"No Such Group Here"`))
	add(catSchema, "post-group-duplicate", "POST", G, group(`"displayName":"Staff"`), want(409))
	add(catSchema, "post-user-duplicate", "POST", U, user(`"userName":"ALICE@example.com"`), want(409))

	// ---- wrong content types and methods ----
	for _, v := range []string{"application/x-www-form-urlencoded", "text/xml", "multipart/form-data; boundary=x", "text/plain", "application/octet-stream", "application/xml", "image/png", "application/json; charset=", ";;;", "application/scim+json\x01"} {
		mods := []func(*hostileCase){ct(v)}
		if strings.ContainsRune(v, 1) {
			mods = append(mods, serverLayer)
		}
		add(catMethod, "post-user-ct-"+v, "POST", U, []byte(okUser), mods...)
	}
	for _, v := range []string{"text/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
		add(catMethod, "patch-user-ct-"+v, "PATCH", UA, []byte(okPatch), ct(v), want(415))
		add(catMethod, "post-group-ct-"+v, "POST", G, []byte(okGroup), ct(v), want(415))
		add(catMethod, "ws-post-ct-"+v, "POST", WU, []byte(collabBody[:len(collabBody)-1]+`,"externalId":"ct"}`), ct(v))
		add(catMethod, "ws-patch-ct-"+v, "PATCH", WC, []byte(okPatch), ct(v))
	}
	for _, m := range []struct{ method, path string }{
		{"PUT", U}, {"DELETE", U}, {"PATCH", U}, {"PATCH", G}, {"PUT", G}, {"DELETE", G},
		{"POST", UA}, {"POST", GA}, {"TRACE", U}, {"TRACE", UA}, {"OPTIONS", U}, {"CONNECT", U},
		{"PROPFIND", U}, {"BREW", G}, {"POST", S + "/ServiceProviderConfig"}, {"DELETE", S + "/Schemas"},
		{"PUT", S + "/ResourceTypes"}, {"POST", S + "/Schemas"}, {"POST", Q}, {"DELETE", Q},
		{"PUT", WU}, {"DELETE", WU}, {"TRACE", WU}, {"OPTIONS", WC}, {"CONNECT", WU}, {"POST", WC},
		{"POST", "/healthz"}, {"DELETE", "/healthz"}, {"POST", "/identity"}, {"DELETE", "/identity?email=jane@example.com"},
	} {
		var body []byte
		if m.method == "POST" || m.method == "PUT" || m.method == "PATCH" {
			body = []byte(okUser)
		}
		add(catMethod, m.method+" "+strings.TrimPrefix(m.path, S), m.method, m.path, body)
	}
	add(catMethod, "HEAD-user", "HEAD", UA, nil)
	add(catMethod, "HEAD-users-bad-token", "HEAD", U, nil, auth("Bearer nope"))
	add(catMethod, "HEAD-ws-bad-token", "HEAD", WU, nil, auth("Bearer nope"))
	add(catMethod, "legal-HEAD-healthz", "HEAD", "/healthz", nil, legal)
	add(catMethod, "legal-healthz-junk-query", "GET", "/healthz?x=%00&filter=*", nil, legal)

	// ---- tokens ----
	type tokCase struct{ name, value string }
	toks := []tokCase{
		{"missing", "-"}, {"basic", "Basic " + "dGVzdDp0ZXN0"}, {"basic-of-token", "Basic " + testToken},
		{"bearer-alone", "Bearer"}, {"bearer-space", "Bearer "}, {"two-spaces", "Bearer  " + "wrong"},
		{"lowercase-wrong", "bearer wrong-token"}, {"token-prefix", "Bearer " + testToken[:len(testToken)-1]},
		{"token-suffix", "Bearer " + testToken + "x"}, {"token-10KiB", "Bearer " + pad(10<<10)},
		{"other-site", "Bearer " + otherSiteToken}, {"workspace-on-site", "Bearer " + testWorkspaceToken},
		{"admin-on-site", "Bearer " + testAdminToken}, {"webflow-token", "Bearer " + webflowsim.DemoSiteToken},
		{"scheme-only-token", testToken}, {"token-two-values", "Bearer " + testToken + " " + testToken},
		{"nul-in-token", "Bearer test\x00token"}, {"sha256-literal", "Bearer sha256:" + strings.Repeat("0", 64)},
		{"digest", "Digest username=\"x\""},
	}
	for _, tc := range toks {
		mods := []func(*hostileCase){auth(tc.value)}
		if strings.ContainsRune(tc.value, 0) {
			mods = append(mods, serverLayer)
		}
		add(catAuth, "users-"+tc.name, "GET", U, nil, mods...)
	}
	for _, tc := range toks[:10] {
		add(catAuth, "patch-"+tc.name, "PATCH", UA, []byte(okPatch), auth(tc.value))
	}
	for _, tc := range []tokCase{{"missing", "-"}, {"site-token", "Bearer " + testToken}, {"admin-token", "Bearer " + testAdminToken}, {"bearer-alone", "Bearer"}, {"webflow-scim-token", "Bearer " + webflowsim.DemoSCIMToken}, {"basic", "Basic dGVzdDp0ZXN0"}} {
		add(catAuth, "ws-get-"+tc.name, "GET", WU, nil, auth(tc.value))
		add(catAuth, "ws-delete-"+tc.name, "DELETE", WC, nil, auth(tc.value))
	}
	for _, tc := range []tokCase{{"missing", "-"}, {"site-token", "Bearer " + testToken}, {"workspace-token", "Bearer " + testWorkspaceToken}, {"bearer-alone", "Bearer"}, {"long", "Bearer " + pad(10<<10)}} {
		add(catAuth, "identity-"+tc.name, "GET", "/identity?email=alice@example.com", nil, auth(tc.value))
	}
	// /readyz and /metrics name the sites and their tokens' state: an
	// admin token, or the overall readiness only (issue 14, point 7).
	for _, tc := range []tokCase{{"missing", "-"}, {"site-token", "Bearer " + testToken}, {"workspace-token", "Bearer " + testWorkspaceToken}, {"wrong", "Bearer nope"}, {"basic", "Basic dGVzdDp0ZXN0"}} {
		add(catAuth, "metrics-"+tc.name, "GET", "/metrics", nil, auth(tc.value), want(401))
		if tc.value != "-" {
			add(catAuth, "readyz-"+tc.name, "GET", "/readyz", nil, auth(tc.value), want(401))
		}
	}
	add(catAuth, "legal-readyz-no-token", "GET", "/readyz", nil, auth("-"), legal)
	add(catAuth, "identity-bad-email", "GET", "/identity?email=not-an-email", nil)
	add(catAuth, "identity-nul-email", "GET", "/identity?email=a%00@example.com", nil)
	for _, tc := range []tokCase{{"missing", "-"}, {"other-site", "Bearer " + otherSiteToken}, {"workspace-token", "Bearer " + testWorkspaceToken}, {"admin-token", "Bearer " + testAdminToken}} {
		add(catAuth, "queue-"+tc.name, "GET", Q, nil, auth(tc.value))
	}
	add(catAuth, "spc-bad-token", "GET", S+"/ServiceProviderConfig", nil, auth("Bearer nope"))
	add(catAuth, "schemas-no-token", "GET", S+"/Schemas", nil, auth("-"))
	add(catAuth, "resourcetypes-admin-token", "GET", S+"/ResourceTypes", nil, auth("Bearer "+testAdminToken))
	add(catAuth, "group-delete-other-site-token", "DELETE", GA, nil, auth("Bearer "+otherSiteToken))
	add(catAuth, "user-delete-workspace-token", "DELETE", UA, nil, auth("Bearer "+testWorkspaceToken))
	add(catAuth, "unknown-site-no-token", "GET", "/sites/000000000000000000000000/scim/v2/Users", nil, auth("-"))
	// An unknown site answers like a wrong token, whatever the token: site
	// ids cannot be enumerated (issue 14, point 7).
	unknownSite := "/sites/000000000000000000000000/scim/v2"
	for _, tc := range []tokCase{{"site-token", "Bearer " + testToken}, {"wrong-token", "Bearer nope"}, {"basic", "Basic dGVzdDp0ZXN0"}} {
		add(catAuth, "unknown-site-"+tc.name, "GET", unknownSite+"/Users", nil, auth(tc.value), want(401))
		add(catAuth, "unknown-site-delete-"+tc.name, "DELETE", unknownSite+"/Users/"+alice, nil, auth(tc.value), want(401))
	}
	add(catAuth, "unknown-site-unknown-route", "GET", unknownSite+"/Bogus", nil, auth("Bearer "+testToken), want(401))
	add(catAuth, "unknown-site-post", "POST", unknownSite+"/Users", []byte(okUser), auth("Bearer "+testToken), want(401))
	webhookHdr := hdr("x-webflow-timestamp", strconv.FormatInt(time.Now().UnixMilli(), 10), "x-webflow-signature", strings.Repeat("0", 64))
	hook := []byte(`{"triggerType":"user_account_deleted","payload":{"id":"` + alice + `"}}`)
	add(catAuth, "webhook-unknown-site", "POST", "/webhooks/webflow/000000000000000000000000", hook, ct("application/json"), webhookHdr, want(401))
	add(catAuth, "webhook-unknown-site-no-headers", "POST", "/webhooks/webflow/000000000000000000000000", hook, ct("application/json"), want(401))
	add(catAuth, "webhook-bad-signature", "POST", "/webhooks/webflow/"+testSite, hook, ct("application/json"), webhookHdr, want(401))
	add(catAuth, "legal-healthz-bad-token", "GET", "/healthz", nil, auth("Bearer nope"), legal)
	// Absolute-form request-target (RFC 9112 3.2.2): the host is ignored.
	add(catAuth, "absolute-form-other-host-no-token", "GET", "http://evil.example"+U, nil, auth("-"), want(401))
	add(catAuth, "legal-spc-with-token", "GET", S+"/ServiceProviderConfig?attributes=%00", nil, legal)

	// ---- ids of another site, hostile ids and paths ----
	for _, m := range []string{"GET", "DELETE"} {
		add(catIDs, m+"-user-via-other-site", m, O+"/Users/"+alice, nil, want(404))
		add(catIDs, m+"-group-via-other-site", m, O+"/Groups/"+gid, nil, want(404))
	}
	add(catIDs, "PATCH-user-via-other-site", "PATCH", O+"/Users/"+alice, []byte(okPatch), want(404))
	add(catIDs, "PUT-user-via-other-site", "PUT", O+"/Users/"+alice, user(`"userName":"alice@example.com","active":false`), want(404))
	add(catIDs, "PATCH-group-via-other-site", "PATCH", O+"/Groups/"+gid, patchOps(`[{"op":"remove","path":"members"}]`), want(404))
	add(catIDs, "PUT-group-via-other-site", "PUT", O+"/Groups/"+gid, group(`"displayName":"Staff","members":[]`), want(404))
	add(catIDs, "other-site-token-on-site-A-path", "GET", UA, nil, auth("Bearer "+otherSiteToken), want(401))
	add(catIDs, "site-token-on-other-site", "GET", O+"/Users/"+alice, nil, auth("Bearer "+testToken), want(401))
	add(catIDs, "collaborator-id-as-user", "GET", U+"/"+cid, nil, want(404))
	add(catIDs, "user-id-on-workspace", "GET", W+"/Users/"+alice, nil, want(404))
	add(catIDs, "group-id-as-user", "DELETE", U+"/"+gid, nil, want(404))
	add(catIDs, "user-id-as-group", "DELETE", G+"/"+alice, nil, want(404))
	hostileIDs := []string{
		"..", "../" + alice, "..%2f" + alice, "%2e%2e", "%2e%2e%2f", alice + "%2f..", alice + "%00", "%00",
		alice + "/extra", "%252e%252e", pad(10 << 10), "*", "%2a", "%20", "'%20OR%20'1'='1",
		"{s:" + testSite + "}", "%7Bs:x%7D:users", alice + "%0d%0aFLUSHALL", "..%5c..%5c",
	}
	for _, id := range hostileIDs {
		name := id
		if len(name) > 30 {
			name = name[:30]
		}
		add(catIDs, "user-get-"+name, "GET", U+"/"+id, nil)
		add(catIDs, "user-delete-"+name, "DELETE", U+"/"+id, nil)
		add(catIDs, "ws-get-"+name, "GET", W+"/Users/"+id, nil)
	}
	// A malformed escape in the request-target: Go's server answers 400.
	add(catIDs, "user-get-bad-escape", "GET", U+"/a%zz", nil, serverLayer)
	add(catIDs, "user-delete-bad-escape", "DELETE", U+"/a%zz", nil, serverLayer)
	add(catIDs, "ws-get-bad-escape", "GET", WU+"/a%zz", nil, serverLayer)
	for _, id := range []string{"..", "%2e%2e%2f" + gid, gid + "%00", pad(10 << 10), "*"} {
		add(catIDs, "group-patch-"+id[:min(20, len(id))], "PATCH", G+"/"+id, patchOps(`[{"op":"remove","path":"members"}]`))
	}
	for _, p := range []string{
		"/sites/" + testSite + "/scim/v2/../../sites/" + otherSite + "/scim/v2/Users",
		"/sites/" + testSite + "/scim/v2/%2e%2e/Users", "/sites/" + testSite + "%2fscim/v2/Users",
		"/sites/../sites/" + testSite + "/scim/v2/Users", "/sites/" + pad(10<<10) + "/scim/v2/Users",
		"/sites/*/scim/v2/Users", "/sites/%00/scim/v2/Users", "/sites/" + testSite + "/scim/v3/Users",
		W + "/../../sites/" + testSite + "/scim/v2/Users", W + "/%2e%2e/Users", W + "/Users%2f" + cid, W + "/Bogus",
		W + "/Users/" + cid + "/extra", W + "//Users", W, "/workspace/scim/v2x/Users", "/" + pad(10<<10),
		"//evil.example/x",
	} {
		name := p
		if len(name) > 60 {
			name = name[:60]
		}
		add(catIDs, "path-"+name, "GET", p, nil)
	}
	// Ids the bridge does not hold (issue 14): a customer who signed up on
	// the site, in Webflow's case and in upper case, and a random id.
	// Each is 404 without a Webflow call, and the customer survives (the
	// simulator is compared); on site B the same holds.
	for _, tc := range []struct{ name, id string }{{"stranger", stranger}, {"stranger-upper", strings.ToUpper(stranger)}, {"random", unknownHexID}} {
		for _, base := range []string{U, O + "/Users"} {
			site := "A"
			if base != U {
				site = "B"
			}
			p := base + "/" + tc.id
			add(catIDs, "unknown-get-"+tc.name+"-"+site, "GET", p, nil, want(404))
			add(catIDs, "unknown-delete-"+tc.name+"-"+site, "DELETE", p, nil, want(404))
			add(catIDs, "unknown-patch-"+tc.name+"-"+site, "PATCH", p, []byte(okPatch), want(404))
			add(catIDs, "unknown-put-"+tc.name+"-"+site, "PUT", p, user(`"userName":"mike@example.com","active":false`), want(404))
		}
	}
	// An access group no IdP linked is not a SCIM Group (RFC 7644): 404,
	// and PUT or PATCH link nothing (Redis is compared); a DELETE of a
	// group is final until the next POST.
	UG := G + "/" + unlinked
	add(catIDs, "unlinked-group-get", "GET", UG, nil, want(404))
	add(catIDs, "unlinked-group-delete", "DELETE", UG, nil, want(404))
	add(catIDs, "unlinked-group-patch-members", "PATCH", UG, patchOps(`[{"op":"add","path":"members","value":[{"value":"`+carol+`"}]}]`), want(404))
	add(catIDs, "unlinked-group-patch-rename", "PATCH", UG, patchOps(`[{"op":"replace","value":{"id":"`+unlinked+`","displayName":"Premium"}}]`), want(404))
	add(catIDs, "unlinked-group-put", "PUT", UG, group(`"displayName":"Premium","members":[{"value":"`+carol+`"}]`), want(404))
	add(catIDs, "unlinked-group-put-on-site-B", "PUT", O+"/Groups/"+unlinked, group(`"displayName":"Premium","members":[]`), want(404))
	add(catIDs, "random-group-put", "PUT", G+"/"+unknownHexID, group(`"displayName":"Premium","members":[]`), want(404))
	for i := range 2 { // asked again: the remembered miss
		add(catIDs, fmt.Sprintf("unknown-delete-stranger-again-%d", i), "DELETE", U+"/"+stranger, nil, want(404))
	}
	return cs
}

// chunk encodes b as one HTTP/1.1 chunk and the terminator.
func chunk(b []byte) []byte {
	var out bytes.Buffer
	fmt.Fprintf(&out, "%x\r\n", len(b))
	out.Write(b)
	out.WriteString("\r\n0\r\n\r\n")
	return out.Bytes()
}

func manyHeaders(n int) []string {
	out := make([]string, 0, 2*n)
	for i := range n {
		out = append(out, fmt.Sprintf("X-H%d", i), strings.Repeat("v", 30))
	}
	return out
}
