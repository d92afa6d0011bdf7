package server

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ecompointer/ecompointer/gen/api"
)

// MaxJSONDepth is how deeply a request body may nest arrays and objects. The API's deepest body
// (a bulk upsert's item attributes) nests three levels; the rest is headroom. A deeper body is a
// 400 malformed_json, found after reading at most MaxJSONDepth+1 brackets of it.
const MaxJSONDepth = 32

// errJSONTooDeep is the reason a body nesting deeper than MaxJSONDepth is refused.
var errJSONTooDeep = fmt.Errorf("nests deeper than the limit of %d levels of arrays and objects", MaxJSONDepth)

// jsonSyntaxError is a body that is not one well-formed JSON value.
type jsonSyntaxError struct {
	msg    string
	offset int
}

func (e *jsonSyntaxError) Error() string { return fmt.Sprintf("%s (at byte %d)", e.msg, e.offset) }

// badTextError is a JSON string (a value or an object key) holding text PostgreSQL cannot store:
// a NUL character or invalid UTF-8 (a lone surrogate escape included). encoding/json would turn
// invalid UTF-8 into U+FFFD without a word, so it is caught here, on the raw bytes.
type badTextError struct {
	field   string
	message string
}

func (e *badTextError) Error() string { return e.field + ": " + e.message }

// fieldErrors is a body that decodes but that validation refuses field by field, found before the
// schema is applied (text that cannot be stored, a non-integral integer).
type fieldErrors []api.FieldError

func (e fieldErrors) Error() string {
	parts := make([]string, len(e))
	for i, f := range e {
		parts[i] = f.Field + ": " + f.Message
	}
	return strings.Join(parts, "; ")
}

// scanFrame is one open array or object.
type scanFrame struct {
	object bool
	index  int             // arrays: the index of the current element
	key    string          // objects: the current member's name
	seen   map[string]bool // objects: the member names so far
}

// scanJSON checks in one iterative pass, before anything is decoded, that data is exactly one
// JSON value (RFC 8259, no trailing data) with no duplicate object keys, nesting at most
// MaxJSONDepth levels, whose strings and keys hold no NUL and no invalid UTF-8. It never recurses
// and its state is bounded by MaxJSONDepth frames plus the keys it has read, so time and memory
// stay proportional to the bytes read: a body of a million `[` stops at the 33rd.
//
// It returns a *jsonSyntaxError (malformed), errJSONTooDeep (wrapped in a *jsonSyntaxError) or a
// *badTextError naming the field.
func scanJSON(data []byte) error {
	s := scanner{data: data}
	return s.run()
}

type scanner struct {
	data  []byte
	pos   int
	stack []scanFrame
}

func (s *scanner) fail(msg string) error { return &jsonSyntaxError{msg: msg, offset: s.pos} }

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// path renders where the scanner is as a field path (`items[3].sku`), the way validation errors
// name fields.
func (s *scanner) path(key *string) string {
	var tokens []string
	for i, f := range s.stack {
		last := i == len(s.stack)-1
		switch {
		case f.object && last && key != nil:
			tokens = append(tokens, *key)
		case f.object:
			tokens = append(tokens, f.key)
		default:
			tokens = append(tokens, strconv.Itoa(f.index))
		}
	}
	return fieldPath(tokens)
}

func (s *scanner) run() error {
	s.skipSpace()
	if err := s.value(); err != nil {
		return err
	}
	for len(s.stack) > 0 {
		if err := s.afterValue(); err != nil {
			return err
		}
		if len(s.stack) == 0 {
			break
		}
		if err := s.value(); err != nil {
			return err
		}
	}
	s.skipSpace()
	if s.pos != len(s.data) {
		return s.fail("unexpected data after the JSON value")
	}
	return nil
}

// value reads one value, or opens an array or object and reads up to its first element's start
// (leaving the element itself to the loop in run).
func (s *scanner) value() error {
	for {
		s.skipSpace()
		if s.pos >= len(s.data) {
			return s.fail("unexpected end of input")
		}
		switch c := s.data[s.pos]; c {
		case '{', '[':
			if len(s.stack) >= MaxJSONDepth {
				return &jsonSyntaxError{msg: errJSONTooDeep.Error(), offset: s.pos}
			}
			s.pos++
			s.skipSpace()
			if c == '[' {
				s.stack = append(s.stack, scanFrame{})
				if s.pos < len(s.data) && s.data[s.pos] == ']' {
					s.pos++
					s.stack = s.stack[:len(s.stack)-1]
					return nil
				}
				continue // the first element
			}
			s.stack = append(s.stack, scanFrame{object: true, seen: map[string]bool{}})
			if s.pos < len(s.data) && s.data[s.pos] == '}' {
				s.pos++
				s.stack = s.stack[:len(s.stack)-1]
				return nil
			}
			if err := s.member(); err != nil {
				return err
			}
			continue // the first member's value
		case '"':
			return s.str(nil)
		case 't':
			return s.literal("true")
		case 'f':
			return s.literal("false")
		case 'n':
			return s.literal("null")
		default:
			if c == '-' || (c >= '0' && c <= '9') {
				return s.number()
			}
			return s.fail(fmt.Sprintf("invalid character %q looking for a value", c))
		}
	}
}

// member reads an object member's name and colon.
func (s *scanner) member() error {
	s.skipSpace()
	if s.pos >= len(s.data) || s.data[s.pos] != '"' {
		return s.fail("expected a string as an object key")
	}
	f := &s.stack[len(s.stack)-1]
	var key string
	if err := s.str(&key); err != nil {
		return err
	}
	if f.seen[key] {
		return s.fail(fmt.Sprintf("duplicate key %q", key))
	}
	f.seen[key] = true
	f.key = key
	s.skipSpace()
	if s.pos >= len(s.data) || s.data[s.pos] != ':' {
		return s.fail("expected ':' after an object key")
	}
	s.pos++
	return nil
}

// afterValue reads what follows a value inside the innermost array or object: a comma (and, in
// an object, the next member's name) or the closing bracket, which may close enclosing ones too.
func (s *scanner) afterValue() error {
	for len(s.stack) > 0 {
		s.skipSpace()
		if s.pos >= len(s.data) {
			return s.fail("unexpected end of input")
		}
		f := &s.stack[len(s.stack)-1]
		c := s.data[s.pos]
		switch {
		case c == ',':
			s.pos++
			if f.object {
				return s.member()
			}
			f.index++
			return nil
		case c == '}' && f.object, c == ']' && !f.object:
			s.pos++
			s.stack = s.stack[:len(s.stack)-1]
		default:
			return s.fail(fmt.Sprintf("invalid character %q after a value", c))
		}
	}
	return nil
}

func (s *scanner) literal(word string) error {
	if !strings.HasPrefix(string(s.data[s.pos:min(len(s.data), s.pos+len(word))]), word) {
		return s.fail("invalid literal")
	}
	s.pos += len(word)
	return nil
}

func (s *scanner) number() error {
	start := s.pos
	digits := func() int {
		n := 0
		for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
			s.pos++
			n++
		}
		return n
	}
	if s.data[s.pos] == '-' {
		s.pos++
	}
	intStart := s.pos
	if digits() == 0 {
		return s.fail("invalid number")
	}
	if s.data[intStart] == '0' && s.pos-intStart > 1 {
		s.pos = start
		return s.fail("invalid number (leading zero)")
	}
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		s.pos++
		if digits() == 0 {
			return s.fail("invalid number")
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if digits() == 0 {
			return s.fail("invalid number")
		}
	}
	return nil
}

// str reads a string at s.pos (the opening quote). A key's decoded text goes to *key; a value's
// is only checked.
func (s *scanner) str(key *string) error {
	s.pos++ // the opening quote
	var b strings.Builder
	bad := ""
	for {
		if s.pos >= len(s.data) {
			return s.fail("unexpected end of input in a string")
		}
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			if key != nil {
				*key = b.String()
			}
			if bad != "" {
				return &badTextError{field: s.path(key), message: bad}
			}
			return nil
		case c < 0x20:
			return s.fail("control character in a string")
		case c == '\\':
			r, err := s.escape()
			if err != nil {
				return err
			}
			switch r {
			case 0:
				bad = first(bad, "must not contain a NUL character")
			case loneSurrogate:
				bad = first(bad, "must be valid UTF-8 (a lone surrogate escape is not)")
				r = utf8.RuneError
			}
			if key != nil {
				b.WriteRune(r)
			}
		case c < utf8.RuneSelf:
			s.pos++
			if key != nil {
				b.WriteByte(c)
			}
		default:
			r, size := utf8.DecodeRune(s.data[s.pos:])
			if r == utf8.RuneError && size <= 1 {
				bad = first(bad, "must be valid UTF-8")
				size = 1
			}
			if key != nil {
				b.Write(s.data[s.pos : s.pos+size])
			}
			s.pos += size
		}
	}
}

func first(current, next string) string {
	if current != "" {
		return current
	}
	return next
}

// loneSurrogate is what escape returns for a \u escape of half a UTF-16 surrogate pair.
const loneSurrogate rune = -1

// escape reads a backslash escape, returning the character it stands for (loneSurrogate for a
// surrogate that is not half of a pair).
func (s *scanner) escape() (rune, error) {
	if s.pos+1 >= len(s.data) {
		return 0, s.fail("unexpected end of input in a string")
	}
	c := s.data[s.pos+1]
	s.pos += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, ok := s.hex4()
		if !ok {
			return 0, s.fail("invalid \\u escape")
		}
		if !utf16.IsSurrogate(r) {
			return r, nil
		}
		// A high surrogate followed by an escaped low one is one character; anything else is
		// half of one.
		if r < 0xDC00 && s.pos+1 < len(s.data) && s.data[s.pos] == '\\' && s.data[s.pos+1] == 'u' {
			save := s.pos
			s.pos += 2
			r2, ok := s.hex4()
			if !ok {
				return 0, s.fail("invalid \\u escape")
			}
			if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
				return pair, nil
			}
			s.pos = save
		}
		return loneSurrogate, nil
	default:
		s.pos--
		return 0, s.fail(fmt.Sprintf("invalid escape character %q", c))
	}
}

func (s *scanner) hex4() (rune, bool) {
	if s.pos+4 > len(s.data) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(s.data[s.pos:s.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	s.pos += 4
	return rune(v), true
}

// isTooDeep tells whether err refused a body for its nesting.
func isTooDeep(err error) bool {
	var se *jsonSyntaxError
	return errors.As(err, &se) && se.msg == errJSONTooDeep.Error()
}
