package filter

import (
	"cmp"
	"strings"
	"unicode"
)

// OrderKey is one sort key of a search: an attribute and a direction.
type OrderKey struct {
	Attr Attr
	Desc bool
}

// String returns the key as an order_by clause, such as "name ASC".
func (k OrderKey) String() string {
	if k.Desc {
		return k.Attr.String() + " DESC"
	}
	return k.Attr.String() + " ASC"
}

// FormatOrderBy returns keys as one string, "last_updated_timestamp DESC, name ASC". Equal
// orders give equal strings, so it can key a cache of sorted results.
func FormatOrderBy(keys []OrderKey) string {
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k.String())
	}
	return b.String()
}

// Default orders, used when a search has no order_by. Registered models are sorted by name
// (both MLflow stores). Model versions follow MLflow's SQL store, the one MLflow servers
// run: most recently updated first, then by name, then newest version first. (MLflow's
// file store sorts versions by name ASC, version_number DESC.)
var (
	defaultModelOrder   = []OrderKey{{Attr: AttrName}}
	defaultVersionOrder = []OrderKey{{Attr: AttrLastUpdatedTimestamp, Desc: true}, {Attr: AttrName}, {Attr: AttrVersionNumber, Desc: true}}
)

// ParseOrderBy parses the order_by clauses of a search for kind and returns the complete
// order, tie-breakers included, ready for Compare. Each clause is "<key> [ASC|DESC]"
// (ASC by default, either case); the key may be written as attribute.<key>, `<key>` or
// "<key>". Valid keys:
//
//	Models:   name, creation_timestamp, last_updated_timestamp, timestamp (= last_updated_timestamp)
//	Versions: name, version_number, creation_timestamp, last_updated_timestamp
//
// A key may appear once. As in MLflow, name ASC is appended unless name is already there,
// and for versions version_number DESC too, so the order is total. With no clauses the
// result is the default order described above. Invalid clauses give an *Error.
func ParseOrderBy(kind Kind, clauses []string) ([]OrderKey, error) {
	if !kind.valid() {
		return nil, &Error{Msg: "Invalid search kind " + kind.String(), Offset: -1}
	}
	if len(clauses) == 0 {
		if kind == Models {
			return append([]OrderKey(nil), defaultModelOrder...), nil
		}
		return append([]OrderKey(nil), defaultVersionOrder...), nil
	}
	keys := make([]OrderKey, 0, len(clauses)+2)
	for _, c := range clauses {
		k, err := parseOrderClause(kind, c)
		if err != nil {
			return nil, err
		}
		if hasAttr(keys, k.Attr) {
			return nil, &Error{Msg: "`order_by` contains duplicate fields: " + pyList(clauses), Offset: -1}
		}
		keys = append(keys, k)
	}
	if !hasAttr(keys, AttrName) {
		keys = append(keys, OrderKey{Attr: AttrName})
	}
	if kind == Versions && !hasAttr(keys, AttrVersionNumber) {
		keys = append(keys, OrderKey{Attr: AttrVersionNumber, Desc: true})
	}
	return keys, nil
}

func hasAttr(keys []OrderKey, a Attr) bool {
	for _, k := range keys {
		if k.Attr == a {
			return true
		}
	}
	return false
}

// pyList formats clauses the way MLflow's messages show a list: ['a', 'b'].
func pyList(clauses []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, c := range clauses {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteText(c))
	}
	b.WriteByte(']')
	return b.String()
}

func parseOrderClause(kind Kind, clause string) (OrderKey, error) {
	unparsable := &Error{Msg: "Invalid order_by clause " + quoteText(clause) + ". Could not be parsed.", Offset: -1}
	s := strings.TrimSpace(clause)
	if s == "" {
		return OrderKey{}, unparsable
	}
	var key, rest string
	if q := s[0]; q == '`' || q == '"' {
		end := strings.IndexByte(s[1:], q)
		if end < 0 {
			return OrderKey{}, unparsable
		}
		key, rest = s[1:end+1], s[end+2:]
		if rest != "" && !startsWithSpace(rest) {
			return OrderKey{}, unparsable
		}
	} else {
		end := strings.IndexFunc(s, unicode.IsSpace)
		if end < 0 {
			end = len(s)
		}
		key, rest = s[:end], s[end:]
	}
	var k OrderKey
	if rest = strings.TrimSpace(rest); rest != "" {
		if strings.IndexFunc(rest, unicode.IsSpace) >= 0 {
			return OrderKey{}, unparsable
		}
		switch asciiUpper(rest) {
		case "ASC":
		case "DESC":
			k.Desc = true
		default:
			return OrderKey{}, &Error{Msg: "Invalid ordering key in order_by clause " + quoteText(clause) + ". Use ASC or DESC.", Offset: -1}
		}
	}
	if entity, name, ok := strings.Cut(key, "."); ok {
		switch entity {
		case "attribute":
			key = name
		case "tag", "tags":
			return OrderKey{}, &Error{Msg: "Invalid order_by entity: tag. Only attributes can be used in order_by: " + validOrderKeys(kind), Offset: -1}
		default:
			return OrderKey{}, &Error{Msg: "Invalid entity type '" + entity + "'. Valid entity types are ('attribute', 'tag', 'tags')", Offset: -1}
		}
	}
	switch {
	case key == "name":
		k.Attr = AttrName
	case key == "creation_timestamp":
		k.Attr = AttrCreationTimestamp
	case key == "last_updated_timestamp", key == "timestamp" && kind == Models:
		k.Attr = AttrLastUpdatedTimestamp
	case key == "version_number" && kind == Versions:
		k.Attr = AttrVersionNumber
	default:
		return OrderKey{}, &Error{Msg: "Invalid order by key '" + key + "' specified. Valid keys are " + validOrderKeys(kind), Offset: -1}
	}
	return k, nil
}

func startsWithSpace(s string) bool {
	for _, r := range s {
		return unicode.IsSpace(r)
	}
	return false
}

func validOrderKeys(kind Kind) string {
	if kind == Models {
		return "'{creation_timestamp, last_updated_timestamp, name, timestamp}'"
	}
	return "'{creation_timestamp, last_updated_timestamp, name, version_number}'"
}

// Compare compares a and b by keys, the result of ParseOrderBy: negative when a sorts
// first, positive when b does, zero when they tie. Text compares by code point (byte-wise
// UTF-8, as Python compares str). An unset value sorts after every set value, in either
// direction. Use it with slices.SortFunc.
func Compare(keys []OrderKey, a, b Object) int {
	for _, k := range keys {
		var c int
		var oka, okb bool
		if k.Attr.Numeric() {
			var x, y int64
			x, oka = a.Int(k.Attr)
			y, okb = b.Int(k.Attr)
			c = cmp.Compare(x, y)
		} else {
			var x, y string
			x, oka = a.Text(k.Attr)
			y, okb = b.Text(k.Attr)
			c = strings.Compare(x, y)
		}
		switch {
		case !oka && !okb:
			c = 0
		case !oka:
			return 1
		case !okb:
			return -1
		case k.Desc:
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}
