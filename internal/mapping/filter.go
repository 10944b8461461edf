package mapping

import (
	"encoding/json"
	"fmt"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// Cond is one equality condition answerable from the bridge's indexes.
//
//	Attr is canonical: "userName", "externalId", "id", "email", "displayName".
//	"email" means "any of the user's emails equals Value"; userName, email
//	and displayName compare case-insensitively, externalId and id exactly.
type Cond struct {
	Attr  string
	Value string
}

// Canonical Cond attributes.
const (
	CondUserName    = "userName"
	CondExternalID  = "externalId"
	CondID          = "id"
	CondEmail       = "email"
	CondDisplayName = "displayName"
)

// Query is a translated Users filter: the users matching every Eq
// condition (an intersection of index lookups; all users if Eq is empty),
// further restricted by Residual, which the server evaluates with Matches
// on each candidate. Residual is nil when Eq answers the filter exactly.
type Query struct {
	Eq       []Cond
	Residual filter.Expression
}

// TranslateUserFilter turns the filter AST elimity hands the handler into
// a Query. eq on userName, externalId, id, displayName, emails.value,
// emails[value eq x] and emails[type eq t and value eq x] (the type
// condition stays in Residual), combined with and, become index
// conditions. Anything else on attributes the bridge stores (co, sw, ew,
// pr, ne, gt…, or, not) becomes Residual. Filters on attributes the bridge
// does not store (enterprise extension, meta, groups, members...) or that
// it cannot evaluate return an *Error with ScimType invalidFilter. It never
// panics.
func TranslateUserFilter(expr filter.Expression) (q Query, err error) {
	defer func() {
		if r := recover(); r != nil {
			q, err = Query{}, newError(ScimTypeInvalidFilter, fmt.Sprintf("unsupported filter: %v", r))
		}
	}()
	if expr == nil {
		return Query{}, nil
	}
	if err := checkUserExpr(expr); err != nil {
		return Query{}, err
	}
	conds, residual := splitIndexable(expr)
	return Query{Eq: conds, Residual: residual}, nil
}

func splitIndexable(e filter.Expression) ([]Cond, filter.Expression) {
	switch x := e.(type) {
	case *filter.LogicalExpression:
		if x.Operator != filter.AND && !strings.EqualFold(string(x.Operator), "and") {
			return nil, e
		}
		lc, lr := splitIndexable(x.Left)
		rc, rr := splitIndexable(x.Right)
		return append(lc, rc...), andExpr(lr, rr)
	case *filter.AttributeExpression:
		if c, ok := indexCond(x); ok {
			return []Cond{c}, nil
		}
	case *filter.ValuePath:
		if c, exact, ok := emailValuePathCond(x); ok {
			if exact {
				return []Cond{c}, nil
			}
			return []Cond{c}, e
		}
	}
	return nil, e
}

func andExpr(a, b filter.Expression) filter.Expression {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return &filter.LogicalExpression{Left: a, Right: b, Operator: filter.AND}
}

// compareString returns the filter's string compare value, unescaped (the
// scim2 parser keeps JSON escapes such as \" verbatim).
func compareString(v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		return "", false
	}
	if strings.ContainsRune(s, '\\') {
		var out string
		if json.Unmarshal([]byte(`"`+s+`"`), &out) == nil {
			return out, true
		}
	}
	return s, true
}

func indexCond(x *filter.AttributeExpression) (Cond, bool) {
	if !strings.EqualFold(string(x.Operator), string(filter.EQ)) {
		return Cond{}, false
	}
	val, ok := compareString(x.CompareValue)
	if !ok {
		return Cond{}, false
	}
	canon, err := resolveUserAttr(x.AttributePath)
	if err != nil {
		return Cond{}, false
	}
	switch canon.name {
	case "userName", "externalId", "id", "displayName":
		return Cond{Attr: canon.name, Value: val}, true
	case "emails", "emails.value":
		return Cond{Attr: CondEmail, Value: val}, true
	}
	return Cond{}, false
}

// emailValuePathCond finds "value eq x" among the and-ed conditions of an
// emails[...] value path. exact reports that it is the only condition.
func emailValuePathCond(vp *filter.ValuePath) (Cond, bool, bool) {
	if vp.AttributePath.SubAttribute != nil || !strings.EqualFold(vp.AttributePath.AttributeName, "emails") {
		return Cond{}, false, false
	}
	if u := vp.AttributePath.URI(); u != "" && !strings.EqualFold(u, CoreUserSchemaURN) {
		return Cond{}, false, false
	}
	var conj []filter.Expression
	var flatten func(e filter.Expression) bool
	flatten = func(e filter.Expression) bool {
		switch x := e.(type) {
		case *filter.LogicalExpression:
			if !strings.EqualFold(string(x.Operator), "and") {
				return false
			}
			return flatten(x.Left) && flatten(x.Right)
		default:
			conj = append(conj, e)
			return true
		}
	}
	if !flatten(vp.ValueFilter) {
		return Cond{}, false, false
	}
	for _, c := range conj {
		ae, ok := c.(*filter.AttributeExpression)
		if !ok || ae.AttributePath.URIPrefix != nil || ae.AttributePath.SubAttribute != nil {
			continue
		}
		if !strings.EqualFold(ae.AttributePath.AttributeName, "value") || !strings.EqualFold(string(ae.Operator), "eq") {
			continue
		}
		if s, ok := compareString(ae.CompareValue); ok {
			return Cond{Attr: CondEmail, Value: s}, len(conj) == 1, true
		}
	}
	return Cond{}, false, false
}

type attrType int

const (
	typeString attrType = iota
	typeBool
	typeComplex // emails without sub-attribute: compares its value
)

type resolvedAttr struct {
	name      string // canonical, dotted for sub-attributes
	typ       attrType
	caseExact bool
}

// resolveUserAttr resolves a filter attribute path on a User.
func resolveUserAttr(ap filter.AttributePath) (resolvedAttr, error) {
	if u := ap.URI(); u != "" && !strings.EqualFold(u, CoreUserSchemaURN) {
		return resolvedAttr{}, newError(ScimTypeInvalidFilter, fmt.Sprintf("filtering on %s is not supported", ap.String()))
	}
	bad := func() (resolvedAttr, error) {
		return resolvedAttr{}, newError(ScimTypeInvalidFilter, fmt.Sprintf("filtering on %q is not supported", ap.String()))
	}
	name, sub := ap.AttributeName, ap.SubAttributeName()
	switch {
	case strings.EqualFold(name, "id"), strings.EqualFold(name, "externalId"):
		if sub != "" {
			return bad()
		}
		c, _ := canonicalFold([]string{"id", "externalId"}, name)
		return resolvedAttr{name: c, caseExact: true}, nil
	case strings.EqualFold(name, "active"):
		if sub != "" {
			return bad()
		}
		return resolvedAttr{name: "active", typ: typeBool}, nil
	case strings.EqualFold(name, "name"):
		if sub == "" {
			return bad()
		}
		c, ok := canonicalFold(nameSubAttrs, sub)
		if !ok {
			return bad()
		}
		return resolvedAttr{name: "name." + c}, nil
	case strings.EqualFold(name, "emails"):
		if sub == "" {
			return resolvedAttr{name: "emails", typ: typeComplex}, nil
		}
		c, ok := canonicalFold([]string{"value", "type", "primary"}, sub)
		if !ok {
			return bad()
		}
		if c == "primary" {
			return resolvedAttr{name: "emails.primary", typ: typeBool}, nil
		}
		return resolvedAttr{name: "emails." + c}, nil
	}
	if c, ok := canonicalFold(storedStringAttrs, name); ok && sub == "" {
		return resolvedAttr{name: c}, nil
	}
	return bad()
}

// resolveEmailAttr resolves an attribute inside emails[...].
func resolveEmailAttr(ap filter.AttributePath) (resolvedAttr, error) {
	if ap.URIPrefix != nil || ap.SubAttribute != nil {
		return resolvedAttr{}, newError(ScimTypeInvalidFilter, fmt.Sprintf("unsupported attribute %q in emails filter", ap.String()))
	}
	c, ok := canonicalFold([]string{"value", "type", "primary"}, ap.AttributeName)
	if !ok {
		return resolvedAttr{}, newError(ScimTypeInvalidFilter, fmt.Sprintf("unsupported attribute %q in emails filter", ap.AttributeName))
	}
	if c == "primary" {
		return resolvedAttr{name: c, typ: typeBool}, nil
	}
	return resolvedAttr{name: c}, nil
}

var validOps = map[string]bool{"eq": true, "ne": true, "co": true, "sw": true, "ew": true, "gt": true, "lt": true, "ge": true, "le": true, "pr": true}

func checkAttrExpr(x *filter.AttributeExpression, resolve func(filter.AttributePath) (resolvedAttr, error)) error {
	ra, err := resolve(x.AttributePath)
	if err != nil {
		return err
	}
	op := strings.ToLower(string(x.Operator))
	if !validOps[op] {
		return newError(ScimTypeInvalidFilter, fmt.Sprintf("unknown operator %q", x.Operator))
	}
	if ra.typ == typeBool && op != "eq" && op != "ne" && op != "pr" {
		return newError(ScimTypeInvalidFilter, fmt.Sprintf("operator %q is not supported on boolean %s", op, ra.name))
	}
	return nil
}

func checkUserExpr(e filter.Expression) error {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		if x == nil {
			break
		}
		return checkAttrExpr(x, resolveUserAttr)
	case *filter.LogicalExpression:
		if x == nil {
			break
		}
		if op := strings.ToLower(string(x.Operator)); op != "and" && op != "or" {
			return newError(ScimTypeInvalidFilter, fmt.Sprintf("unknown logical operator %q", x.Operator))
		}
		if err := checkUserExpr(x.Left); err != nil {
			return err
		}
		return checkUserExpr(x.Right)
	case *filter.NotExpression:
		if x == nil {
			break
		}
		return checkUserExpr(x.Expression)
	case *filter.ValuePath:
		if x == nil {
			break
		}
		if u := x.AttributePath.URI(); (u != "" && !strings.EqualFold(u, CoreUserSchemaURN)) ||
			!strings.EqualFold(x.AttributePath.AttributeName, "emails") || x.AttributePath.SubAttribute != nil {
			return newError(ScimTypeInvalidFilter, fmt.Sprintf("value filters are only supported on emails, not %q", x.AttributePath.String()))
		}
		return checkEmailExpr(x.ValueFilter)
	}
	return newError(ScimTypeInvalidFilter, "unsupported filter expression")
}

func checkEmailExpr(e filter.Expression) error {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		if x != nil {
			return checkAttrExpr(x, resolveEmailAttr)
		}
	case *filter.LogicalExpression:
		if x != nil {
			if op := strings.ToLower(string(x.Operator)); op != "and" && op != "or" {
				return newError(ScimTypeInvalidFilter, fmt.Sprintf("unknown logical operator %q", x.Operator))
			}
			if err := checkEmailExpr(x.Left); err != nil {
				return err
			}
			return checkEmailExpr(x.Right)
		}
	case *filter.NotExpression:
		if x != nil {
			return checkEmailExpr(x.Expression)
		}
	}
	return newError(ScimTypeInvalidFilter, "unsupported expression inside emails[...]")
}

// userValues returns the values of a resolved attribute on u.
func userValues(u User, id string, ra resolvedAttr) []any {
	str := func(s string) []any {
		if s == "" {
			return nil
		}
		return []any{s}
	}
	switch ra.name {
	case "id":
		return str(id)
	case "userName":
		return str(u.UserName)
	case "externalId":
		return str(u.ExternalID)
	case "displayName":
		return str(u.DisplayName)
	case "nickName":
		return str(u.NickName)
	case "title":
		return str(u.Title)
	case "userType":
		return str(u.UserType)
	case "preferredLanguage":
		return str(u.PreferredLanguage)
	case "locale":
		return str(u.Locale)
	case "timezone":
		return str(u.Timezone)
	case "active":
		return []any{u.Active}
	case "emails", "emails.value", "emails.type", "emails.primary":
		var out []any
		for _, e := range u.Emails {
			out = append(out, emailValues(e, strings.TrimPrefix(strings.TrimPrefix(ra.name, "emails"), "."))...)
		}
		return out
	}
	if sub, ok := strings.CutPrefix(ra.name, "name."); ok {
		n := u.Name
		return str(*nameField(&n, sub))
	}
	return nil
}

func emailValues(e Email, sub string) []any {
	switch sub {
	case "", "value":
		if e.Value == "" {
			return nil
		}
		return []any{e.Value}
	case "type":
		if e.Type == "" {
			return nil
		}
		return []any{e.Type}
	case "primary":
		return []any{e.Primary}
	}
	return nil
}

// Matches evaluates a (Residual) filter on a stored user whose SCIM id is
// id. userName, emails, displayName and the other core strings compare
// case-insensitively (caseExact=false in the core schema); externalId and
// id compare exactly. Multi-valued attributes match if any value does
// (ne: if none is equal). It returns an invalidFilter *Error for
// attributes or shapes TranslateUserFilter would reject, and never panics.
func Matches(expr filter.Expression, u User, id string) (ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			ok, err = false, newError(ScimTypeInvalidFilter, fmt.Sprintf("unsupported filter: %v", r))
		}
	}()
	if expr == nil {
		return true, nil
	}
	if err := checkUserExpr(expr); err != nil {
		return false, err
	}
	return evalUser(expr, u, id), nil
}

func evalUser(e filter.Expression, u User, id string) bool {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		ra, err := resolveUserAttr(x.AttributePath)
		if err != nil {
			return false
		}
		return compareValues(userValues(u, id, ra), ra, x)
	case *filter.LogicalExpression:
		if strings.EqualFold(string(x.Operator), "or") {
			return evalUser(x.Left, u, id) || evalUser(x.Right, u, id)
		}
		return evalUser(x.Left, u, id) && evalUser(x.Right, u, id)
	case *filter.NotExpression:
		return !evalUser(x.Expression, u, id)
	case *filter.ValuePath:
		for _, em := range u.Emails {
			if evalEmail(x.ValueFilter, em) {
				return true
			}
		}
	}
	return false
}

func evalEmail(e filter.Expression, em Email) bool {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		ra, err := resolveEmailAttr(x.AttributePath)
		if err != nil {
			return false
		}
		return compareValues(emailValues(em, ra.name), ra, x)
	case *filter.LogicalExpression:
		if strings.EqualFold(string(x.Operator), "or") {
			return evalEmail(x.Left, em) || evalEmail(x.Right, em)
		}
		return evalEmail(x.Left, em) && evalEmail(x.Right, em)
	case *filter.NotExpression:
		return !evalEmail(x.Expression, em)
	}
	return false
}

func compareValues(vals []any, ra resolvedAttr, x *filter.AttributeExpression) bool {
	op := strings.ToLower(string(x.Operator))
	if op == "pr" {
		for _, v := range vals {
			if s, ok := v.(string); !ok || s != "" {
				return true
			}
		}
		return false
	}
	if x.CompareValue == nil { // eq null / ne null
		switch op {
		case "eq":
			return len(vals) == 0
		case "ne":
			return len(vals) > 0
		}
		return false
	}
	if op == "ne" {
		eq := *x
		eq.Operator = filter.EQ
		return !compareValues(vals, ra, &eq)
	}
	for _, v := range vals {
		if compareOne(v, ra, op, x.CompareValue) {
			return true
		}
	}
	return false
}

func compareOne(v any, ra resolvedAttr, op string, cv any) bool {
	switch a := v.(type) {
	case bool:
		b, ok := cv.(bool)
		if !ok {
			return false
		}
		return op == "eq" && a == b
	case string:
		s, ok := compareString(cv)
		if !ok {
			return false
		}
		if !ra.caseExact {
			a, s = strings.ToLower(a), strings.ToLower(s)
		}
		switch op {
		case "eq":
			return a == s
		case "co":
			return strings.Contains(a, s)
		case "sw":
			return strings.HasPrefix(a, s)
		case "ew":
			return strings.HasSuffix(a, s)
		case "gt":
			return a > s
		case "ge":
			return a >= s
		case "lt":
			return a < s
		case "le":
			return a <= s
		}
	}
	return false
}

// Indexed are the values the bridge indexes a user by, as its record
// holds them (the email is the one the user was invited with).
type Indexed struct {
	ID, UserName, ExternalID, DisplayName, Email string
}

// Holds reports whether c holds for a user with the indexed values ix and
// the attributes u, comparing as the indexes do: userName, displayName
// and email case-insensitively (email also against every address of u),
// id and externalId exactly. An empty value holds for nobody (empty values
// are never indexed), wherever it stands in an and.
func (c Cond) Holds(ix Indexed, u User) (bool, error) {
	if c.Value == "" {
		return false, nil
	}
	switch strings.ToLower(c.Attr) {
	case "id":
		return ix.ID == c.Value, nil
	case "username":
		return sameLower(ix.UserName, c.Value), nil
	case "externalid":
		return ix.ExternalID == c.Value, nil
	case "displayname":
		return sameLower(ix.DisplayName, c.Value), nil
	case "email":
		if sameLower(ix.Email, c.Value) {
			return true, nil
		}
		for _, e := range u.Emails {
			if sameLower(e.Value, c.Value) {
				return true, nil
			}
		}
		return false, nil
	}
	return false, &Error{ScimType: ScimTypeInvalidFilter, Detail: "unsupported filter attribute " + c.Attr, Status: 400}
}

// IndexedOnly reports whether Holds reads only the Indexed values (every
// condition is an eq on id, userName, externalId or displayName, and
// nothing is left over), so a caller need not decode the user for it.
func (q Query) IndexedOnly() bool {
	if q.Residual != nil {
		return false
	}
	for _, c := range q.Eq {
		switch strings.ToLower(c.Attr) {
		case "id", "username", "externalid", "displayname":
		default:
			return false
		}
	}
	return true
}

// Holds reports whether a candidate an index lookup found matches the
// whole query: every Eq condition, then the Residual.
func (q Query) Holds(ix Indexed, u User) (bool, error) {
	for _, c := range q.Eq {
		ok, err := c.Holds(ix, u)
		if err != nil || !ok {
			return false, err
		}
	}
	if q.Residual != nil {
		return Matches(q.Residual, u, ix.ID)
	}
	return true, nil
}

// sameLower is the case-insensitive comparison of the indexes (which store
// strings.ToLower): strings.EqualFold differs from it on a few characters
// (Go lowers İ to i, which EqualFold does not match), and a record the
// index finds must also match.
func sameLower(a, b string) bool { return a == b || strings.ToLower(a) == strings.ToLower(b) }
