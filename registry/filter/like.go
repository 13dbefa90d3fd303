package filter

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// A likePattern is a compiled LIKE or ILIKE pattern.
//
// The pattern is cut at every %: head must match at the start of the text, tail at its
// end, and each mid segment somewhere in between, in order. A segment is a sequence of
// literals and runs of _ and always spans a fixed number of characters, so head and tail
// are placed without searching and each mid segment is found by its leftmost occurrence
// after the previous one. Leftmost is always right (any later match leaves less room for
// what follows), so the matcher never backtracks across a %: the cost is at most
// O(len(text) * len(pattern)), usually O(len(text)), and there is no pathological input.
type likePattern struct {
	fold      bool       // ILIKE: literals hold case-folded runes
	hasPct    bool       // false: the text must match head exactly
	head      []likePart // before the first %
	mids      []likeSeg  // between %s, empty segments dropped
	tail      []likePart // after the last %
	tailRunes int        // characters tail spans
}

// likeSeg is a mid segment with what find needs to skip ahead quickly.
type likeSeg struct {
	parts []likePart
	// For ILIKE, when the segment starts with a literal whose first letter has ASCII forms:
	// those forms. Other ASCII bytes cannot start a match and are skipped.
	c1, c2 byte
	skip   bool
}

// likePart is a literal (lit != "") or a run of n _ wildcards.
type likePart struct {
	lit string
	n   int
}

// compileLike compiles a LIKE pattern. % matches any run of characters, _ exactly one,
// and a backslash makes the next character literal (\%, \_, \\), as in PostgreSQL and
// MySQL. A pattern that ends in a lone backslash is an error. With fold set (ILIKE),
// letters match regardless of case (Unicode simple case folding).
func compileLike(pat string, fold bool) (likePattern, bool) {
	p := likePattern{fold: fold}
	var segs [][]likePart
	var seg []likePart
	var lit []byte
	flushLit := func() {
		if len(lit) > 0 {
			seg = append(seg, likePart{lit: string(lit)})
			lit = lit[:0]
		}
	}
	addRune := func(r rune) {
		if fold {
			r = foldRune(r)
		}
		lit = utf8.AppendRune(lit, r)
	}
	for i := 0; i < len(pat); {
		r, w := utf8.DecodeRuneInString(pat[i:])
		i += w
		switch r {
		case '%':
			flushLit()
			segs = append(segs, seg)
			seg = nil
		case '_':
			flushLit()
			if n := len(seg); n > 0 && seg[n-1].lit == "" {
				seg[n-1].n++
			} else {
				seg = append(seg, likePart{n: 1})
			}
		case '\\':
			if i >= len(pat) {
				return likePattern{}, false
			}
			r, w = utf8.DecodeRuneInString(pat[i:])
			i += w
			addRune(r)
		default:
			addRune(r)
		}
	}
	flushLit()
	segs = append(segs, seg)

	p.head = segs[0]
	if len(segs) == 1 {
		return p, true
	}
	p.hasPct = true
	p.tail = segs[len(segs)-1]
	p.tailRunes = spanRunes(p.tail)
	for _, s := range segs[1 : len(segs)-1] {
		if len(s) > 0 {
			p.mids = append(p.mids, newLikeSeg(s, fold))
		}
	}
	return p, true
}

func newLikeSeg(parts []likePart, fold bool) likeSeg {
	seg := likeSeg{parts: parts}
	if !fold || parts[0].lit == "" {
		return seg
	}
	want, _ := utf8.DecodeRuneInString(parts[0].lit)
	seg.c1, seg.c2 = 0xff, 0xff // 0xff never starts a character
	// The runes that fold to want are its orbit; at most two of them are ASCII.
	r := want
	for {
		if r < utf8.RuneSelf {
			if seg.c1 == 0xff {
				seg.c1 = byte(r)
			} else {
				seg.c2 = byte(r)
			}
		}
		if r = unicode.SimpleFold(r); r == want {
			break
		}
	}
	seg.skip = true
	return seg
}

func spanRunes(seg []likePart) int {
	n := 0
	for _, part := range seg {
		if part.lit == "" {
			n += part.n
		} else {
			n += utf8.RuneCountInString(part.lit)
		}
	}
	return n
}

func (p *likePattern) match(s string) bool {
	pos, ok := p.matchAt(s, 0, p.head)
	if !ok {
		return false
	}
	if !p.hasPct {
		return pos == len(s)
	}
	for i := range p.mids {
		if pos, ok = p.find(s, pos, &p.mids[i]); !ok {
			return false
		}
	}
	// The tail spans tailRunes characters and must end the text.
	if p.tailRunes == 0 {
		return true
	}
	if !p.fold && len(p.tail) == 1 && p.tail[0].lit != "" {
		lit := p.tail[0].lit
		return len(s)-len(lit) >= pos && strings.HasSuffix(s, lit)
	}
	start, ok := tailStart(s, pos, p.tailRunes)
	if !ok {
		return false
	}
	end, ok := p.matchAt(s, start, p.tail)
	return ok && end == len(s)
}

// tailStart returns where the last n characters of s begin, if that is at or after pos.
func tailStart(s string, pos, n int) (int, bool) {
	// Step back over ASCII bytes: each is a whole character wherever decoding started.
	start := len(s)
	for ; n > 0 && start > pos && s[start-1] < utf8.RuneSelf; n-- {
		start--
	}
	if n == 0 {
		return start, true
	}
	if start == pos {
		return 0, false
	}
	// A non-ASCII byte: count characters forward from pos, as decoding does.
	skip := utf8.RuneCountInString(s[pos:start]) - n
	if skip < 0 {
		return 0, false
	}
	for ; skip > 0; skip-- {
		pos += runeLen(s, pos)
	}
	return pos, true
}

// find returns the end of the leftmost match of seg at or after pos.
func (p *likePattern) find(s string, pos int, seg *likeSeg) (int, bool) {
	first := seg.parts[0].lit
	for pos <= len(s) {
		switch {
		case !p.fold && first != "":
			i := strings.Index(s[pos:], first)
			if i < 0 {
				return 0, false
			}
			pos += i
		case seg.skip:
			// Skip ASCII bytes that cannot start a match. Stopping at a non-ASCII byte
			// keeps pos on a character boundary: only whole characters were skipped.
			for pos < len(s) && s[pos] < utf8.RuneSelf && s[pos] != seg.c1 && s[pos] != seg.c2 {
				pos++
			}
			if pos == len(s) {
				return 0, false // the segment starts with a literal: it needs a character
			}
		}
		if end, ok := p.matchAt(s, pos, seg.parts); ok {
			return end, true
		}
		if pos == len(s) {
			break
		}
		pos += runeLen(s, pos)
	}
	return 0, false
}

// matchAt matches seg at s[pos:] and returns the end of the match.
func (p *likePattern) matchAt(s string, pos int, seg []likePart) (int, bool) {
	for _, part := range seg {
		if part.lit == "" {
			for n := part.n; n > 0; n-- {
				if pos >= len(s) {
					return 0, false
				}
				pos += runeLen(s, pos)
			}
			continue
		}
		if !p.fold {
			if !strings.HasPrefix(s[pos:], part.lit) {
				return 0, false
			}
			pos += len(part.lit)
			continue
		}
		lit := part.lit
		for j := 0; j < len(lit); {
			if pos >= len(s) {
				return 0, false
			}
			if c, want := s[pos], lit[j]; c < utf8.RuneSelf && want < utf8.RuneSelf {
				if 'a' <= c && c <= 'z' {
					c -= 'a' - 'A'
				}
				if c != want {
					return 0, false
				}
				pos++
				j++
				continue
			}
			want, wl := utf8.DecodeRuneInString(lit[j:])
			r, w := utf8.DecodeRuneInString(s[pos:])
			if foldRune(r) != want {
				return 0, false
			}
			pos += w
			j += wl
		}
	}
	return pos, true
}

// runeLen returns the length of the character at s[i] (1 for an invalid byte).
func runeLen(s string, i int) int {
	if s[i] < utf8.RuneSelf {
		return 1
	}
	return multiByteLen(s, i)
}

func multiByteLen(s string, i int) int {
	_, w := utf8.DecodeRuneInString(s[i:])
	return w
}

// foldRune maps r to one representative of its Unicode simple case-folding orbit (the
// smallest rune in it), so that foldRune(a) == foldRune(b) exactly when a and b are equal
// without regard to case: 'k', 'K' and the Kelvin sign all map to 'K'.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			r -= 'a' - 'A'
		}
		return r
	}
	return foldNonASCII(r)
}

func foldNonASCII(r rune) rune {
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < m {
			m = f
		}
	}
	return m
}
