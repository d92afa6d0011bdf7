package server_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/ecompointer/ecompointer/server"
)

// portablePattern says why pattern could mean something else in ECMA-262 without the `u` flag
// (how Swagger UI, openapi-typescript's consumers and most JavaScript validators compile it),
// with it, or in Go's RE2 (how the server and kin-openapi compile it); "" when it cannot.
//
// It accepts a subset small enough to be sure of rather than a full grammar: ASCII literals,
// positive character classes of ASCII, the escapes \d \w \b \B \t \n \r \f \v, \xHH up to 7F,
// escaped syntax characters, groups `(...)` and `(?:...)`, `|`, `^`, `$`, and the quantifiers
// `* + ? {n} {n,} {n,m}` (lazy or not) after something quantifiable. Everything else is refused,
// each for a reason where the dialects part:
//   - \p{..} \P{..} \u{..}: a literal `p`, `P`, `u` without `u`; \uHHHH: RE2 has no \u;
//   - `.`, negated classes, \D \W \S: without `u` they match one UTF-16 unit, so a character
//     outside the BMP counts twice (and `.` excludes \r, U+2028, U+2029 only in ECMA-262);
//   - \s: RE2's is ASCII, ECMA-262's is Unicode white space;
//   - a bare `{` or `}` or `]`: a literal in RE2 and without `u`, a syntax error with it;
//   - `[` in a class: RE2 reads `[[:alpha:]]` as a POSIX class;
//   - (?i) (?P<..>) (?<..>) (?= ) (?! ) \1 \k \c \0: flags, names, lookaround and
//     back-references exist in one dialect only or differ between them;
//   - anything but printable ASCII in the pattern itself.
func portablePattern(p string) string {
	if _, err := regexp.Compile(p); err != nil {
		return "RE2 does not compile it: " + err.Error()
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] > 0x7e {
			return fmt.Sprintf("byte %d is not printable ASCII", i)
		}
	}
	const syntax = `^$\.*+?()[]{}|/`
	quantifiable := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch c {
		case '\\':
			if i+1 >= len(p) {
				return "a trailing backslash"
			}
			e := p[i+1]
			i++
			switch {
			case strings.IndexByte(`dwtnrfv`, e) >= 0, strings.IndexByte(syntax, e) >= 0:
				quantifiable = true
			case e == 'b' || e == 'B':
				quantifiable = false
			case e == 'x':
				if !hexASCII(p, i+1) {
					return fmt.Sprintf(`\x at byte %d is not \xHH with HH at most 7F`, i-1)
				}
				i += 2
				quantifiable = true
			default:
				return fmt.Sprintf(`the escape \%c at byte %d means different things in RE2 and ECMA-262 with and without u`, e, i-1)
			}
		case '[':
			end, why := classEnd(p, i)
			if why != "" {
				return why
			}
			i = end
			quantifiable = true
		case '(':
			if strings.HasPrefix(p[i:], "(?") && !strings.HasPrefix(p[i:], "(?:") {
				return fmt.Sprintf("the group at byte %d is not ( or (?: (flags, names and lookaround differ)", i)
			}
			if strings.HasPrefix(p[i:], "(?:") {
				i += 2
			}
			quantifiable = false
		case ')':
			quantifiable = true
		case '|', '^', '$':
			quantifiable = false
		case '.':
			return fmt.Sprintf("`.` at byte %d (line terminators and characters outside the BMP differ)", i)
		case '*', '+', '?', '{':
			if !quantifiable {
				return fmt.Sprintf("%q at byte %d quantifies nothing (a literal in RE2, an error in ECMA-262 with u)", c, i)
			}
			if c == '{' {
				m := boundedRepeat.FindString(p[i:])
				if m == "" {
					return fmt.Sprintf("`{` at byte %d does not start {n}, {n,} or {n,m}", i)
				}
				i += len(m) - 1
			}
			if i+1 < len(p) && p[i+1] == '?' {
				i++ // lazy
			}
			quantifiable = false
		case '}', ']':
			return fmt.Sprintf("a bare %q at byte %d (a literal without u, an error with it)", c, i)
		default:
			quantifiable = true
		}
	}
	return ""
}

var boundedRepeat = regexp.MustCompile(`^\{[0-9]+(,[0-9]*)?\}`)

func hexASCII(p string, i int) bool {
	if i+2 > len(p) {
		return false
	}
	h := p[i : i+2]
	return strings.IndexByte("01234567", h[0]) >= 0 && strings.IndexByte("0123456789abcdefABCDEF", h[1]) >= 0
}

// classEnd returns the index of the `]` closing the class opened at i, or why the class is not
// portable.
func classEnd(p string, i int) (int, string) {
	start := i
	i++
	if i < len(p) && p[i] == '^' {
		return 0, fmt.Sprintf("the negated class at byte %d matches one UTF-16 unit without u (a character outside the BMP counts twice)", start)
	}
	if i < len(p) && p[i] == ']' {
		return 0, fmt.Sprintf("the class at byte %d starts with ] (RE2: a literal; ECMA-262: an empty class)", start)
	}
	for ; i < len(p); i++ {
		switch p[i] {
		case ']':
			return i, ""
		case '[':
			return 0, fmt.Sprintf("`[` inside the class at byte %d (RE2 reads [:name:] as a POSIX class)", start)
		case '\\':
			if i+1 >= len(p) {
				return 0, "a trailing backslash"
			}
			e := p[i+1]
			i++
			switch {
			case strings.IndexByte(`dwtnrfv`, e) >= 0, strings.IndexByte(`^$\.*+?()[]{}|/-`, e) >= 0:
			case e == 'x':
				if !hexASCII(p, i+1) {
					return 0, fmt.Sprintf(`\x in the class at byte %d is not \xHH with HH at most 7F`, start)
				}
				i += 2
			default:
				return 0, fmt.Sprintf(`the escape \%c in the class at byte %d means different things in RE2 and ECMA-262 with and without u`, e, start)
			}
		}
	}
	return 0, fmt.Sprintf("the class at byte %d is not closed", start)
}

func TestPortablePatternChecker(t *testing.T) {
	t.Parallel()
	for pattern, portable := range map[string]bool{
		`^[A-Z]{3}$`:         true,
		`^[A-Za-z0-9._-]+$`:  true,
		`^[0-9+() .-]+$`:     true,
		`^[A-Z0-9_-]{1,32}$`: true,
		`^("[\x20-\x21\x23-\x5B\x5D-\x7E]{1,255}"|[\x21\x23-\x7E]{1,255})$`: true,
		`^(?:ab|cd)+?\d\w\b$`: true,
		`a\.b\/c\{2\}`:        true,
		`[\p{L}\p{N}]{3}`:     false,
		`\p{L}`:               false,
		`\P{L}`:               false,
		`\u{41}`:              false,
		`\u0041`:              false,
		`\x{41}`:              false,
		`\xE9`:                false,
		`é`:                   false,
		`a.b`:                 false,
		`[^a]`:                false,
		`\s`:                  false,
		`\S`:                  false,
		`\D`:                  false,
		`\W`:                  false,
		`a{`:                  false,
		`a{1,2`:               false,
		`}`:                   false,
		`(?i)a`:               false,
		`(?P<n>a)`:            false,
		`(?<n>a)`:             false,
		`[[:alpha:]]`:         false,
		`(a)\1`:               false,
		`\Aab\z`:              false,
		`*a`:                  false,
		`[]a]`:                false,
		`[\b]`:                false,
		`\0`:                  false,
		`\cA`:                 false,
	} {
		t.Run(pattern, func(t *testing.T) {
			t.Parallel()
			why := portablePattern(pattern)
			if got := why == ""; got != portable {
				t.Errorf("portablePattern(%q) = %q, want portable %v", pattern, why, portable)
			}
		})
	}
}

// TestSpecPatternsArePortable: every `pattern` in openapi.yaml compiles in RE2 and means the same
// there as in ECMA-262 with and without the `u` flag. `[\p{L}\p{N}]{3}` on `q` did not: Swagger
// UI read `\p` as a literal `p`, refused every valid `q` and blocked Try it out on the product
// list; openapi-spec-validator (Python's re) refused the whole document.
func TestSpecPatternsArePortable(t *testing.T) {
	t.Parallel()
	doc, err := server.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		t.Fatal(err)
	}
	found := 0
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if k == "pattern" && !strings.HasSuffix(path, "/properties") {
					if p, ok := child.(string); ok {
						found++
						t.Run(path, func(t *testing.T) {
							if why := portablePattern(p); why != "" {
								t.Errorf("%s: pattern %q is not portable: %s", path, p, why)
							}
						})
						continue
					}
				}
				walk(child, path+"/"+k)
			}
		case []any:
			for i, child := range v {
				walk(child, fmt.Sprintf("%s/%d", path, i))
			}
		}
	}
	walk(tree, "#")
	if found < 5 {
		t.Fatalf("found %d patterns in openapi.yaml; the walk is broken", found)
	}
}
