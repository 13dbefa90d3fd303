package filter

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		kind Kind
		in   string
		want string // canonical String(); "" for no clauses
	}{
		{Models, "", ""},
		{Versions, "  \t\n ", ""},
		{Models, "name = 'sklearn-model'", "name = 'sklearn-model'"},
		{Models, "name='sklearn-model'", "name = 'sklearn-model'"},
		{Models, `name = "sklearn-model"`, "name = 'sklearn-model'"},
		{Models, "name LIKE 'sklearn%'", "name LIKE 'sklearn%'"},
		{Models, "name like 'sklearn%'", "name LIKE 'sklearn%'"},
		{Models, "name ILIKE '%SKLEARN%'", "name ILIKE '%SKLEARN%'"},
		{Models, "name iLiKe '%x%'", "name ILIKE '%x%'"},
		{Models, "name != 'a'", "name != 'a'"},
		{Models, "attribute.name = 'a'", "name = 'a'"},
		{Models, "tags.team = 'risk'", "tags.team = 'risk'"},
		{Models, "tag.team = 'risk'", "tags.team = 'risk'"},
		{Models, "tags.`my key` = 'v v'", "tags.`my key` = 'v v'"},
		{Models, `tags."my key" = 'v'`, "tags.`my key` = 'v'"},
		{Models, "tags.'my key' = 'v'", "tags.`my key` = 'v'"},
		{Models, "tags.`a``b` = 'v'", "tags.`a``b` = 'v'"},
		{Models, "tags.mlflow.prompt.is_prompt != 'true'", "tags.mlflow.prompt.is_prompt != 'true'"},
		{Models, "tag.`mlflow.prompt.is_prompt` != 'true'", "tags.mlflow.prompt.is_prompt != 'true'"},
		{Models, "tags.`my-key` = 'x'", "tags.`my-key` = 'x'"},
		{Models, "tags.ключ = 'значение'", "tags.ключ = 'значение'"},
		{Models, "name = 'it''s'", "name = 'it''s'"},
		{Models, `name = "say ""hi"""`, `name = 'say "hi"'`},
		{Models, `name = 'back\slash'`, `name = 'back\slash'`},
		{Models, "name = ''", "name = ''"},
		{Models, "name = 'AND' AND tags.x = 'OR'", "name = 'AND' AND tags.x = 'OR'"},
		{Models, "name = 'a' and tags.t = 'b' AnD tags.u LIKE 'c%'", "name = 'a' AND tags.t = 'b' AND tags.u LIKE 'c%'"},
		{Models, "name='a'AND name!='b'", "name = 'a' AND name != 'b'"},
		{Versions, "run_id = 'e3f0c0'", "run_id = 'e3f0c0'"},
		{Versions, "run_id IN ('a', 'b')", "run_id IN ('a', 'b')"},
		{Versions, "run_id in('a','b' ,  \"c\")", "run_id IN ('a', 'b', 'c')"},
		{Versions, "run_id IN ('a')", "run_id IN ('a')"},
		{Versions, "source_path = 's3://bucket/m/1'", "source_path = 's3://bucket/m/1'"},
		{Versions, "source_path LIKE 'runs:/%'", "source_path LIKE 'runs:/%'"},
		{Versions, "version_number = 3", "version_number = 3"},
		{Versions, "version_number >= 3 AND version_number<10", "version_number >= 3 AND version_number < 10"},
		{Versions, "version_number > 2.5", "version_number > 2.5"},
		{Versions, "version_number <= .5", "version_number <= 0.5"},
		{Versions, "version_number != 1e3", "version_number != 1000"},
		{Versions, "version_number = '7'", "version_number = 7"},
		{Versions, "name = 'm' AND version_number > 3 AND tags.`x y` ILIKE '%Z%'", "name = 'm' AND version_number > 3 AND tags.`x y` ILIKE '%Z%'"},
		{Versions, "tags.`mlflow.prompt.is_prompt` = 'true'", "tags.mlflow.prompt.is_prompt = 'true'"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e, err := Parse(tt.kind, tt.in)
			if err != nil {
				t.Fatalf("Parse(%v, %q): %v", tt.kind, tt.in, err)
			}
			if got := e.String(); got != tt.want {
				t.Fatalf("Parse(%v, %q).String() = %q, want %q", tt.kind, tt.in, got, tt.want)
			}
			e2, err := Parse(tt.kind, e.String())
			if err != nil || !sameExpr(e, e2) {
				t.Fatalf("reparse of %q: %v, equal=%v", e.String(), err, err == nil && sameExpr(e, e2))
			}
		})
	}
}

func TestParseClauses(t *testing.T) {
	e, err := Parse(Versions, "tags.`k k` = 'v' AND run_id IN ('a','b') AND version_number > 2 AND name LIKE 'x%'")
	if err != nil {
		t.Fatal(err)
	}
	got := e.Clauses()
	want := []Clause{
		{Tag: "k k", Op: OpEq, Value: "v"},
		{Attr: AttrRunID, Op: OpIn, Values: []string{"a", "b"}},
		{Attr: AttrVersionNumber, Op: OpGt, Number: 2},
		{Attr: AttrName, Op: OpLike, Value: "x%"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d clauses, want %d", len(got), len(want))
	}
	for i := range want {
		if !sameClause(&got[i], &want[i]) {
			t.Errorf("clause %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if !got[0].IsTag() || got[1].IsTag() {
		t.Errorf("IsTag wrong")
	}
	if e.Kind() != Versions {
		t.Errorf("Kind() = %v", e.Kind())
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		kind Kind
		in   string
		want string // the exact message, or a prefix when it ends with "..."
	}{
		// Messages MLflow has, word for word (with a sorted key set).
		{Versions, "foo = 'x'", "Invalid attribute key 'foo' specified. Valid keys are '{name, run_id, source_path, version_number}'"},
		{Models, "run_id = 'x'", "Invalid attribute key 'run_id' specified. Valid keys are '{name}'"},
		{Models, "version_number = 1", "Invalid attribute key 'version_number' specified. Valid keys are '{name}'"},
		{Versions, "creation_timestamp > 1", "Invalid attribute key 'creation_timestamp' specified. Valid keys are '{name, run_id, source_path, version_number}'"},
		{Versions, "Name = 'x'", "Invalid attribute key 'Name' specified. Valid keys are '{name, run_id, source_path, version_number}'"},
		{Models, "metrics.acc > 1", "Invalid entity type 'metrics'. Valid entity types are ('attribute', 'tag', 'tags') (at position 0)"},
		{Models, "TAGS.x = 'y'", "Invalid entity type 'TAGS'. Valid entity types are ('attribute', 'tag', 'tags') (at position 0)"},
		{Models, "name = foo", "Parameter value is either not quoted or unidentified quote types used for string value foo. Use either single or double quotes."},
		{Models, "name = `foo`", "Parameter value is either not quoted or unidentified quote types used for string value `foo`. Use either single or double quotes."},
		{Models, "name IN ('a', 'b')", "Only the 'run_id' attribute supports comparison with a list of quoted string values."},
		{Versions, "source_path IN ('a')", "Only the 'run_id' attribute supports comparison with a list of quoted string values."},
		{Versions, "version_number IN ('1')", "Only the 'run_id' attribute supports comparison with a list of quoted string values."},
		{Versions, "run_id IN ()", "While parsing a list in the query, expected a non-empty list of string values, but got empty list"},
		{Versions, "run_id IN ( )", "While parsing a list in the query, expected a non-empty list of string values, but got empty list"},

		// Comparators.
		{Versions, "run_id NOT IN ('a')", "Invalid comparator 'NOT IN' for attribute 'run_id'. Valid comparators are '{=, !=, LIKE, ILIKE, IN}'"},
		{Models, "name NOT LIKE 'a%'", "Invalid comparator 'NOT LIKE' for attribute 'name'. Valid comparators are '{=, !=, LIKE, ILIKE}'"},
		{Models, "name IS NULL", "Invalid comparator 'IS NULL' for attribute 'name'. Valid comparators are '{=, !=, LIKE, ILIKE}'"},
		{Models, "name > 'a'", "Invalid comparator '>' for attribute 'name'. Valid comparators are '{=, !=, LIKE, ILIKE}'"},
		{Models, "tags.k >= 'a'", "Invalid comparator '>=' for tag 'k'. Valid comparators are '{=, !=, LIKE, ILIKE}'"},
		{Versions, "tags.k IN ('a')", "Invalid comparator 'IN' for tag 'k'. Valid comparators are '{=, !=, LIKE, ILIKE}'"},
		{Versions, "version_number LIKE '1%'", "Invalid comparator 'LIKE' for attribute 'version_number'. Valid comparators are '{=, !=, <, <=, >, >=}'"},
		{Models, "name <> 'a'", "Invalid comparator '<>' for attribute 'name'. Valid comparators are '{=, !=, LIKE, ILIKE}'; use '!='"},
		{Models, "name == 'a'", "Invalid comparator '==' for attribute 'name'. Valid comparators are '{=, !=, LIKE, ILIKE}'; use '='"},
		{Models, "name REGEXP 'a'", "Invalid comparator 'REGEXP' for attribute 'name'. Valid comparators are '{=, !=, LIKE, ILIKE}'"},
		{Models, "name", "Invalid filter: missing comparator after 'name'; valid comparators are '{=, !=, LIKE, ILIKE}' (at position 4)"},
		{Models, "name ~ 'a'", "Invalid filter: expected a comparator after 'name', got '~'; valid comparators are '{=, !=, LIKE, ILIKE}' (at position 5)"},

		// Values.
		{Models, "name =", "Invalid filter: missing value after '=' (at position 6)"},
		{Models, "name LIKE   ", "Invalid filter: missing value after 'LIKE' (at position 12)"},
		{Models, "name = 'abc", "Invalid filter: unbalanced quotes, the single-quoted string at position 7 is never closed; to put a ' inside it, double it"},
		{Models, `name = "abc`, `Invalid filter: unbalanced quotes, the double-quoted string at position 7 is never closed; to put a " inside it, double it`},
		{Models, "tags.`abc = 'x'", "Invalid filter: unbalanced quotes, the backquoted key at position 5 is never closed; to put a ` inside it, double it"},
		{Models, "name = 'it's'", "Invalid filter: unexpected 's' after a complete clause; clauses must be joined with AND (at position 11)"},
		{Models, "name = 3", "Expected a quoted string value for attribute 'name' (e.g. 'my-value'). Got value 3"},
		{Versions, "name = 3", "Expected a quoted string value for attribute 'name' (e.g. 'my-value'). Got value 3. Only the 'version_number' attribute supports comparison with numeric values."},
		{Models, "tags.k = 3", "Expected a quoted string value for tag 'k' (e.g. 'my-value'). Got value 3"},
		{Versions, "version_number = 'three'", "Expected a numeric value for attribute 'version_number' (e.g. 3). Got value 'three'"},
		{Versions, "version_number = -1", "Invalid filter: expected a value after '=' (a quoted string, a number or a list), got '-' (at position 17)"},
		{Versions, "version_number = 3x", "Invalid filter: invalid number '3x' (at position 17)"},
		{Versions, "version_number = 1.2.3", "Invalid filter: invalid number '1.2.3' (at position 17)"},
		{Versions, "version_number = 1e999", "Invalid filter: number '1e999' is out of range (at position 17)"},
		{Versions, "run_id = ('a')", "Expected a quoted string value for attribute 'run_id' (e.g. 'my-value'). A list is only allowed after IN, as in run_id IN ('a', 'b')"},
		{Versions, "run_id IN 'a'", "Expected a parenthesized list of quoted strings after IN, as in run_id IN ('a', 'b'). Got value 'a'"},
		{Versions, "run_id IN ('a',)", "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list: expected a quoted string, got ')' (at position 15)"},
		{Versions, "run_id IN ('a' 'b')", "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list: expected ',' or ')', got ''' (at position 15)"},
		{Versions, "run_id IN ('a', 1)", "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list: expected a quoted string, got '1' (at position 16)"},
		{Versions, "run_id IN ('a'", "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list: expected ',' or ')', got end of filter (at position 14)"},
		{Models, `name LIKE 'a\'`, `Invalid LIKE pattern 'a\': it ends with the escape character '\'; write '\\' for a literal backslash`},

		// Structure.
		{Models, "name = 'a' OR name = 'b'", "Invalid filter: OR is not supported, clauses can only be joined with AND (at position 11)"},
		{Models, "name = 'a' or name = 'b'", "Invalid filter: OR is not supported, clauses can only be joined with AND (at position 11)"},
		{Models, "name = 'a' AND", "Invalid filter: expected a clause after AND (at position 11)"},
		{Models, "name = 'a' AND   ", "Invalid filter: expected a clause after AND (at position 11)"},
		{Models, "AND name = 'a'", "Invalid filter: expected a clause, got AND (at position 0)"},
		{Models, "name = 'a' AND AND name = 'b'", "Invalid filter: expected a clause, got AND (at position 15)"},
		{Models, "name = 'a' name = 'b'", "Invalid filter: unexpected 'name' after a complete clause; clauses must be joined with AND (at position 11)"},
		{Models, "name = 'a';", "Invalid filter: unexpected ';' after a complete clause; clauses must be joined with AND (at position 10)"},
		{Models, "name = 'a' ANDname = 'b'", "Invalid filter: unexpected 'ANDname' after a complete clause; clauses must be joined with AND (at position 11)"},
		{Models, "(name = 'a')", "Invalid filter: parentheses are not supported; write clauses joined with AND (at position 0)"},
		{Models, "NOT name = 'a'", "Invalid filter: NOT is not supported; negate a comparison with != instead (at position 0)"},
		{Models, "'name' = 'a'", "Invalid identifier 'name': expected name or tags.<key>; only a tag key can be quoted, as in tags.`my key` (at position 0)"},
		{Models, "`tags.k` = 'a'", "Invalid identifier `tags.k`: expected name or tags.<key>; only a tag key can be quoted, as in tags.`my key` (at position 0)"},
		{Models, "= 'a'", "Invalid filter: expected an identifier (name or tags.<key>), got '=' (at position 0)"},
		{Models, "tags. = 'x'", "Invalid filter: missing key after 'tags.'; write tags.<key>, or tags.`<key>` for a key with spaces or symbols (at position 5)"},
		{Models, "tags.`` = 'x'", "Invalid filter: the key after 'tags.' is empty (at position 5)"},
		{Models, "tags.a. = 'x'", "Invalid filter: expected a comparator after 'tags.a', got '.'; valid comparators are '{=, !=, LIKE, ILIKE}' (at position 6)"},
		{Models, "tags.my-key = 'x'", "Invalid filter: expected a comparator after 'tags.my', got '-'; valid comparators are '{=, !=, LIKE, ILIKE}' (at position 7)"},
		{Models, "name = '" + strings.Repeat("x", 100) + "' OR x", "Invalid filter: OR is not supported, clauses can only be joined with AND (at position 110)"},
		{Models, "name = " + strings.Repeat("y", 100), "Parameter value is either not quoted or unidentified quote types used for string value " + strings.Repeat("y", 57) + ".... Use either single or double quotes."},
		{Models, "name = 'caf\xe9'", "Invalid filter: the filter is not valid UTF-8 (at position 11)"},
		{0, "name = 'a'", "Invalid search kind Kind(0)"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e, err := Parse(tt.kind, tt.in)
			if err == nil {
				t.Fatalf("Parse(%v, %q) = %q, want an error", tt.kind, tt.in, e)
			}
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("Parse(%v, %q) error %T, want *Error", tt.kind, tt.in, err)
			}
			if e != nil {
				t.Errorf("Parse returned a non-nil Expr with its error")
			}
			msg := err.Error()
			if prefix, ok := strings.CutSuffix(tt.want, "..."); ok {
				if !strings.HasPrefix(msg, prefix) {
					t.Fatalf("error = %q\nwant prefix %q", msg, prefix)
				}
				return
			}
			if msg != tt.want {
				t.Fatalf("error = %q\nwant    %q", msg, tt.want)
			}
		})
	}
}

func TestErrorOffset(t *testing.T) {
	_, err := Parse(Models, "name = 'a' OR x")
	var fe *Error
	if !errors.As(err, &fe) || fe.Offset != 11 {
		t.Fatalf("Offset = %+v, want 11", fe)
	}
	// The position in the message counts characters, Offset bytes.
	_, err = Parse(Models, "name = 'ééé' OR x")
	if !errors.As(err, &fe) || fe.Offset != 16 || !strings.HasSuffix(fe.Msg, "(at position 13)") {
		t.Fatalf("got %+v", fe)
	}
}

// sameExpr reports whether two filters have the same kind and clauses.
func sameExpr(a, b *Expr) bool {
	if a.Kind() != b.Kind() || len(a.clauses) != len(b.clauses) {
		return false
	}
	for i := range a.clauses {
		if !sameClause(&a.clauses[i], &b.clauses[i]) {
			return false
		}
	}
	return true
}

func sameClause(a, b *Clause) bool {
	return a.Attr == b.Attr && a.Tag == b.Tag && a.Op == b.Op && a.Value == b.Value &&
		reflect.DeepEqual(a.Values, b.Values) && a.Number == b.Number
}
