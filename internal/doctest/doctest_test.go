package doctest

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		name      string
		want, got string
		ok        bool
	}{
		{"same JSON, other order", `{"a":1,"b":"x"}`, `{"b":"x","a":1}`, true},
		{"a member the page does not show", `{"a":1}`, `{"a":1,"b":2}`, false},
		{"… allows more members", `{"a":1,…}`, `{"a":1,"b":2}`, true},
		{"a member shown is missing", `{"a":1,"c":3,…}`, `{"a":1,"b":2}`, false},
		{"a value differs", `{"status":"409"}`, `{"status":"400"}`, false},
		{"… as a value", `{"at":…,"n":1}`, `{"at":0.41,"n":1}`, true},
		{"\"…\" as a value", `{"at":"…"}`, `{"at":{"x":1}}`, true},
		{"… inside a string", `{"location":"…/Users/6b087a9ee91ee8385b007a3f"}`, `{"location":"http://127.0.0.1:1/Users/6b111006bf9f64a07c0008db"}`, true},
		{"… inside a string, wrong suffix", `{"location":"…/Groups/6b087a9ee91ee8385b007a3f"}`, `{"location":"http://x/Users/6b111006bf9f64a07c0008db"}`, false},
		{"ids differ", `{"id":"6b087a9ee91ee8385b007a3f"}`, `{"id":"6b111006bf9f64a07c0008db"}`, true},
		{"an id is not any string", `{"id":"6b087a9ee91ee8385b007a3f"}`, `{"id":"jane"}`, false},
		{"times differ", `{"at":"2026-11-26T18:30:14.200428007Z"}`, `{"at":"2026-12-03T06:45:26Z"}`, true},
		{"array exact length", `["a","b"]`, `["a","b","c"]`, false},
		{"array with …", `[{"display":"Staff",…},…]`, `[{"display":"Other"},{"display":"Staff","value":"1"}]`, true},
		{"[…] any array", `{"schemas":[…]}`, `{"schemas":["x","y"]}`, true},
		{"{…} any object", `{"meta":{…}}`, `{"meta":{"a":1}}`, true},
		{"{…} is not any value", `{"meta":{…}}`, `{"meta":"x"}`, false},
		{"numbers", `[8,1.5,true,null]`, `[8.0,1.5,true,null]`, true},
		{"literal differs", `{"active":true}`, `{"active":false}`, false},
		{"escapes", `{"detail":"the header must be \"Bearer \u003ctoken\u003e\""}`, `{"detail":"the header must be \"Bearer <token>\""}`, true},
		{"JSON shown, text printed", `{"a":1}`, `curl: (7) Failed to connect`, false},
		{"status code", `204`, `204`, true},
		{"status code differs", `204`, `404`, false},
		{"text with …", `HTTP/1.1 429 …`, `HTTP/1.1 429 Too Many Requests`, true},
		{"text differs", `HTTP/1.1 204 No Content`, `HTTP/1.1 200 OK`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Match(tc.want, tc.got)
			if (err == nil) != tc.ok {
				t.Fatalf("Match(%s, %s) = %v, want ok=%v", tc.want, tc.got, err, tc.ok)
			}
		})
	}
}

const page = "# A page\n\n" +
	"<!-- doctest -->\n```sh\ncurl -sS \"$B/Users/1\"\n```\n\n" +
	"<!-- doctest: expect -->\n```json\n{\"status\":\"404\"}\n```\n\n" +
	"<!-- doctest: demo --rate-limit 2 -->\n```sh\nX=1\n```\n\n" +
	"<!-- doctest: skip needs Okta itself -->\n```sh\ncurl https://okta.example.com\n```\n\n" +
	"```json\n{\"unmarked\":true}\n```\n\n" +
	"```yaml\nnot: an example\n```\n"

func TestParse(t *testing.T) {
	d, err := Parse("page.md", []byte(page))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Examples) != 2 || d.Examples[0].Line != 4 || len(d.Examples[0].Expect) != 1 || d.Examples[0].NewDemo {
		t.Fatalf("examples: %+v", d.Examples)
	}
	if e := d.Examples[1]; !e.NewDemo || strings.Join(e.DemoFlags, " ") != "--rate-limit 2" || len(e.Expect) != 0 {
		t.Fatalf("the demo block: %+v", e)
	}
	if len(d.Skipped) != 1 || d.Skipped[0].Reason != "needs Okta itself" {
		t.Fatalf("skipped: %+v", d.Skipped)
	}
	if len(d.Unmarked) != 1 || d.Unmarked[0] != 23 {
		t.Fatalf("unmarked: %v", d.Unmarked)
	}
}

func TestParseRefuses(t *testing.T) {
	for name, src := range map[string]string{
		"skip without reason":   "<!-- doctest: skip -->\n```sh\ncurl x\n```\n",
		"expect before run":     "<!-- doctest: expect -->\n```json\n{}\n```\n",
		"unknown verb":          "<!-- doctest: maybe -->\n```sh\ncurl x\n```\n",
		"marker before prose":   "<!-- doctest -->\nsome prose\n```sh\ncurl x\n```\n",
		"marker at the end":     "text\n<!-- doctest -->\n",
		"unclosed fenced block": "<!-- doctest -->\n```sh\ncurl x\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse("p.md", []byte(src)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestCheck(t *testing.T) {
	ex := Example{File: "p.md", Line: 1, Expect: []Expectation{
		{Line: 5, Text: "{\"status\":\"404\"}\n"},
		{Line: 9, Text: "HTTP/1.1 204 No Content\n", Some: true},
	}}
	tests := []struct {
		name, out string
		ok        bool
	}{
		{"as shown", "{\"status\":\"404\"}\n\nHTTP/1.1 204 No Content\r\nDate: x\r\n", true},
		{"headers before the status line", "{\"status\":\"404\"}\nX: y\nHTTP/1.1 204 No Content\n", true},
		{"a status differs", "{\"status\":\"400\"}\nHTTP/1.1 204 No Content\n", false},
		{"a line missing", "{\"status\":\"404\"}\n", false},
		{"nothing printed", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := Check(ex, tc.out); (err == nil) != tc.ok {
				t.Fatalf("Check = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	quiet := Example{File: "p.md", Line: 1}
	if Check(quiet, "\n\n") != nil || Check(quiet, "something\n") == nil {
		t.Fatal("a block without an expect block must print nothing")
	}
	strict := Example{File: "p.md", Line: 1, Expect: []Expectation{{Line: 5, Text: "204\n"}}}
	if Check(strict, "204\n404\n") == nil {
		t.Fatal("more output than the page shows was accepted")
	}
}
