// Package promexpr reads the metric names out of PromQL expressions, so
// that a test can check a dashboard's and an alert file's expressions
// against the metrics the bridge really serves.
//
// It is a tokenizer, not a parser: the PromQL parser lives in the
// github.com/prometheus/prometheus module, whose dependency graph would
// triple go.sum for one test. What it must get right is which identifiers
// are metric names: not functions or aggregations (an identifier before
// "(", or an aggregation before by/without), not keywords, not the label
// names and values inside {…}, not the labels of by/without/on/ignoring/
// group_left/group_right (…), not durations, numbers, strings or Grafana
// variables ($__rate_interval, ${site}).
package promexpr

import (
	"fmt"
	"slices"
	"strings"
)

// keywords are PromQL words that are never metric names.
var keywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"offset": true, "bool": true, "and": true, "or": true, "unless": true, "atan2": true,
	"inf": true, "nan": true,
}

// aggregations may take by/without before their parenthesis.
var aggregations = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
}

// labelListers are followed by a parenthesised list of label names.
var labelListers = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// MetricNames returns the metric names expr selects, each once, in order
// of first appearance. A selector may name its metric inside the braces
// ({__name__="x"}); a regex matcher on __name__ is an error, since what it
// selects cannot be checked.
func MetricNames(expr string) ([]string, error) {
	var names []string
	add := func(n string) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	s := expr
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#': // comment to the end of the line
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			end, err := skipString(s, i)
			if err != nil {
				return nil, err
			}
			i = end
		case c == '$': // Grafana variable: $name, ${name}, [[name]] is not PromQL
			i++
			if i < len(s) && s[i] == '{' {
				end := strings.IndexByte(s[i:], '}')
				if end < 0 {
					return nil, fmt.Errorf("unclosed ${ at offset %d", i-1)
				}
				i += end + 1
				continue
			}
			for i < len(s) && isIdentChar(s[i]) {
				i++
			}
		case c == '{':
			end, name, err := scanMatchers(s, i)
			if err != nil {
				return nil, err
			}
			if name != "" {
				add(name)
			}
			i = end
		case c == '[': // range or subquery: durations and variables
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("unclosed [ at offset %d", i)
			}
			i += end + 1
		case isDigit(c) || (c == '.' && i+1 < len(s) && isDigit(s[i+1])):
			// A number or a duration (5m, 1h30m, 1e3, 0x1F).
			for i < len(s) && (isIdentChar(s[i]) || s[i] == '.' || ((s[i] == '+' || s[i] == '-') && (s[i-1] == 'e' || s[i-1] == 'E'))) {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			word := s[i:j]
			next := nextNonSpace(s, j)
			lower := strings.ToLower(word)
			switch {
			case labelListers[lower]:
				// by (a, b), on(x), group_left (y) or group_left alone.
				if next < len(s) && s[next] == '(' {
					end := strings.IndexByte(s[next:], ')')
					if end < 0 {
						return nil, fmt.Errorf("unclosed label list after %s", word)
					}
					j = next + end + 1
				}
			case keywords[lower]:
			case next < len(s) && s[next] == '(':
				// A function or an aggregation: its arguments follow.
			case aggregations[lower] && next < len(s) && (hasWordAt(s, next, "by") || hasWordAt(s, next, "without")):
				// sum by (x) (…)
			default:
				add(word)
			}
			i = j
		default:
			i++ // operators, parentheses, commas, @
		}
	}
	return names, nil
}

// scanMatchers reads {…} from s[i] and returns the offset after it and the
// metric name given as __name__="…", if any.
func scanMatchers(s string, i int) (int, string, error) {
	name := ""
	j := i + 1
	for j < len(s) {
		c := s[j]
		switch {
		case c == '}':
			return j + 1, name, nil
		case c == '"' || c == '\'' || c == '`':
			end, err := skipString(s, j)
			if err != nil {
				return 0, "", err
			}
			j = end
		case isIdentStart(c):
			k := j
			for k < len(s) && isIdentChar(s[k]) {
				k++
			}
			label := s[j:k]
			j = nextNonSpace(s, k)
			if label != "__name__" {
				continue
			}
			op := ""
			for j < len(s) && strings.IndexByte("=!~", s[j]) >= 0 {
				op += string(s[j])
				j++
			}
			j = nextNonSpace(s, j)
			if op != "=" {
				return 0, "", fmt.Errorf("__name__%s… selects metrics by pattern; name them", op)
			}
			if j >= len(s) || (s[j] != '"' && s[j] != '\'' && s[j] != '`') {
				return 0, "", fmt.Errorf("__name__= without a string at offset %d", j)
			}
			end, err := skipString(s, j)
			if err != nil {
				return 0, "", err
			}
			name = s[j+1 : end-1]
			j = end
		default:
			j++
		}
	}
	return 0, "", fmt.Errorf("unclosed { at offset %d", i)
}

// skipString returns the offset after the string literal at s[i].
func skipString(s string, i int) (int, error) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		if s[j] == '\\' && q != '`' {
			j++
			continue
		}
		if s[j] == q {
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unclosed string at offset %d", i)
}

func nextNonSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

func hasWordAt(s string, i int, w string) bool {
	if !strings.HasPrefix(strings.ToLower(s[i:]), w) {
		return false
	}
	return i+len(w) == len(s) || !isIdentChar(s[i+len(w)])
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) }

// SeriesNames lists the series names a metric family exposes, by its
// Prometheus type (as "# TYPE" gives it): a histogram is read through
// name_bucket, name_sum and name_count; a summary through name, name_sum
// and name_count; anything else by its name.
func SeriesNames(family, typ string) []string {
	switch typ {
	case "histogram":
		return []string{family + "_bucket", family + "_sum", family + "_count"}
	case "summary":
		return []string{family, family + "_sum", family + "_count"}
	}
	return []string{family}
}
