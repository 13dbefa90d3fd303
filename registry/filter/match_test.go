package filter

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// obj is a test registered model or model version.
type obj struct {
	name, runID, source string
	noRun               bool
	version             int64
	created, updated    int64
	tags                map[string]string
}

func (o *obj) Text(a Attr) (string, bool) {
	switch a {
	case AttrName:
		return o.name, true
	case AttrRunID:
		return o.runID, !o.noRun
	case AttrSourcePath:
		return o.source, true
	}
	return "", false
}

func (o *obj) Int(a Attr) (int64, bool) {
	switch a {
	case AttrVersionNumber:
		return o.version, true
	case AttrCreationTimestamp:
		return o.created, true
	case AttrLastUpdatedTimestamp:
		return o.updated, true
	}
	return 0, false
}

func (o *obj) Tag(key string) (string, bool) {
	v, ok := o.tags[key]
	return v, ok
}

var _ Object = (*obj)(nil)

func TestMatch(t *testing.T) {
	v3 := &obj{
		name: "fraud-detector", runID: "3f2b0d1c", source: "s3://models/fraud/3", version: 3,
		tags: map[string]string{"team": "risk", "my key": "v v", "empty": "", "mlflow.prompt.is_prompt": "false"},
	}
	noRun := &obj{name: "churn", noRun: true, version: 12, tags: map[string]string{}}
	prompt := &obj{name: "qa-prompt", version: 1, tags: map[string]string{"mlflow.prompt.is_prompt": "true"}}
	tests := []struct {
		filter string
		o      *obj
		want   bool
	}{
		{"", v3, true},
		{"name = 'fraud-detector'", v3, true},
		{"name = 'Fraud-detector'", v3, false},
		{"name != 'fraud-detector'", v3, false},
		{"name != 'x'", v3, true},
		{"name LIKE 'fraud%'", v3, true},
		{"name LIKE 'FRAUD%'", v3, false},
		{"name ILIKE 'FRAUD%'", v3, true},
		{"name LIKE '%detector'", v3, true},
		{"name LIKE '%tect%'", v3, true},
		{"name LIKE 'fraud_detector'", v3, true},
		{"name LIKE 'fraud\\_detector'", v3, false},
		{"name LIKE 'fraud'", v3, false},
		{"run_id = '3f2b0d1c'", v3, true},
		{"run_id IN ('x', '3f2b0d1c')", v3, true},
		{"run_id IN ('x', 'y')", v3, false},
		{"run_id IN ('3F2B0D1C')", v3, false},
		{"run_id IN ('a','b','c','d','e','f','g','h','3f2b0d1c')", v3, true}, // map lookup
		{"run_id IN ('a','b','c','d','e','f','g','h','i')", v3, false},
		{"source_path LIKE 's3://models/%'", v3, true},
		{"version_number = 3", v3, true},
		{"version_number = '3'", v3, true},
		{"version_number != 3", v3, false},
		{"version_number > 2.5", v3, true},
		{"version_number < 3", v3, false},
		{"version_number <= 3", v3, true},
		{"version_number >= 4", v3, false},
		{"version_number > 9", noRun, true}, // numeric, not lexicographic: 12 > 9
		{"tags.team = 'risk'", v3, true},
		{"tag.team = 'risk'", v3, true},
		{"tags.team != 'risk'", v3, false},
		{"tags.`my key` = 'v v'", v3, true},
		{"tags.empty = ''", v3, true},
		{"tags.empty LIKE '%'", v3, true},
		{"name = 'fraud-detector' AND tags.team = 'risk' AND version_number >= 3", v3, true},
		{"name = 'fraud-detector' AND tags.team = 'ops'", v3, false},
		// Unset values match nothing, not even != (MLflow's None).
		{"tags.team != 'risk'", noRun, false},
		{"tags.team LIKE '%'", noRun, false},
		{"run_id != 'x'", noRun, false},
		{"run_id LIKE '%'", noRun, false},
		{"run_id IN ('')", noRun, false},
		// The prompt tag: missing means "false".
		{"tag.`mlflow.prompt.is_prompt` != 'true'", noRun, true},
		{"tag.`mlflow.prompt.is_prompt` = 'false'", noRun, true},
		{"tag.`mlflow.prompt.is_prompt` = 'true'", noRun, false},
		{"tag.`mlflow.prompt.is_prompt` != 'false'", noRun, false},
		{"tag.`mlflow.prompt.is_prompt` LIKE 'f%'", noRun, false},
		{"tag.`mlflow.prompt.is_prompt` != 'true'", prompt, false},
		{"tag.`mlflow.prompt.is_prompt` = 'true'", prompt, true},
		{"tag.`mlflow.prompt.is_prompt` != 'true'", v3, true},
	}
	for _, tt := range tests {
		t.Run(tt.filter+"/"+tt.o.name, func(t *testing.T) {
			e, err := Parse(Versions, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.Match(tt.o); got != tt.want {
				t.Fatalf("Parse(%q).Match(%s) = %v, want %v", tt.filter, tt.o.name, got, tt.want)
			}
		})
	}
}

func TestMatchNil(t *testing.T) {
	var e *Expr
	if !e.Match(&obj{}) || e.String() != "" || e.Clauses() != nil || e.QueriesPrompts() {
		t.Fatal("nil Expr must match everything")
	}
}

func TestQueriesPrompts(t *testing.T) {
	for in, want := range map[string]bool{
		"":           false,
		"name = 'x'": false,
		"tag.`mlflow.prompt.is_prompt` != 'true'":                false,
		"tag.`mlflow.prompt.is_prompt` = 'false'":                false,
		"tag.`mlflow.prompt.is_prompt` = 'true'":                 true,
		"tag.`mlflow.prompt.is_prompt` = 'TRUE'":                 true,
		"tag.`mlflow.prompt.is_prompt` != 'false'":               true,
		"tag.`mlflow.prompt.is_prompt` LIKE 'true'":              false,
		"name = 'a' AND tags.`mlflow.prompt.is_prompt` = 'true'": true,
	} {
		e, err := Parse(Models, in)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.QueriesPrompts(); got != want {
			t.Errorf("QueriesPrompts(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestLike(t *testing.T) {
	tests := []struct {
		pattern, s  string
		like, ilike bool
	}{
		{"", "", true, true},
		{"", "a", false, false},
		{"%", "", true, true},
		{"%", "anything at all", true, true},
		{"%%", "", true, true},
		{"%%%", "abc", true, true},
		{"_", "", false, false},
		{"_", "a", true, true},
		{"_", "ab", false, false},
		{"_", "é", true, true}, // one code point, two bytes
		{"_", "🙂", true, true}, // one code point, four bytes
		{"__", "🙂", false, false},
		{"_", "\n", true, true}, // unlike Python's ".", _ matches a newline
		{"a%", "a\nb", true, true},
		{"abc", "abc", true, true},
		{"abc", "ABC", false, true},
		{"abc", "abcd", false, false},
		{"abc", "ab", false, false},
		{"a%c", "abc", true, true},
		{"a%c", "ac", true, true},
		{"a%c", "abcbc", true, true},
		{"a%c", "abcb", false, false},
		{"%a%b%c%", "xxaxxbxxcxx", true, true},
		{"%a%b%c%", "cba", false, false},
		{"a%a", "a", false, false},
		{"a%a", "aa", true, true},
		{"%aa", "aaa", true, true},
		{"aa%aa", "aaa", false, false},
		{"aa%aa", "aaaa", true, true},
		{"%ab_d%", "xabcabxd", true, true}, // the first "ab" fails, the second matches
		{"%ab_d%", "xabcabd", false, false},
		{"%ab_d%", "xabcd", true, true},
		{"_%_", "a", false, false},
		{"_%_", "ab", true, true},
		{"%_", "", false, false},
		{"%_", "🙂", true, true},
		{"%é", "café", true, true},
		{"%É", "café", false, true},
		{"CAFÉ", "café", false, true},
		{"straße", "STRASSE", false, false}, // simple folding: ß is not "ss"
		{"straße", "STRAẞE", false, true},   // ẞ folds to ß
		{"k", "\u212a", false, true},        // Kelvin sign folds to k
		{"\u212a%", "Kilo", false, true},
		{"σ", "Σ", false, true},
		{"σ", "ς", false, true}, // final sigma shares the orbit
		{"%日本%", "ようこそ日本へ", true, true},
		{"モデル_", "モデルA", true, true},
		// Escapes: \% \_ \\ and any other character.
		{`100\%`, "100%", true, true},
		{`100\%`, "1000", false, false},
		{`a\_b`, "a_b", true, true},
		{`a\_b`, "axb", false, false},
		{`a\\b`, `a\b`, true, true},
		{`a\\%`, `a\anything`, true, true},
		{`\a\b`, "ab", true, true},
		{`%\%%`, "50% off", true, true},
		{`%\%%`, "50 off", false, false},
		{`\%%`, "%", true, true},
		// Characters that are special in regular expressions are not special here.
		{"a.c", "abc", false, false},
		{"a.c", "a.c", true, true},
		{"(a|b)*", "(a|b)*", true, true},
		{"^a$", "a", false, false},
		{"[ab]", "a", false, false},
	}
	for _, tt := range tests {
		for _, fold := range []bool{false, true} {
			want := tt.like
			if fold {
				want = tt.ilike
			}
			p, ok := compileLike(tt.pattern, fold)
			if !ok {
				t.Fatalf("compileLike(%q) failed", tt.pattern)
			}
			if got := p.match(tt.s); got != want {
				t.Errorf("%s: %q matching %q = %v, want %v", likeName(fold), tt.pattern, tt.s, got, want)
			}
			if ref, _ := refLike(tt.pattern, tt.s, fold); ref != want {
				t.Errorf("reference %s: %q matching %q = %v, want %v (bad test?)", likeName(fold), tt.pattern, tt.s, ref, want)
			}
		}
	}
}

func likeName(fold bool) string {
	if fold {
		return "ILIKE"
	}
	return "LIKE"
}

// TestLikeRandom compares the matcher with the reference on many small random cases,
// drawn from a tiny alphabet so that matches are frequent.
func TestLikeRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	patAlpha := []string{"a", "b", "A", "%", "_", `\`, "é", "É", "\u212a", "k"}
	// The text may hold invalid UTF-8 (a lone lead byte, a stray continuation byte).
	txtAlpha := []string{"a", "b", "A", "é", "É", "K", "k", "%", "_", `\`, "\xc3", "\xa9", "\xff", "\u212a"}
	gen := func(alpha []string, n int) string {
		var b strings.Builder
		for range r.IntN(n) {
			b.WriteString(alpha[r.IntN(len(alpha))])
		}
		return b.String()
	}
	for range 50000 {
		pat, s := gen(patAlpha, 8), gen(txtAlpha, 10)
		for _, fold := range []bool{false, true} {
			want, valid := refLike(pat, s, fold)
			p, ok := compileLike(pat, fold)
			if ok != valid {
				t.Fatalf("compileLike(%q) ok = %v, reference %v", pat, ok, valid)
			}
			if ok && p.match(s) != want {
				t.Fatalf("%s %q matching %q = %v, reference %v", likeName(fold), pat, s, !want, want)
			}
		}
	}
}

// TestLikeLinear checks that patterns which make backtracking matchers blow up are fast.
func TestLikeLinear(t *testing.T) {
	s := strings.Repeat("a", 100000)
	pat := strings.Repeat("%a", 30) + "%b"
	for _, fold := range []bool{false, true} {
		p, _ := compileLike(pat, fold)
		if p.match(s) {
			t.Fatal("matched")
		}
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	o := &obj{name: "fraud-detector", runID: "abc", source: "s3://x", version: 3, tags: map[string]string{"team": "risk"}}
	e, err := Parse(Versions, "name ILIKE '%DETECT%' AND tags.team LIKE 'r_s%' AND version_number > 1 AND run_id IN ('a','b','c','d','e','f','g','h','abc') AND tag.`mlflow.prompt.is_prompt` != 'true'")
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if !e.Match(o) {
			t.Fatal("no match")
		}
	}); n != 0 {
		t.Fatalf("Match allocates %v times", n)
	}
}

// refLike is a straightforward dynamic-programming LIKE matcher, written independently of
// likePattern, to check it against. valid is false when the pattern ends in a lone
// backslash. Characters of s are its UTF-8 sequences as a range loop cuts them.
func refLike(pattern, s string, fold bool) (match, valid bool) {
	type tok struct {
		kind byte // 'c' character, '_' one, '%' any
		r    rune
	}
	var toks []tok
	pr := []rune(pattern)
	for i := 0; i < len(pr); i++ {
		switch pr[i] {
		case '%':
			toks = append(toks, tok{kind: '%'})
		case '_':
			toks = append(toks, tok{kind: '_'})
		case '\\':
			if i+1 == len(pr) {
				return false, false
			}
			i++
			toks = append(toks, tok{kind: 'c', r: pr[i]})
		default:
			toks = append(toks, tok{kind: 'c', r: pr[i]})
		}
	}
	var chars []string
	for i := 0; i < len(s); {
		_, w := utf8.DecodeRuneInString(s[i:])
		chars = append(chars, s[i:i+w])
		i += w
	}
	eq := func(c string, r rune) bool {
		if !fold {
			return c == string(r)
		}
		a, _ := utf8.DecodeRuneInString(c)
		if a == r {
			return true
		}
		for f := unicode.SimpleFold(a); f != a; f = unicode.SimpleFold(f) {
			if f == r {
				return true
			}
		}
		return false
	}
	// m[i][j]: chars[i:] matches toks[j:].
	m := make([][]bool, len(chars)+1)
	for i := range m {
		m[i] = make([]bool, len(toks)+1)
	}
	m[len(chars)][len(toks)] = true
	for i := len(chars); i >= 0; i-- {
		for j := len(toks) - 1; j >= 0; j-- {
			switch t := toks[j]; t.kind {
			case '%':
				m[i][j] = m[i][j+1] || (i < len(chars) && m[i+1][j])
			case '_':
				m[i][j] = i < len(chars) && m[i+1][j+1]
			default:
				m[i][j] = i < len(chars) && eq(chars[i], t.r) && m[i+1][j+1]
			}
		}
	}
	return m[0][0], true
}

func TestMatchConcurrent(t *testing.T) {
	e, err := Parse(Versions, "name ILIKE '%a%' AND run_id IN ('a','b','c','d','e','f','g','h','i')")
	if err != nil {
		t.Fatal(err)
	}
	o := &obj{name: "xAx", runID: "i"}
	done := make(chan bool)
	for range 8 {
		go func() {
			ok := true
			for range 1000 {
				ok = ok && e.Match(o)
			}
			done <- ok
		}()
	}
	for range 8 {
		if !<-done {
			t.Fatal("no match")
		}
	}
}
