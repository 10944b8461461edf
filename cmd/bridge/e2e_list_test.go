package main

import (
	"fmt"
	"strings"
	"testing"
)

func TestListPagingFiltersAndProjection(t *testing.T) {
	h := newBridge(t)
	var ids []string
	for i := range 12 {
		body := fmt.Sprintf(`{"schemas":["%s"],"userName":"page%02d@example.com","externalId":"ext-%02d","displayName":"Pager %d","emails":[{"type":"work","primary":true,"value":"page%02d@example.com"}],"active":true}`, userSchema, i, i, i%3, i)
		ids = append(ids, str(h.must(201, h.do("POST", "/Users", body)).Body, "id"))
	}
	h.sim.ResetRequests()

	// Entra's validator: pages of 5 over 11+ users, startIndex echoed, stable order.
	var seen []string
	for start := 1; start <= 12; start += 5 {
		r := h.must(200, h.do("GET", fmt.Sprintf("/Users?startIndex=%d&count=5", start), nil))
		res := r.Body["Resources"].([]any)
		if r.Body["startIndex"] != float64(start) || r.Body["totalResults"] != 12.0 || r.Body["itemsPerPage"] != float64(len(res)) {
			t.Errorf("page at %d: %s", start, r.Raw)
		}
		for _, x := range res {
			seen = append(seen, str(x.(map[string]any), "id"))
		}
	}
	if strings.Join(seen, ",") != strings.Join(ids, ",") {
		t.Errorf("paging must return every user once, in creation order:\n%v\n%v", seen, ids)
	}
	tests := []struct {
		name, query string
		total       float64
		items       float64
	}{
		{"count=0 returns only the total", "/Users?count=0", 12, 0},
		{"startIndex past the end", "/Users?startIndex=50&count=5", 12, 0},
		{"userName eq, any case", filterQ(`USERNAME eq "PAGE03@example.com"`), 1, 1},
		{"externalId eq is case-exact", filterQ(`externalId eq "EXT-03"`), 0, 0},
		{"id eq", filterQ(`id eq "` + ids[4] + `"`), 1, 1},
		{"emails.value eq", filterQ(`emails.value eq "page05@example.com"`), 1, 1},
		{"Entra work email", filterQ(`emails[type eq "work"].value eq "page06@example.com"`), 1, 1},
		{"displayName eq (not unique)", filterQ(`displayName eq "Pager 1"`), 4, 4},
		{"and", filterQ(`displayName eq "Pager 1" and externalId eq "ext-04"`), 1, 1},
		{"sw over stored records", filterQ(`userName sw "page1"`), 2, 2},
		{"co", filterQ(`userName co "ge0"`), 10, 10},
		{"or", filterQ(`userName eq "page01@example.com" or userName eq "page02@example.com"`), 2, 2},
		{"not", filterQ(`not (displayName eq "Pager 0")`), 8, 8},
		{"pr", filterQ(`externalId pr`), 12, 12},
		{"no match", filterQ(`userName eq "nobody"`), 0, 0},
	}
	for _, tc := range tests {
		r := h.must(200, h.do("GET", tc.query, nil))
		if r.Body["totalResults"] != tc.total || r.Body["itemsPerPage"] != tc.items || r.Body["Resources"] == nil {
			t.Errorf("%s: %s", tc.name, r.Raw)
		}
	}
	if h.calls() != 0 {
		t.Errorf("list queries cost %d Webflow calls", h.calls())
	}
	for _, bad := range []string{`userName eq "unbalanced`, `userName eq`, `foo eq "x"`, `members[value eq "x"]`, strings.Repeat("(", 500)} {
		r := h.must(400, h.do("GET", filterQ(bad), nil))
		if str(r.Body, "scimType") != "invalidFilter" {
			t.Errorf("%q: %s", bad, r.Raw)
		}
	}
	h.must(400, h.do("GET", "/Users?count=abc", nil))

	r := h.must(200, h.do("GET", "/Users?count=1&attributes=userName", nil))
	u := r.Body["Resources"].([]any)[0].(map[string]any)
	if u["userName"] == nil || u["id"] == nil || u["displayName"] != nil || u["emails"] != nil {
		t.Errorf("attributes=userName: %v", u)
	}
	r = h.must(200, h.do("GET", "/Users/"+ids[0]+"?excludedAttributes=emails,displayName", nil))
	if r.Body["emails"] != nil || r.Body["displayName"] != nil || r.Body["userName"] == nil {
		t.Errorf("excludedAttributes: %s", r.Raw)
	}
}
