// Package filter parses and evaluates the search filters and order_by clauses of MLflow's
// registered-models/search and model-versions/search, so that the registry can answer them
// from its in-memory index.
//
// Parse a filter once per request, then call Match for each candidate; sort the matches
// with the keys from ParseOrderBy:
//
//	expr, err := filter.Parse(filter.Versions, req.Filter)
//	if err != nil {
//		return err // an *filter.Error: INVALID_PARAMETER_VALUE, message as is
//	}
//	keys, err := filter.ParseOrderBy(filter.Versions, req.OrderBy)
//	...
//	for _, v := range versions {
//		if expr.Match(v) {
//			out = append(out, v)
//		}
//	}
//	slices.SortFunc(out, func(a, b *Version) int { return filter.Compare(keys, a, b) })
//
// # Grammar
//
// The language is the one MLflow implements in mlflow/utils/search_utils.py (SearchModelUtils
// and SearchModelVersionUtils), a small subset of a SQL WHERE clause:
//
//	filter     = [ clause { AND clause } ]
//	clause     = identifier comparator value
//	identifier = attribute | "attribute." attribute | ( "tags." | "tag." ) key
//	key        = word { "." word } | quoted
//	comparator = "=" | "!=" | "<" | "<=" | ">" | ">=" | LIKE | ILIKE | IN
//	value      = string | number | "(" string { "," string } ")"
//	string     = "'" { char | "''" } "'" | `"` { char | `""` } `"`
//	quoted     = string | "`" { char | "``" } "`"
//
// Keywords (AND, LIKE, ILIKE, IN) are matched without regard to case; attribute names,
// entity prefixes and tag keys are case-sensitive. Blanks between tokens are free. A word is
// a run of letters, digits and underscores; a tag key with any other character (a space, a
// dash, a slash) must be quoted, preferably in backquotes: tags.`my key`. A quote character
// is written inside a quoted string by doubling it:
//
//	name = 'it''s'
//
// What each kind accepts:
//
//	                   Models                     Versions
//	name               = != LIKE ILIKE            = != LIKE ILIKE
//	run_id             -                          = != LIKE ILIKE IN
//	source_path        -                          = != LIKE ILIKE
//	version_number     -                          = != < <= > >=   (a number, or a quoted number)
//	tags.<key>         = != LIKE ILIKE            = != LIKE ILIKE
//
// Examples:
//
//	name = 'fraud-detector'
//	name LIKE 'fraud-%' AND tags.team = 'risk'
//	name ILIKE '%DETECTOR%'
//	tags.`deployment target` != 'edge'
//	tag.`mlflow.prompt.is_prompt` != 'true'
//	run_id IN ('3f2b0d1c9e8a4b7c', '9a8b7c6d5e4f3a2b') AND version_number >= 3
//	source_path LIKE 's3://models/fraud/%'
//
// # Semantics
//
//   - Clauses are joined by AND only. OR, NOT, parentheses and NOT IN are errors, as in MLflow.
//   - = and != compare strings exactly (byte for byte). A value that is unset (Object returns
//     false: a tag the object does not have, a version without a run) matches no comparison,
//     not even !=. The one exception is the tag mlflow.prompt.is_prompt (PromptTagKey): an
//     object without it matches "= 'false'" and "!= 'true'", which MLflow clients add to
//     every registry search. MLflow's SQL store also leaves prompts out when a filter does
//     not ask for them; Expr.QueriesPrompts tells the registry whether it does.
//   - LIKE matches the whole value: % is any run of characters, _ exactly one character (a
//     Unicode code point), a backslash makes the next character literal (\% \_ \\), as the
//     default escape of PostgreSQL and MySQL does. LIKE is case-sensitive; ILIKE ignores case
//     by Unicode simple case folding. Matching takes time linear in the value for the usual
//     patterns and never worse than len(value)*len(pattern): there is no backtracking.
//   - version_number compares numerically; a float operand is allowed (version_number < 2.5).
//   - An empty or blank filter matches everything.
//
// # Where this differs from MLflow
//
// MLflow parses filters with sqlparse and passes the text between quotes through as is. Here:
// a doubled quote inside a string stands for one quote (MLflow would compare the name in the
// example above with the six characters between the outer quotes); double-quoted strings are accepted inside IN lists too; a quoted number is
// accepted for version_number, as MLflow's file store does; IN compares run ids exactly
// (MLflow drops ids with upper-case letters from the list, to work around MySQL's
// case-insensitive IN; run ids are lower-case hex, so results agree); LIKE's _ and % match
// newlines and other characters are never special (MLflow's file store turns a pattern into
// a Python regular expression without escaping it, so '.' in a pattern matches any
// character there). The filter must be valid UTF-8.
//
// # Errors
//
// Every invalid filter or order_by clause gives an *Error whose message says what is wrong
// and what is allowed. Messages follow MLflow's INVALID_PARAMETER_VALUE texts where MLflow
// has one ("Invalid attribute key 'foo' specified. Valid keys are '{name, run_id,
// source_path, version_number}'"); syntax errors end with the character position where the
// problem is. For "name = 'a' OR name = 'b'":
//
//	Invalid filter: OR is not supported, clauses can only be joined with AND (at position 11)
//
// # Order
//
// See ParseOrderBy for the order_by syntax and keys, and Compare to sort with them.
package filter
