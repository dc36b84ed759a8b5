package cocofile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// MaxFileBytes is the largest COCO file the readers accept. A file is parsed
// as it streams in, so malformed input is refused at its first bad byte and
// an oversized one when the limit is crossed, never after reading it whole.
const MaxFileBytes int64 = 4 << 30

// maxDepth bounds the nesting of skipped JSON values so hostile input cannot
// exhaust the stack.
const maxDepth = 256

// errLimit reports input longer than the reader's byte limit.
var errLimit = errors.New("file exceeds the size limit")

// lexer is a streaming, strict JSON scanner over an io.Reader. It keeps a
// window of the input in buf; buf[pos:end] is unread.
type lexer struct {
	r     io.Reader
	buf   []byte
	pos   int
	end   int
	off   int64 // input offset of buf[0]
	limit int64
	eof   bool
	rerr  error

	rec      []byte // bytes of the value being captured
	recStart int    // start of the capture inside buf, or -1

	keys map[string]string // interned object keys
}

func newLexer(r io.Reader, limit int64) *lexer {
	return &lexer{r: r, buf: make([]byte, 64<<10), limit: limit, recStart: -1}
}

// offset returns the input offset of the next unread byte.
func (l *lexer) offset() int64 { return l.off + int64(l.pos) }

// fill reads more input, keeping the unread bytes. It reports whether any
// new byte arrived.
func (l *lexer) fill() bool {
	if l.eof {
		return false
	}
	if l.recStart >= 0 {
		l.rec = append(l.rec, l.buf[l.recStart:l.pos]...)
		l.recStart = 0
	}
	n := copy(l.buf, l.buf[l.pos:l.end])
	l.off += int64(l.pos)
	l.pos, l.end = 0, n
	if l.end == len(l.buf) {
		// A single token larger than the window: grow it.
		l.buf = append(l.buf, make([]byte, len(l.buf))...)
	}
	for {
		m, err := l.r.Read(l.buf[l.end:])
		l.end += m
		if l.off+int64(l.end) > l.limit {
			l.eof, l.rerr = true, errLimit
			l.end -= m
			return false
		}
		if err != nil {
			l.eof = true
			if err != io.EOF {
				l.rerr = err
			}
			return m > 0
		}
		if m > 0 {
			return true
		}
	}
}

// errorf returns a syntax error at the current offset, or the read error
// that stopped the input.
func (l *lexer) errorf(format string, args ...any) error {
	if l.rerr != nil {
		return l.rerr
	}
	return fmt.Errorf("byte %d: %s", l.offset(), fmt.Sprintf(format, args...))
}

// peek skips white space and returns the next byte without consuming it;
// it returns 0 at the end of the input.
func (l *lexer) peek() byte {
	for {
		for l.pos < l.end {
			c := l.buf[l.pos]
			if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
				return c
			}
			l.pos++
		}
		if !l.fill() {
			return 0
		}
	}
}

// expect consumes byte c after optional white space.
func (l *lexer) expect(c byte) error {
	got := l.peek()
	if got != c {
		return l.unexpected(fmt.Sprintf("%q", c))
	}
	l.pos++
	return nil
}

func (l *lexer) unexpected(want string) error {
	c := l.peek()
	if c == 0 {
		if l.rerr != nil {
			return l.rerr
		}
		return l.errorf("unexpected end of input, want %s", want)
	}
	return l.errorf("unexpected %q, want %s", c, want)
}

// more is called after an element of an array or object: it consumes a
// comma and reports true, or consumes the closing byte and reports false.
func (l *lexer) more(closing byte) (bool, error) {
	switch l.peek() {
	case ',':
		l.pos++
		return true, nil
	case closing:
		l.pos++
		return false, nil
	}
	return false, l.unexpected(fmt.Sprintf("',' or %q", closing))
}

// begin consumes the opening byte of an array or object and reports whether
// it is empty (in which case the closing byte is consumed too).
func (l *lexer) begin(open, closing byte) (empty bool, err error) {
	if err := l.expect(open); err != nil {
		return false, err
	}
	if l.peek() == closing {
		l.pos++
		return true, nil
	}
	return false, nil
}

// ensure makes at least n unread bytes available if the input has them.
func (l *lexer) ensure(n int) bool {
	for l.end-l.pos < n {
		if !l.fill() {
			return false
		}
	}
	return true
}

// str reads a JSON string.
func (l *lexer) str() (string, error) {
	if l.peek() != '"' {
		return "", l.unexpected("a string")
	}
	start := l.pos
	i := l.pos + 1
	escaped := false
	for {
		if i >= l.end {
			shift := l.pos
			ok := l.fill()
			i -= shift - l.pos
			start = l.pos
			if !ok {
				return "", l.errorf("unterminated string")
			}
			continue
		}
		c := l.buf[i]
		if c == '"' {
			break
		}
		if c < 0x20 {
			l.pos = i
			return "", l.errorf("control character in string")
		}
		if c == '\\' {
			escaped = true
			i++
		}
		i++
	}
	raw := l.buf[start : i+1]
	l.pos = i + 1
	if !escaped {
		s := raw[1 : len(raw)-1]
		if !utf8.Valid(s) {
			return "", fmt.Errorf("byte %d: invalid UTF-8 in string", l.off+int64(start))
		}
		return string(s), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("byte %d: bad string: %w", l.off+int64(start), err)
	}
	return s, nil
}

// key reads an object key and the colon after it. Keys are interned: a file
// repeats the same few keys millions of times.
func (l *lexer) key() (string, error) {
	if l.peek() != '"' {
		return "", l.unexpected("a key")
	}
	i := l.pos + 1
	for {
		if i >= l.end {
			shift := l.pos
			ok := l.fill()
			i -= shift - l.pos
			if !ok {
				return "", l.errorf("unterminated key")
			}
			continue
		}
		c := l.buf[i]
		if c == '"' || c == '\\' || c < 0x20 {
			break
		}
		i++
	}
	if l.buf[i] != '"' {
		// Rare: an escaped key. Decode it properly.
		s, err := l.str()
		if err != nil {
			return "", err
		}
		if err := l.expect(':'); err != nil {
			return "", err
		}
		return s, nil
	}
	k := l.buf[l.pos+1 : i]
	l.pos = i + 1
	s, ok := l.keys[string(k)]
	if !ok {
		if !utf8.Valid(k) {
			return "", l.errorf("invalid UTF-8 in key")
		}
		s = string(k)
		if l.keys == nil {
			l.keys = map[string]string{}
		}
		if len(l.keys) < 64 {
			l.keys[s] = s
		}
	}
	if err := l.expect(':'); err != nil {
		return "", err
	}
	return s, nil
}

func isNumByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// number reads a JSON number.
func (l *lexer) number() (float64, error) {
	c := l.peek()
	if c != '-' && (c < '0' || c > '9') {
		return 0, l.unexpected("a number")
	}
	i := l.pos
	for {
		if i >= l.end {
			shift := l.pos
			ok := l.fill()
			i -= shift - l.pos
			if !ok {
				break
			}
			continue
		}
		if !isNumByte(l.buf[i]) {
			break
		}
		i++
	}
	tok := l.buf[l.pos:i]
	if !validNumber(tok) {
		return 0, l.errorf("bad number %q", tok)
	}
	l.pos = i
	// Fast path: small integers, the ids and many coordinates.
	if len(tok) <= 15 {
		neg := tok[0] == '-'
		d := tok
		if neg {
			d = d[1:]
		}
		v, ok := int64(0), true
		for _, b := range d {
			if b < '0' || b > '9' {
				ok = false
				break
			}
			v = v*10 + int64(b-'0')
		}
		if ok {
			if neg {
				return -float64(v), nil
			}
			return float64(v), nil
		}
	}
	// The token does not outlive the call: ParseFloat's error is replaced.
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(tok), len(tok)), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, fmt.Errorf("byte %d: number %s out of range", l.offset()-int64(len(tok)), string(tok))
	}
	return f, nil
}

// validNumber reports whether b is a number in JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return false
	}
	if b[i] == '0' {
		i++
	} else if b[i] >= '1' && b[i] <= '9' {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	} else {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	return i == len(b)
}

// literal consumes one of true, false, null.
func (l *lexer) literal() error {
	for _, w := range [][]byte{[]byte("true"), []byte("false"), []byte("null")} {
		if l.peek() == w[0] {
			if !l.ensure(len(w)) || !bytes.Equal(l.buf[l.pos:l.pos+len(w)], w) {
				return l.errorf("bad literal")
			}
			l.pos += len(w)
			return nil
		}
	}
	return l.unexpected("a value")
}

// isNull consumes a null literal if one comes next.
func (l *lexer) isNull() (bool, error) {
	if l.peek() != 'n' {
		return false, nil
	}
	return true, l.literal()
}

// skip reads and discards any JSON value.
func (l *lexer) skip(depth int) error {
	if depth > maxDepth {
		return l.errorf("nesting deeper than %d", maxDepth)
	}
	switch c := l.peek(); {
	case c == '{':
		empty, err := l.begin('{', '}')
		if err != nil || empty {
			return err
		}
		for {
			if _, err := l.key(); err != nil {
				return err
			}
			if err := l.skip(depth + 1); err != nil {
				return err
			}
			more, err := l.more('}')
			if err != nil || !more {
				return err
			}
		}
	case c == '[':
		empty, err := l.begin('[', ']')
		if err != nil || empty {
			return err
		}
		for {
			if err := l.skip(depth + 1); err != nil {
				return err
			}
			more, err := l.more(']')
			if err != nil || !more {
				return err
			}
		}
	case c == '"':
		_, err := l.str()
		return err
	case c == '-' || c >= '0' && c <= '9':
		_, err := l.number()
		return err
	default:
		return l.literal()
	}
}

// capture reads any JSON value and returns its bytes.
func (l *lexer) capture() (json.RawMessage, error) {
	l.peek()
	l.rec = l.rec[:0]
	l.recStart = l.pos
	err := l.skip(0)
	if err != nil {
		l.recStart = -1
		return nil, err
	}
	out := append(append([]byte(nil), l.rec...), l.buf[l.recStart:l.pos]...)
	l.recStart = -1
	return out, nil
}

// finish checks that only white space remains.
func (l *lexer) finish() error {
	if c := l.peek(); c != 0 {
		return l.errorf("unexpected %q after the top-level value", c)
	}
	return l.rerr
}

// integer reads a number that must be an integer exactly representable in a
// float64, as COCO ids are.
func (l *lexer) integer() (int64, error) {
	f, err := l.number()
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("%v is not an integer", f)
	}
	return int64(f), nil
}
