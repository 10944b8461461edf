package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// checkShape walks a parsed document against the Config type and reports
// every unknown key and every value of the wrong shape at once, each with
// its line and its key path as the file spells it (sites[0].deactivation),
// never a Go type name. An unknown key gets the nearest valid key as a
// suggestion: a misspelt key would otherwise be a setting silently unset.
func checkShape(doc *yaml.Node) []error {
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil
		}
		doc = doc.Content[0]
	}
	var errs []error
	walkShape(doc, reflect.TypeFor[Config](), "", &errs)
	return errs
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

func walkShape(n *yaml.Node, t reflect.Type, path string, errs *[]error) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty value leaves the default
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	shape := func(want string) {
		*errs = append(*errs, fmt.Errorf("config: line %d: %s must be %s", n.Line, keyName(path), want))
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || t.Kind() != reflect.Struct && t.Kind() != reflect.Slice && t.Kind() != reflect.Map {
		if n.Kind != yaml.ScalarNode {
			shape(describe(t))
			return
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			*errs = append(*errs, fmt.Errorf("config: line %d: %s: %q is not %s", n.Line, keyName(path), n.Value, describe(t)))
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			shape(describe(t))
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				msg := fmt.Sprintf("config: line %d: unknown key `%s` in %s", k.Line, k.Value, where(path))
				if s := nearestKey(k.Value, fields); s != "" {
					msg += fmt.Sprintf("; did you mean `%s`?", s)
				}
				*errs = append(*errs, fmt.Errorf("%s", msg))
				continue
			}
			walkShape(v, ft, join(path, k.Value), errs)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			shape(describe(t))
			return
		}
		for i, c := range n.Content {
			walkShape(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			shape(describe(t))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			walkShape(n.Content[i+1], t.Elem(), fmt.Sprintf("%s[%q]", path, n.Content[i].Value), errs)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func keyName(path string) string {
	if path == "" {
		return "the config"
	}
	return "`" + path + "`"
}

func where(path string) string {
	if path == "" {
		return "the top level"
	}
	return "`" + path + "`"
}

// describe says what a value of type t is written as, in YAML terms.
func describe(t reflect.Type) string {
	if t == reflect.TypeFor[Duration]() {
		return "a duration such as 30s or 5m"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a mapping (key: value lines)"
	case reflect.Slice:
		return "a list"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "a whole number"
	default:
		return "a single value"
	}
}

// yamlFields maps the yaml keys of struct type t to their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// nearestKey is the valid key closest to key (case-insensitive edit
// distance), if it is close enough to be what was meant.
func nearestKey(key string, fields map[string]reflect.Type) string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names) // ties go the same way every run
	best, bestD := "", -1
	for _, k := range names {
		d := editDistance(strings.ToLower(key), strings.ToLower(k))
		if bestD < 0 || d < bestD {
			best, bestD = k, d
		}
	}
	if bestD < 0 || bestD > max(2, len(key)/4) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
