package tracking

import "strings"

// likePattern is a compiled SQL LIKE pattern: % matches any run of
// characters, _ exactly one, and a backslash makes the next character
// literal. ILIKE folds case.
type likePattern struct {
	toks []likeTok
	fold bool
}

type likeTok struct {
	kind byte // 'c' literal, '_' one character, '%' any run
	r    rune
}

func compileLike(pat string, fold bool) likePattern {
	if fold {
		pat = strings.ToLower(pat)
	}
	var p likePattern
	p.fold = fold
	rs := []rune(pat)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case r == '\\' && i+1 < len(rs):
			i++
			p.toks = append(p.toks, likeTok{'c', rs[i]})
		case r == '%':
			if n := len(p.toks); n == 0 || p.toks[n-1].kind != '%' {
				p.toks = append(p.toks, likeTok{kind: '%'})
			}
		case r == '_':
			p.toks = append(p.toks, likeTok{kind: '_'})
		default:
			p.toks = append(p.toks, likeTok{'c', r})
		}
	}
	return p
}

// match reports whether s matches the whole pattern. It backtracks only to
// the last %, so it takes at most O(len(s)·len(pattern)) steps.
func (p likePattern) match(s string) bool {
	if p.fold {
		s = strings.ToLower(s)
	}
	rs := []rune(s)
	i, j := 0, 0
	star, mark := -1, 0
	for i < len(rs) {
		switch {
		case j < len(p.toks) && p.toks[j].kind == '%':
			star, mark = j, i
			j++
		case j < len(p.toks) && (p.toks[j].kind == '_' || p.toks[j].r == rs[i]):
			i++
			j++
		case star >= 0:
			j = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for j < len(p.toks) && p.toks[j].kind == '%' {
		j++
	}
	return j == len(p.toks)
}
