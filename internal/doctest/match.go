package doctest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Ellipsis is what a page writes for what it leaves out.
const Ellipsis = "…"

// The values that differ from run to run. Both sides are normalised, so a
// page's id matches any id of the same shape, never a different shape.
var volatile = []struct {
	re  *regexp.Regexp
	tag string
}{
	{regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})`), "<time>"},
	{regexp.MustCompile(`\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b`), "<uuid>"},
	{regexp.MustCompile(`\b[0-9a-f]{24}\b`), "<id>"},
}

func normalize(s string) string {
	for _, v := range volatile {
		s = v.re.ReplaceAllString(s, v.tag)
	}
	return s
}

// Match compares one line a page shows with one line the binary printed.
//
// When the page's line is JSON (with "…" allowed: as a member or an
// element, "more of them"; as a value, "any value"; inside a string, "any
// text here"), the output must be JSON of the same shape: every member and
// element shown, with equal values, and no other members or elements
// unless the object or array says "…". Otherwise the lines are compared as
// text, "…" standing for any text. Ids, UUIDs and RFC 3339 times match
// any value of the same kind.
func Match(want, got string) error {
	want, got = strings.TrimSpace(want), strings.TrimSpace(got)
	if p, err := parsePattern(want); err == nil {
		var v any
		dec := json.NewDecoder(strings.NewReader(got))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil || dec.More() {
			return fmt.Errorf("the page shows JSON, the output is not JSON")
		}
		return p.match(v, "$")
	}
	if !globMatch(normalize(want), normalize(got)) {
		return errors.New("the text differs")
	}
	return nil
}

// globMatch: pattern with "…" for any text, anchored at both ends.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, Ellipsis)
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last) && len(s) >= len(last)
}

type patKind int

const (
	patAny patKind = iota // a bare … in a value's place
	patObject
	patArray
	patString
	patNumber
	patLiteral // true, false, null
)

type pattern struct {
	kind patKind
	open bool // an object or array with … among its members
	keys []string
	obj  map[string]*pattern
	arr  []*pattern
	text string // string, number or literal
}

func (p *pattern) match(v any, path string) error {
	switch p.kind {
	case patAny:
		return nil
	case patLiteral:
		if fmt.Sprint(v) != map[string]string{"true": "true", "false": "false", "null": "<nil>"}[p.text] {
			return fmt.Errorf("%s: want %s, got %s", path, p.text, show(v))
		}
	case patNumber:
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("%s: want the number %s, got %s", path, p.text, show(v))
		}
		a, _ := strconv.ParseFloat(p.text, 64)
		b, _ := strconv.ParseFloat(n.String(), 64)
		if a != b {
			return fmt.Errorf("%s: want %s, got %s", path, p.text, n)
		}
	case patString:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: want a string %q, got %s", path, p.text, show(v))
		}
		if !globMatch(normalize(p.text), normalize(s)) {
			return fmt.Errorf("%s: want %q, got %q", path, p.text, s)
		}
	case patObject:
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, got %s", path, show(v))
		}
		for _, k := range p.keys {
			sub, ok := m[k]
			if !ok {
				return fmt.Errorf("%s: the member %q is missing", path, k)
			}
			if err := p.obj[k].match(sub, path+"."+k); err != nil {
				return err
			}
		}
		if !p.open {
			var extra []string
			for k := range m {
				if _, ok := p.obj[k]; !ok {
					extra = append(extra, k)
				}
			}
			if len(extra) > 0 {
				sort.Strings(extra)
				return fmt.Errorf("%s: members the page does not show: %s", path, strings.Join(extra, ", "))
			}
		}
	case patArray:
		a, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: want an array, got %s", path, show(v))
		}
		if !p.open {
			if len(a) != len(p.arr) {
				return fmt.Errorf("%s: want %d element(s), got %d", path, len(p.arr), len(a))
			}
			for i, e := range p.arr {
				if err := e.match(a[i], fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
			return nil
		}
		// With …: the elements shown appear in order, among others.
		j := 0
		for i, e := range p.arr {
			found := false
			for ; j < len(a); j++ {
				if e.match(a[j], "") == nil {
					found = true
					j++
					break
				}
			}
			if !found {
				return fmt.Errorf("%s: no element matches the page's element %d", path, i)
			}
		}
	}
	return nil
}

func show(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}

// parsePattern parses JSON in which … may stand for members, elements or
// a value.
func parsePattern(s string) (*pattern, error) {
	ps := &patParser{s: s}
	p, err := ps.value()
	if err != nil {
		return nil, err
	}
	ps.space()
	if ps.i != len(ps.s) {
		return nil, fmt.Errorf("trailing text at %d", ps.i)
	}
	return p, nil
}

type patParser struct {
	s string
	i int
}

func (ps *patParser) space() {
	for ps.i < len(ps.s) && strings.ContainsRune(" \t\n", rune(ps.s[ps.i])) {
		ps.i++
	}
}

func (ps *patParser) ellipsis() bool {
	ps.space()
	if strings.HasPrefix(ps.s[ps.i:], Ellipsis) {
		ps.i += len(Ellipsis)
		return true
	}
	return false
}

func (ps *patParser) next(c byte) bool {
	ps.space()
	if ps.i < len(ps.s) && ps.s[ps.i] == c {
		ps.i++
		return true
	}
	return false
}

var numberRE = regexp.MustCompile(`^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`)

func (ps *patParser) value() (*pattern, error) {
	if ps.ellipsis() {
		return &pattern{kind: patAny}, nil
	}
	ps.space()
	if ps.i >= len(ps.s) {
		return nil, errors.New("unexpected end")
	}
	switch c := ps.s[ps.i]; {
	case c == '{':
		ps.i++
		p := &pattern{kind: patObject, obj: map[string]*pattern{}}
		if ps.next('}') {
			return p, nil
		}
		for {
			if ps.ellipsis() {
				p.open = true
			} else {
				k, err := ps.str()
				if err != nil {
					return nil, err
				}
				if !ps.next(':') {
					return nil, fmt.Errorf("want : at %d", ps.i)
				}
				v, err := ps.value()
				if err != nil {
					return nil, err
				}
				if _, dup := p.obj[k]; !dup {
					p.keys = append(p.keys, k)
				}
				p.obj[k] = v
			}
			if ps.next('}') {
				return p, nil
			}
			if !ps.next(',') {
				return nil, fmt.Errorf("want , or } at %d", ps.i)
			}
		}
	case c == '[':
		ps.i++
		p := &pattern{kind: patArray}
		if ps.next(']') {
			return p, nil
		}
		for {
			if ps.ellipsis() {
				p.open = true
			} else {
				v, err := ps.value()
				if err != nil {
					return nil, err
				}
				p.arr = append(p.arr, v)
			}
			if ps.next(']') {
				return p, nil
			}
			if !ps.next(',') {
				return nil, fmt.Errorf("want , or ] at %d", ps.i)
			}
		}
	case c == '"':
		s, err := ps.str()
		if err != nil {
			return nil, err
		}
		if s == Ellipsis {
			return &pattern{kind: patAny}, nil
		}
		return &pattern{kind: patString, text: s}, nil
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if strings.HasPrefix(ps.s[ps.i:], lit) {
				ps.i += len(lit)
				return &pattern{kind: patLiteral, text: lit}, nil
			}
		}
		if n := numberRE.FindString(ps.s[ps.i:]); n != "" {
			ps.i += len(n)
			return &pattern{kind: patNumber, text: n}, nil
		}
		return nil, fmt.Errorf("not JSON at %d", ps.i)
	}
}

// str reads a JSON string with encoding/json, so that escapes mean what
// they mean in the output.
func (ps *patParser) str() (string, error) {
	ps.space()
	if ps.i >= len(ps.s) || ps.s[ps.i] != '"' {
		return "", fmt.Errorf("want a string at %d", ps.i)
	}
	j := ps.i + 1
	for j < len(ps.s) && ps.s[j] != '"' {
		if ps.s[j] == '\\' {
			j++
		}
		j++
	}
	if j >= len(ps.s) {
		return "", errors.New("unterminated string")
	}
	var out string
	dec := json.NewDecoder(bytes.NewReader([]byte(ps.s[ps.i : j+1])))
	if err := dec.Decode(&out); err != nil {
		return "", err
	}
	ps.i = j + 1
	return out, nil
}
