package filter

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind selects the entity a filter or an order_by list applies to. Each kind has its own
// set of attributes, comparators and order keys, as in MLflow.
type Kind uint8

// The two searchable kinds.
const (
	// Models is registered-models/search (MLflow's SearchModelUtils).
	Models Kind = iota + 1
	// Versions is model-versions/search (MLflow's SearchModelVersionUtils).
	Versions
)

// String returns "registered models" or "model versions".
func (k Kind) String() string {
	switch k {
	case Models:
		return "registered models"
	case Versions:
		return "model versions"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

func (k Kind) valid() bool { return k == Models || k == Versions }

// Attr is an attribute of a registered model or a model version that a filter can compare
// or an order_by can sort on.
type Attr uint8

// Attributes. Which ones a Kind accepts in a filter and in order_by is listed in doc.go.
const (
	// AttrName is the registered model's name (for a version: the name of its model).
	AttrName Attr = iota + 1
	// AttrRunID is a version's run_id.
	AttrRunID
	// AttrSourcePath is a version's source (the filter key is source_path, as in MLflow).
	AttrSourcePath
	// AttrVersionNumber is a version's number, compared as an integer.
	AttrVersionNumber
	// AttrCreationTimestamp is creation_timestamp, in milliseconds since the epoch.
	AttrCreationTimestamp
	// AttrLastUpdatedTimestamp is last_updated_timestamp, in milliseconds since the epoch.
	AttrLastUpdatedTimestamp
)

var attrNames = [...]string{
	AttrName:                 "name",
	AttrRunID:                "run_id",
	AttrSourcePath:           "source_path",
	AttrVersionNumber:        "version_number",
	AttrCreationTimestamp:    "creation_timestamp",
	AttrLastUpdatedTimestamp: "last_updated_timestamp",
}

// String returns the attribute's MLflow key, such as "source_path".
func (a Attr) String() string {
	if int(a) > 0 && int(a) < len(attrNames) {
		return attrNames[a]
	}
	return "Attr(" + strconv.Itoa(int(a)) + ")"
}

// Numeric reports whether the attribute is an integer, read with Object.Int. The others are
// text, read with Object.Text.
func (a Attr) Numeric() bool {
	return a == AttrVersionNumber || a == AttrCreationTimestamp || a == AttrLastUpdatedTimestamp
}

// Object is a registered model or a model version as a filter and an order see it. The
// registry implements it on its own types; the methods are called for every object of a
// search, so they should be plain field reads that do not allocate.
//
// The boolean reports whether the value is set. An unset value is MLflow's None (SQL NULL):
// no comparison matches it, not even !=, and it sorts after every set value. A version
// without a run returns ("", false) for AttrRunID.
type Object interface {
	// Text returns a text attribute: AttrName, AttrRunID or AttrSourcePath.
	Text(a Attr) (string, bool)
	// Int returns a numeric attribute: AttrVersionNumber, AttrCreationTimestamp or
	// AttrLastUpdatedTimestamp.
	Int(a Attr) (int64, bool)
	// Tag returns the value of the tag with this key, and false when there is no such tag.
	Tag(key string) (string, bool)
}

// PromptTagKey is the tag MLflow 3 uses to tell prompts from models. MLflow clients append
// "tag.`mlflow.prompt.is_prompt` != 'true'" to every registry search, so a filter treats a
// missing tag with this key as "false": "= 'false'" and "!= 'true'" match objects without it.
const PromptTagKey = "mlflow.prompt.is_prompt"

// Op is a comparator.
type Op uint8

// Comparators.
const (
	OpEq    Op = iota + 1 // =
	OpNe                  // !=
	OpLike                // LIKE: case-sensitive pattern with % and _
	OpILike               // ILIKE: LIKE ignoring case
	OpIn                  // IN (list of strings)
	OpLt                  // <
	OpLe                  // <=
	OpGt                  // >
	OpGe                  // >=
)

var opNames = [...]string{
	OpEq: "=", OpNe: "!=", OpLike: "LIKE", OpILike: "ILIKE", OpIn: "IN",
	OpLt: "<", OpLe: "<=", OpGt: ">", OpGe: ">=",
}

// String returns the comparator as written in a filter, such as "!=" or "LIKE".
func (o Op) String() string {
	if int(o) > 0 && int(o) < len(opNames) {
		return opNames[o]
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

// Clause is one comparison of a filter. Exactly one of Attr and Tag identifies the left-hand
// side: Attr is zero for a tag clause. Clauses are read-only; they share state with the Expr.
type Clause struct {
	// Attr is the compared attribute, or zero when the clause compares a tag.
	Attr Attr
	// Tag is the tag key when Attr is zero.
	Tag string
	// Op is the comparator.
	Op Op
	// Value is the string operand of =, != (on text and tags), LIKE and ILIKE. For LIKE and
	// ILIKE it is the pattern as written, escapes included.
	Value string
	// Values is the list of IN.
	Values []string
	// Number is the operand of a numeric attribute (version_number).
	Number float64

	like   likePattern         // compiled LIKE/ILIKE pattern
	set    map[string]struct{} // IN list, when it is long
	prompt bool                // tag clause on PromptTagKey
}

// IsTag reports whether the clause compares a tag.
func (c *Clause) IsTag() bool { return c.Attr == 0 }

// Expr is a parsed filter: clauses joined by AND. The zero of a filter, from an empty
// string, has no clauses and matches everything; so does a nil *Expr.
// An Expr is immutable and safe for concurrent use.
type Expr struct {
	kind    Kind
	clauses []Clause
}

// Kind returns the kind the filter was parsed for.
func (e *Expr) Kind() Kind {
	if e == nil {
		return 0
	}
	return e.kind
}

// Clauses returns the clauses, in the order they were written. The registry may use them
// to narrow a search before calling Match (say, an index lookup on name = '...'). The
// returned slice is a copy; the clauses themselves must not be modified.
func (e *Expr) Clauses() []Clause {
	if e == nil {
		return nil
	}
	return append([]Clause(nil), e.clauses...)
}

// Match reports whether obj satisfies every clause. It does not allocate.
func (e *Expr) Match(obj Object) bool {
	if e == nil {
		return true
	}
	for i := range e.clauses {
		if !e.clauses[i].match(obj) {
			return false
		}
	}
	return true
}

func (c *Clause) match(obj Object) bool {
	if c.Attr == 0 {
		v, ok := obj.Tag(c.Tag)
		if !ok {
			if c.prompt {
				// An object without the prompt tag is not a prompt (MLflow does the same).
				return (c.Op == OpEq && c.Value == "false") || (c.Op == OpNe && c.Value == "true")
			}
			return false
		}
		return c.matchText(v)
	}
	if c.Attr.Numeric() {
		n, ok := obj.Int(c.Attr)
		if !ok {
			return false
		}
		x := float64(n)
		switch c.Op {
		case OpEq:
			return x == c.Number
		case OpNe:
			return x != c.Number
		case OpLt:
			return x < c.Number
		case OpLe:
			return x <= c.Number
		case OpGt:
			return x > c.Number
		case OpGe:
			return x >= c.Number
		}
		return false
	}
	v, ok := obj.Text(c.Attr)
	if !ok {
		return false
	}
	return c.matchText(v)
}

func (c *Clause) matchText(v string) bool {
	switch c.Op {
	case OpEq:
		return v == c.Value
	case OpNe:
		return v != c.Value
	case OpLike, OpILike:
		return c.like.match(v)
	case OpIn:
		if c.set != nil {
			_, ok := c.set[v]
			return ok
		}
		for _, x := range c.Values {
			if x == v {
				return true
			}
		}
	}
	return false
}

// QueriesPrompts reports whether the filter asks for prompts, that is whether it has
// "tags.`mlflow.prompt.is_prompt` = 'true'" or "... != 'false'" (the value is compared
// without regard to ASCII case), looking at the first clause on that tag as MLflow does. MLflow's SQL store leaves prompts out of a search unless the
// filter asks for them; the registry can do the same with this.
func (e *Expr) QueriesPrompts() bool {
	if e == nil {
		return false
	}
	for i := range e.clauses {
		c := &e.clauses[i]
		if !c.prompt {
			continue
		}
		v := asciiUpper(c.Value)
		return (c.Op == OpEq && v == "TRUE") || (c.Op == OpNe && v == "FALSE")
	}
	return false
}

// String returns the filter in canonical form: clauses joined by " AND ", attributes by
// their key, tags as tags.<key> (backquoted unless the key is a dotted identifier), strings
// in single quotes with embedded quotes doubled. Parsing the result gives an equal Expr.
func (e *Expr) String() string {
	if e == nil {
		return ""
	}
	var b strings.Builder
	for i := range e.clauses {
		if i > 0 {
			b.WriteString(" AND ")
		}
		e.clauses[i].format(&b)
	}
	return b.String()
}

// String returns the clause as String of Expr writes it.
func (c *Clause) String() string {
	var b strings.Builder
	c.format(&b)
	return b.String()
}

func (c *Clause) format(b *strings.Builder) {
	if c.Attr == 0 {
		b.WriteString("tags.")
		if isBareKey(c.Tag) {
			b.WriteString(c.Tag)
		} else {
			writeQuoted(b, c.Tag, '`')
		}
	} else {
		b.WriteString(c.Attr.String())
	}
	b.WriteByte(' ')
	b.WriteString(c.Op.String())
	b.WriteByte(' ')
	switch {
	case c.Op == OpIn:
		b.WriteByte('(')
		for i, v := range c.Values {
			if i > 0 {
				b.WriteString(", ")
			}
			writeQuoted(b, v, '\'')
		}
		b.WriteByte(')')
	case c.Attr.Numeric():
		b.WriteString(strconv.FormatFloat(c.Number, 'f', -1, 64))
	default:
		writeQuoted(b, c.Value, '\'')
	}
}

// writeQuoted writes s between q quotes, doubling any q inside.
func writeQuoted(b *strings.Builder, s string, q byte) {
	b.WriteByte(q)
	for i := 0; i < len(s); i++ {
		if s[i] == q {
			b.WriteByte(q)
		}
		b.WriteByte(s[i])
	}
	b.WriteByte(q)
}

// isBareKey reports whether a tag key can be written without quotes: identifier words
// separated by single dots, like mlflow.prompt.is_prompt.
func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	word := false
	for _, r := range s {
		switch {
		case isWordRune(r):
			word = true
		case r == '.' && word:
			word = false
		default:
			return false
		}
	}
	return word
}

// Error is the error Parse and ParseOrderBy return for every invalid input. Its message
// says what is wrong and what is allowed, in the style of MLflow's INVALID_PARAMETER_VALUE
// messages; the registry returns it to the client as is.
type Error struct {
	// Msg is the message.
	Msg string
	// Offset is the byte offset in the filter where the problem was found, or -1 when the
	// error is not about one place (and for order_by clauses).
	Offset int
}

func (e *Error) Error() string { return e.Msg }

func errAt(off int, format string, args ...any) *Error {
	return &Error{Msg: fmt.Sprintf(format, args...), Offset: off}
}
