package filter

import (
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// inSetMin is the IN list length from which Match looks values up in a map.
const inSetMin = 8

// Parse parses an MLflow search filter for kind. An empty or all-blank filter matches
// everything. Every invalid filter gives an *Error. The grammar is in the package
// documentation.
func Parse(kind Kind, s string) (*Expr, error) {
	if !kind.valid() {
		return nil, &Error{Msg: "Invalid search kind " + kind.String(), Offset: -1}
	}
	if !utf8.ValidString(s) {
		off := 0
		for off < len(s) {
			r, w := utf8.DecodeRuneInString(s[off:])
			if r == utf8.RuneError && w == 1 {
				break
			}
			off += w
		}
		return nil, errAt(off, "Invalid filter: the filter is not valid UTF-8 (at position %d)", runePos(s, off))
	}
	p := &parser{src: s, kind: kind}
	e := &Expr{kind: kind}
	p.skipSpace()
	if p.eof() {
		return e, nil
	}
	for {
		c, err := p.clause()
		if err != nil {
			return nil, err
		}
		e.clauses = append(e.clauses, c)
		p.skipSpace()
		if p.eof() {
			return e, nil
		}
		start := p.pos
		w := p.word()
		switch {
		case asciiUpper(w) == "AND":
			p.skipSpace()
			if p.eof() {
				return nil, p.errorf(start, "Invalid filter: expected a clause after AND")
			}
		case asciiUpper(w) == "OR":
			return nil, p.errorf(start, "Invalid filter: OR is not supported, clauses can only be joined with AND")
		default:
			return nil, p.errorf(start, "Invalid filter: unexpected %s after a complete clause; clauses must be joined with AND", p.snippet(start))
		}
	}
}

type parser struct {
	src  string
	pos  int
	kind Kind
}

// ident is the left-hand side of a clause.
type ident struct {
	attr Attr   // zero for a tag
	tag  string // tag key
	text string // as written, for messages
}

// key returns the attribute name or the tag key.
func (id ident) key() string {
	if id.attr == 0 {
		return id.tag
	}
	return id.attr.String()
}

func (id ident) describe() string {
	if id.attr == 0 {
		return "tag '" + id.tag + "'"
	}
	return "attribute '" + id.attr.String() + "'"
}

// value is the right-hand side of a clause.
type value struct {
	kind  byte // 's' string, 'n' number, 'l' list
	str   string
	num   float64
	list  []string
	start int
	text  string // as written, for messages
}

func (p *parser) eof() bool { return p.pos >= len(p.src) }

func (p *parser) peek() rune {
	if p.eof() {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(p.src[p.pos:])
	return r
}

func (p *parser) skipSpace() {
	for !p.eof() {
		r, w := utf8.DecodeRuneInString(p.src[p.pos:])
		if !unicode.IsSpace(r) {
			return
		}
		p.pos += w
	}
}

func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// asciiUpper upper-cases ASCII letters only, so that keywords are matched without the
// Unicode folding of strings.EqualFold (which would take the Kelvin sign for a K).
func asciiUpper(s string) string {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'a' <= b[j] && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func isQuote(r rune) bool { return r == '\'' || r == '"' || r == '`' }

// word reads a run of letters, digits and underscores.
func (p *parser) word() string {
	start := p.pos
	for !p.eof() {
		r, w := utf8.DecodeRuneInString(p.src[p.pos:])
		if !isWordRune(r) {
			break
		}
		p.pos += w
	}
	return p.src[start:p.pos]
}

func (p *parser) errorf(off int, format string, args ...any) *Error {
	e := errAt(off, format, args...)
	e.Msg += " (at position " + strconv.Itoa(runePos(p.src, off)) + ")"
	return e
}

// runePos converts a byte offset into a character position.
func runePos(s string, off int) int { return utf8.RuneCountInString(s[:off]) }

// snippet quotes the input from off: the token there, or a short excerpt.
func (p *parser) snippet(off int) string {
	rest := p.src[off:]
	if rest == "" {
		return "end of filter"
	}
	end := 0
	for i, r := range rest {
		if i > 0 && (unicode.IsSpace(r) || !isWordRune(r)) {
			break
		}
		end = i + utf8.RuneLen(r)
		if !isWordRune(r) {
			break
		}
	}
	return quoteText(rest[:end])
}

// quoteText quotes s for a message, shortened to 60 characters.
func quoteText(s string) string { return "'" + shorten(s) + "'" }

// shorten cuts s to 60 characters for a message.
func shorten(s string) string {
	if utf8.RuneCountInString(s) > 60 {
		n := 0
		for i := range s {
			if n == 57 {
				return s[:i] + "..."
			}
			n++
		}
	}
	return s
}

func (p *parser) clause() (Clause, error) {
	id, err := p.ident()
	if err != nil {
		return Clause{}, err
	}
	p.skipSpace()
	op, err := p.comparator(id)
	if err != nil {
		return Clause{}, err
	}
	p.skipSpace()
	v, err := p.value(op)
	if err != nil {
		return Clause{}, err
	}
	return p.check(id, op, v)
}

func (p *parser) ident() (ident, error) {
	start := p.pos
	r := p.peek()
	switch {
	case r == '(':
		return ident{}, p.errorf(start, "Invalid filter: parentheses are not supported; write clauses joined with AND")
	case isQuote(r):
		return ident{}, p.errorf(start, "Invalid identifier %s: expected %s; only a tag key can be quoted, as in tags.`my key`", p.quotedSnippet(), p.validIdents())
	case !isWordRune(r):
		return ident{}, p.errorf(start, "Invalid filter: expected an identifier (%s), got %s", p.validIdents(), p.snippet(start))
	}
	w := p.word()
	switch u := asciiUpper(w); u {
	case "AND", "OR":
		return ident{}, p.errorf(start, "Invalid filter: expected a clause, got %s", u)
	case "NOT":
		return ident{}, p.errorf(start, "Invalid filter: NOT is not supported; negate a comparison with != instead")
	}
	if p.peek() != '.' {
		a, err := p.attr(w, start)
		return ident{attr: a, text: w}, err
	}
	p.pos++ // '.'
	entity := w
	switch entity {
	case "tag", "tags", "attribute":
	default:
		return ident{}, p.errorf(start, "Invalid entity type '%s'. Valid entity types are ('attribute', 'tag', 'tags')", entity)
	}
	key, err := p.key(entity)
	if err != nil {
		return ident{}, err
	}
	text := p.src[start:p.pos]
	if entity == "attribute" {
		a, err := p.attr(key, start)
		return ident{attr: a, text: text}, err
	}
	return ident{tag: key, text: text}, nil
}

// key reads the key after "tags.": a dotted identifier or a quoted string.
func (p *parser) key(entity string) (string, error) {
	start := p.pos
	r := p.peek()
	switch {
	case isQuote(r):
		k, err := p.quoted()
		if err != nil {
			return "", err
		}
		if k == "" {
			return "", p.errorf(start, "Invalid filter: the key after '%s.' is empty", entity)
		}
		return k, nil
	case isWordRune(r):
		for {
			p.word()
			if p.peek() != '.' || p.pos+1 >= len(p.src) {
				break
			}
			if r, _ := utf8.DecodeRuneInString(p.src[p.pos+1:]); !isWordRune(r) {
				break
			}
			p.pos++
		}
		return p.src[start:p.pos], nil
	}
	return "", p.errorf(start, "Invalid filter: missing key after '%s.'; write %s.<key>, or %s.`<key>` for a key with spaces or symbols", entity, entity, entity)
}

func (p *parser) validIdents() string {
	if p.kind == Models {
		return "name or tags.<key>"
	}
	return "name, run_id, source_path, version_number or tags.<key>"
}

func (p *parser) validKeys() string {
	if p.kind == Models {
		return "'{name}'"
	}
	return "'{name, run_id, source_path, version_number}'"
}

func (p *parser) attr(key string, start int) (Attr, error) {
	a := Attr(0)
	switch key {
	case "name":
		a = AttrName
	case "run_id":
		a = AttrRunID
	case "source_path":
		a = AttrSourcePath
	case "version_number":
		a = AttrVersionNumber
	}
	if a == 0 || (p.kind == Models && a != AttrName) {
		return 0, &Error{Msg: "Invalid attribute key '" + key + "' specified. Valid keys are " + p.validKeys(), Offset: start}
	}
	return a, nil
}

// validOps lists the comparators id accepts, as in MLflow's messages.
func (p *parser) validOps(id ident) string {
	switch {
	case id.attr == 0:
		return "'{=, !=, LIKE, ILIKE}'"
	case id.attr.Numeric():
		return "'{=, !=, <, <=, >, >=}'"
	case id.attr == AttrRunID:
		return "'{=, !=, LIKE, ILIKE, IN}'"
	}
	return "'{=, !=, LIKE, ILIKE}'"
}

func (p *parser) badOp(id ident, op string, start int) *Error {
	if op == "IN" {
		return &Error{Msg: "Only the 'run_id' attribute supports comparison with a list of quoted string values.", Offset: start}
	}
	return &Error{Msg: "Invalid comparator '" + op + "' for " + id.describe() + ". Valid comparators are " + p.validOps(id), Offset: start}
}

func (p *parser) comparator(id ident) (Op, error) {
	start := p.pos
	if p.eof() {
		return 0, p.errorf(start, "Invalid filter: missing comparator after '%s'; valid comparators are %s", id.text, p.validOps(id))
	}
	var op Op
	text := ""
	end := -1 // where the comparator ends, for word comparators
	rest := p.src[p.pos:]
	switch {
	case strings.HasPrefix(rest, "=="), strings.HasPrefix(rest, "<>"):
		text = rest[:2]
	case strings.HasPrefix(rest, "!="):
		op, text = OpNe, "!="
	case strings.HasPrefix(rest, "<="):
		op, text = OpLe, "<="
	case strings.HasPrefix(rest, ">="):
		op, text = OpGe, ">="
	case rest[0] == '=':
		op, text = OpEq, "="
	case rest[0] == '<':
		op, text = OpLt, "<"
	case rest[0] == '>':
		op, text = OpGt, ">"
	case isWordRune(p.peek()):
		text = asciiUpper(p.word())
		end = p.pos
		switch text {
		case "LIKE":
			op = OpLike
		case "ILIKE":
			op = OpILike
		case "IN":
			op = OpIn
		case "NOT", "IS":
			// NOT IN, NOT LIKE, IS NULL...: name the whole comparator in the error.
			p.skipSpace()
			if w := p.word(); w != "" {
				text += " " + asciiUpper(w)
			}
		}
		p.pos = start // errors point at the comparator
	default:
		return 0, p.errorf(start, "Invalid filter: expected a comparator after '%s', got %s; valid comparators are %s", id.text, p.snippet(start), p.validOps(id))
	}
	switch text {
	case "==":
		return 0, &Error{Msg: "Invalid comparator '==' for " + id.describe() + ". Valid comparators are " + p.validOps(id) + "; use '='", Offset: start}
	case "<>":
		return 0, &Error{Msg: "Invalid comparator '<>' for " + id.describe() + ". Valid comparators are " + p.validOps(id) + "; use '!='", Offset: start}
	}
	if op == 0 {
		return 0, p.badOp(id, text, start)
	}
	ok := false
	switch {
	case id.attr == 0:
		ok = op == OpEq || op == OpNe || op == OpLike || op == OpILike
	case id.attr.Numeric():
		ok = op != OpLike && op != OpILike && op != OpIn
	default:
		ok = op == OpEq || op == OpNe || op == OpLike || op == OpILike || (op == OpIn && id.attr == AttrRunID)
	}
	if !ok {
		if op == OpIn && id.attr == 0 {
			return 0, &Error{Msg: "Invalid comparator 'IN' for " + id.describe() + ". Valid comparators are " + p.validOps(id), Offset: start}
		}
		return 0, p.badOp(id, op.String(), start)
	}
	if end < 0 {
		end = start + len(text)
	}
	p.pos = end
	return op, nil
}

func (p *parser) value(op Op) (value, error) {
	start := p.pos
	if p.eof() {
		return value{}, p.errorf(start, "Invalid filter: missing value after '%s'", op)
	}
	r := p.peek()
	v := value{start: start}
	switch {
	case r == '\'' || r == '"':
		s, err := p.quoted()
		if err != nil {
			return value{}, err
		}
		v.kind, v.str = 's', s
	case r == '(':
		list, err := p.list()
		if err != nil {
			return value{}, err
		}
		v.kind, v.list = 'l', list
	case r >= '0' && r <= '9' || r == '.':
		n, err := p.number()
		if err != nil {
			return value{}, err
		}
		v.kind, v.num = 'n', n
	case r == '`' || isWordRune(r):
		if r == '`' {
			if _, err := p.quoted(); err != nil {
				return value{}, err
			}
		} else {
			p.word()
		}
		return value{}, &Error{Msg: "Parameter value is either not quoted or unidentified quote types used for string value " +
			shorten(p.src[start:p.pos]) + ". Use either single or double quotes.", Offset: start}
	default:
		return value{}, p.errorf(start, "Invalid filter: expected a value after '%s' (a quoted string, a number or a list), got %s", op, p.snippet(start))
	}
	v.text = shorten(p.src[start:p.pos])
	return v, nil
}

// quoted reads a string between ', " or ` quotes. A quote character is written inside by
// doubling it ('it”s'). Nothing else is an escape: backslashes are kept, for LIKE.
func (p *parser) quoted() (string, error) {
	start := p.pos
	q := p.src[p.pos]
	var b []byte
	from := p.pos + 1
	for i := from; i < len(p.src); i++ {
		if p.src[i] != q {
			continue
		}
		if i+1 < len(p.src) && p.src[i+1] == q {
			b = append(b, p.src[from:i+1]...)
			i++
			from = i + 1
			continue
		}
		p.pos = i + 1
		if b == nil {
			return p.src[from:i], nil
		}
		return string(append(b, p.src[from:i]...)), nil
	}
	return "", errAt(start, "Invalid filter: unbalanced quotes, the %s at position %d is never closed; to put a %c inside it, double it",
		quoteKind(q), runePos(p.src, start), q)
}

func quoteKind(q byte) string {
	switch q {
	case '`':
		return "backquoted key"
	case '"':
		return "double-quoted string"
	}
	return "single-quoted string"
}

// quotedSnippet reads a quoted token for a message, or an excerpt when it is unbalanced.
func (p *parser) quotedSnippet() string {
	start := p.pos
	if _, err := p.quoted(); err != nil {
		return p.snippet(start)
	}
	return shorten(p.src[start:p.pos])
}

// number reads an unsigned decimal number: 12, 1.5, .5, 2e3.
func (p *parser) number() (float64, error) {
	start := p.pos
	digits := func() int {
		n := 0
		for !p.eof() && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	n := digits()
	if !p.eof() && p.src[p.pos] == '.' {
		p.pos++
		n += digits()
	}
	if n > 0 && !p.eof() && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
		save := p.pos
		p.pos++
		if !p.eof() && (p.src[p.pos] == '+' || p.src[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			p.pos = save
		}
	}
	if n == 0 || (!p.eof() && (isWordRune(p.peek()) || p.src[p.pos] == '.')) {
		for !p.eof() && (isWordRune(p.peek()) || p.src[p.pos] == '.') {
			p.pos += runeLen(p.src, p.pos)
		}
		return 0, p.errorf(start, "Invalid filter: invalid number %s", quoteText(p.src[start:p.pos]))
	}
	f, err := strconv.ParseFloat(p.src[start:p.pos], 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, p.errorf(start, "Invalid filter: number %s is out of range", quoteText(p.src[start:p.pos]))
	}
	return f, nil
}

// list reads a parenthesized list of quoted strings.
func (p *parser) list() ([]string, error) {
	start := p.pos
	p.pos++ // '('
	p.skipSpace()
	if p.peek() == ')' {
		return nil, &Error{Msg: "While parsing a list in the query, expected a non-empty list of string values, but got empty list", Offset: start}
	}
	var list []string
	for {
		p.skipSpace()
		if r := p.peek(); r != '\'' && r != '"' {
			return nil, p.errorf(p.pos, "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list: expected a quoted string, got %s", p.snippet(p.pos))
		}
		s, err := p.quoted()
		if err != nil {
			return nil, err
		}
		list = append(list, s)
		p.skipSpace()
		switch p.peek() {
		case ',':
			p.pos++
		case ')':
			p.pos++
			return list, nil
		default:
			return nil, p.errorf(p.pos, "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list: expected ',' or ')', got %s", p.snippet(p.pos))
		}
	}
}

// check applies the typing rules of MLflow to a clause and compiles it.
func (p *parser) check(id ident, op Op, v value) (Clause, error) {
	c := Clause{Attr: id.attr, Tag: id.tag, Op: op, prompt: id.attr == 0 && id.tag == PromptTagKey}
	switch {
	case v.kind == 'l' && op != OpIn:
		if id.attr == AttrRunID {
			return Clause{}, errAt(v.start, "Expected a quoted string value for attribute 'run_id' (e.g. 'my-value'). A list is only allowed after IN, as in run_id IN ('a', 'b')")
		}
		return Clause{}, errAt(v.start, "Only the 'run_id' attribute supports comparison with a list of quoted string values.")
	case op == OpIn:
		if v.kind != 'l' {
			return Clause{}, errAt(v.start, "Expected a parenthesized list of quoted strings after IN, as in run_id IN ('a', 'b'). Got value %s", v.text)
		}
		c.Values = v.list
		if len(v.list) >= inSetMin {
			c.set = make(map[string]struct{}, len(v.list))
			for _, s := range v.list {
				c.set[s] = struct{}{}
			}
		}
		return c, nil
	case id.attr.Numeric():
		switch v.kind {
		case 'n':
			c.Number = v.num
		case 's':
			// MLflow's file store accepts a quoted number here (it calls int() on it).
			f, err := strconv.ParseFloat(strings.TrimSpace(v.str), 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return Clause{}, errAt(v.start, "Expected a numeric value for attribute '%s' (e.g. 3). Got value %s", id.attr, v.text)
			}
			c.Number = f
		}
		return c, nil
	case v.kind == 'n':
		what := "tag"
		if id.attr != 0 {
			what = "attribute"
		}
		e := errAt(v.start, "Expected a quoted string value for %s '%s' (e.g. 'my-value'). Got value %s", what, id.key(), v.text)
		if p.kind == Versions {
			e.Msg += ". Only the 'version_number' attribute supports comparison with numeric values."
		}
		return Clause{}, e
	}
	c.Value = v.str
	if op == OpLike || op == OpILike {
		like, ok := compileLike(v.str, op == OpILike)
		if !ok {
			return Clause{}, errAt(v.start, "Invalid %s pattern %s: it ends with the escape character '\\'; write '\\\\' for a literal backslash", op, v.text)
		}
		c.like = like
	}
	return c, nil
}
