package filter

import (
	"errors"
	"testing"
	"unicode/utf8"
)

// fuzzObjects are matched against every filter the fuzzer finds valid.
var fuzzObjects = []*obj{
	{},
	{noRun: true},
	{name: "a", runID: "b", source: "%", version: 1, tags: map[string]string{"a": "a", "a.b": "_", PromptTagKey: "true"}},
	{name: "fraud-detector", runID: "3f2b", source: "s3://m/1", version: 12, tags: map[string]string{"my key": "v v", "team": "risk"}},
	{name: "ÉTÉ 'quoted' \"x\"", version: 1 << 40, tags: map[string]string{"`": "''", "": ""}},
}

// FuzzParse checks that Parse and ParseOrderBy never panic, that every failure is an
// *Error, and that the String of a parsed filter parses back to an equal filter that
// matches the same objects.
func FuzzParse(f *testing.F) {
	f.Add("name = 'x'")
	f.Fuzz(func(t *testing.T, s string) {
		for _, kind := range []Kind{Models, Versions} {
			e, err := Parse(kind, s)
			if err != nil {
				var fe *Error
				if !errors.As(err, &fe) || fe.Msg == "" || e != nil {
					t.Fatalf("Parse(%v, %q) = %v, %#v", kind, s, e, err)
				}
				if !utf8.ValidString(fe.Msg) && utf8.ValidString(s) {
					t.Fatalf("Parse(%v, %q): message is not UTF-8: %q", kind, s, fe.Msg)
				}
			} else {
				out := e.String()
				e2, err := Parse(kind, out)
				if err != nil {
					t.Fatalf("Parse(%v, %q) = %q, which does not parse: %v", kind, s, out, err)
				}
				if !sameExpr(e, e2) {
					t.Fatalf("Parse(%v, %q) = %q, which parses to %q", kind, s, out, e2)
				}
				if out2 := e2.String(); out2 != out {
					t.Fatalf("String is not stable: %q, then %q", out, out2)
				}
				for _, o := range fuzzObjects {
					if e.Match(o) != e2.Match(o) {
						t.Fatalf("%q and %q disagree on %+v", s, out, o)
					}
				}
				e.QueriesPrompts()
			}

			keys, err := ParseOrderBy(kind, []string{s})
			if err != nil {
				var fe *Error
				if !errors.As(err, &fe) || fe.Msg == "" || keys != nil {
					t.Fatalf("ParseOrderBy(%v, %q) = %v, %#v", kind, s, keys, err)
				}
				continue
			}
			var clauses []string
			for _, k := range keys {
				clauses = append(clauses, k.String())
			}
			keys2, err := ParseOrderBy(kind, clauses)
			if err != nil || FormatOrderBy(keys2) != FormatOrderBy(keys) {
				t.Fatalf("ParseOrderBy(%v, %q) = %q, which parses to %q, %v", kind, s, FormatOrderBy(keys), FormatOrderBy(keys2), err)
			}
			Compare(keys, fuzzObjects[1], fuzzObjects[2])
		}
	})
}

// FuzzLike compares the LIKE matcher with the dynamic-programming reference.
func FuzzLike(f *testing.F) {
	f.Add("a%b_c", "axxbyc", false)
	f.Add(`%\%%`, "50%", true)
	f.Add("%É%", "café", true)
	f.Fuzz(func(t *testing.T, pat, s string, fold bool) {
		if !utf8.ValidString(pat) || len(pat) > 64 || len(s) > 256 {
			return // Parse rejects invalid UTF-8; keep the reference's table small
		}
		want, valid := refLike(pat, s, fold)
		p, ok := compileLike(pat, fold)
		if ok != valid {
			t.Fatalf("compileLike(%q) ok = %v, reference %v", pat, ok, valid)
		}
		if ok && p.match(s) != want {
			t.Fatalf("%s %q matching %q = %v, reference %v", likeName(fold), pat, s, !want, want)
		}
	})
}
