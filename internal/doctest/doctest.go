// Package doctest reads the request/response examples of the README and
// docs/*.md, so that a test can run them against `bridge demo` and compare
// what the binary answers with what the page shows.
//
// An example is a fenced block preceded (on the line before its fence, or
// with only blank lines between) by an HTML comment, invisible on a rendered
// page:
//
//	<!-- doctest -->                  run this sh block (bash, with curl and jq)
//	<!-- doctest: demo FLAGS -->      the same, on a fresh `bridge demo FLAGS`
//	<!-- doctest: expect -->          the output of the last run block, line by line
//	<!-- doctest: expect-some -->     lines that appear in that output, in order, among others
//	<!-- doctest: skip REASON -->     not executable here; REASON is required
//
// Every run block of one file shares one shell session (variables carry on)
// and one demo, until a block asks for a fresh demo. A run block without an
// expect block must print nothing. Expected lines are compared with Match,
// which takes "…" for what a page elides, and ids, UUIDs and timestamps as
// values that differ from run to run.
//
// A fenced block that looks like a request or a response (it holds a curl
// command, an HTTP request line or status line, or is a json block) and has
// no marker is reported in Doc.Unmarked, so that nothing is silently left
// out.
package doctest

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// Example is one run block and what the page says it prints.
type Example struct {
	File string
	Line int // the line of the opening fence
	// Script is the block's text.
	Script string
	// NewDemo is set when the block asks for a fresh demo; DemoFlags are
	// its flags (besides the address and ready file the runner adds).
	NewDemo   bool
	DemoFlags []string
	Expect    []Expectation
}

// Expectation is one expect block.
type Expectation struct {
	Line int
	Text string
	// Some: the lines appear in the output in order, among other lines
	// (for answers with headers that change from run to run).
	Some bool
}

// Skipped is a block marked as not executable, with its reason.
type Skipped struct {
	File   string
	Line   int
	Reason string
}

// Doc is what Parse found in one Markdown file.
type Doc struct {
	File     string
	Examples []Example
	Skipped  []Skipped
	// Unmarked are the lines of request/response-like fences without a
	// marker.
	Unmarked []int
}

var markerRE = regexp.MustCompile(`^<!--\s*doctest(?::\s*(.*?))?\s*-->$`)

// Parse reads the markers and fenced blocks of one Markdown file.
func Parse(file string, src []byte) (*Doc, error) {
	d := &Doc{File: file}
	type marker struct {
		line int
		text string
		set  bool
	}
	var pending marker
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if m := markerRE.FindStringSubmatch(t); m != nil {
			if pending.set {
				return nil, fmt.Errorf("%s:%d: a doctest marker with no fenced block after it (next marker at line %d)", file, pending.line, line)
			}
			pending = marker{line: line, text: strings.TrimSpace(m[1]), set: true}
			continue
		}
		if !strings.HasPrefix(t, "```") {
			if t != "" && pending.set {
				return nil, fmt.Errorf("%s:%d: a doctest marker must come right before a fenced block", file, pending.line)
			}
			continue
		}
		// A fenced block: read it to its closing fence.
		fence := line
		info := strings.TrimSpace(strings.TrimPrefix(t, "```"))
		var body strings.Builder
		closed := false
		for sc.Scan() {
			line++
			if strings.TrimSpace(sc.Text()) == "```" {
				closed = true
				break
			}
			body.WriteString(sc.Text())
			body.WriteByte('\n')
		}
		if !closed {
			return nil, fmt.Errorf("%s:%d: unclosed fenced block", file, fence)
		}
		text := body.String()
		m := pending
		pending = marker{}
		if !m.set {
			if looksLikeExample(info, text) {
				d.Unmarked = append(d.Unmarked, fence)
			}
			continue
		}
		verb, rest, _ := strings.Cut(m.text, " ")
		rest = strings.TrimSpace(rest)
		switch verb {
		case "":
			d.Examples = append(d.Examples, Example{File: file, Line: fence, Script: text})
		case "demo":
			d.Examples = append(d.Examples, Example{File: file, Line: fence, Script: text, NewDemo: true, DemoFlags: strings.Fields(rest)})
		case "expect", "expect-some":
			if len(d.Examples) == 0 {
				return nil, fmt.Errorf("%s:%d: an expect block before any run block", file, m.line)
			}
			ex := &d.Examples[len(d.Examples)-1]
			ex.Expect = append(ex.Expect, Expectation{Line: fence, Text: text, Some: verb == "expect-some"})
		case "skip":
			if rest == "" {
				return nil, fmt.Errorf("%s:%d: doctest: skip needs a reason", file, m.line)
			}
			d.Skipped = append(d.Skipped, Skipped{File: file, Line: fence, Reason: rest})
		default:
			return nil, fmt.Errorf("%s:%d: unknown doctest marker %q (doctest, doctest: demo FLAGS, expect, expect-some, skip REASON)", file, m.line, verb)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if pending.set {
		return nil, fmt.Errorf("%s:%d: a doctest marker with no fenced block after it", file, pending.line)
	}
	return d, nil
}

var requestLineRE = regexp.MustCompile(`(?m)^(GET|POST|PUT|PATCH|DELETE) /|^HTTP/1\.1 \d{3}`)

// looksLikeExample says whether an unmarked fence is a request or a
// response: a curl command, an HTTP request or status line, or JSON.
func looksLikeExample(info, text string) bool {
	switch strings.ToLower(info) {
	case "json", "http":
		return true
	}
	return strings.Contains(text, "curl ") || requestLineRE.MatchString(text)
}

// Lines splits output or an expect block into the lines compared: \r
// dropped, blank lines skipped.
func Lines(s string) []string {
	out, _ := numberedLines(s)
	return out
}

// numberedLines is Lines with each line's 0-based index in s.
func numberedLines(s string) ([]string, []int) {
	var out []string
	var at []int
	for i, l := range strings.Split(strings.ReplaceAll(s, "\r", ""), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, strings.TrimRight(l, " \t"))
			at = append(at, i)
		}
	}
	return out, at
}

// Check compares a run block's output with its expect blocks. It returns
// nil when they agree, else an error that names the page's line.
func Check(ex Example, output string) error {
	got := Lines(output)
	if len(ex.Expect) == 0 {
		if len(got) > 0 {
			return fmt.Errorf("%s:%d: the example prints %d line(s) but the page shows no answer (add a doctest: expect block):\n  %s",
				ex.File, ex.Line, len(got), strings.Join(got, "\n  "))
		}
		return nil
	}
	// Plain expect blocks take the output lines in order; an expect-some
	// block takes what is left of it, finding its lines among the others.
	i := 0
	for bi, e := range ex.Expect {
		want, at := numberedLines(e.Text)
		if e.Some {
			rest := got[i:]
			j := 0
			for _, w := range want {
				found := false
				for ; j < len(rest); j++ {
					if Match(w, rest[j]) == nil {
						found = true
						j++
						break
					}
				}
				if !found {
					return fmt.Errorf("%s:%d: the expected line\n  %s\nis not in the output (after its earlier lines):\n  %s", ex.File, e.Line, w, strings.Join(rest, "\n  "))
				}
			}
			i = len(got)
			continue
		}
		for k, w := range want {
			if i >= len(got) {
				return fmt.Errorf("%s:%d: the page shows\n  %s\nbut the output ended after %d line(s)", ex.File, e.Line+1+at[k], w, len(got))
			}
			if err := Match(w, got[i]); err != nil {
				return fmt.Errorf("%s:%d: the page shows\n  %s\nthe binary printed\n  %s\n(%w)", ex.File, e.Line+1+at[k], w, got[i], err)
			}
			i++
		}
		if bi == len(ex.Expect)-1 && i < len(got) {
			return fmt.Errorf("%s:%d: the binary printed %d more line(s) than the page shows:\n  %s", ex.File, e.Line, len(got)-i, strings.Join(got[i:], "\n  "))
		}
	}
	return nil
}
