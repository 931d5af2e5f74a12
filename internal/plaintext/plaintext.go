// Package plaintext rejects characters that hide or disguise free text
// before it is logged and printed in datasheets, licences and pages.
// Control characters such as newlines split the lines a value is printed
// on, and format characters such as the bidirectional override U+202E or
// the zero-width space U+200B make one name look like another.
package plaintext

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Line checks a one-line value, such as a name or a title, and returns an
// error naming field when it contains a control or format character.
func Line(field, value string) error {
	return check(field, value, Hidden)
}

// Paragraphs checks a value that may span lines, such as a form's text:
// newlines, carriage returns and tabs are allowed, other control and format
// characters are not.
func Paragraphs(field, value string) error {
	return check(field, value, func(r rune) bool {
		return r != '\n' && r != '\r' && r != '\t' && Hidden(r)
	})
}

func check(field, value string, reject func(rune) bool) error {
	// Invalid UTF-8 would be stored as it came but logged as U+FFFD, so
	// the table and the log would disagree.
	if !utf8.ValidString(value) {
		return fmt.Errorf("invalid %s %q: it is not valid UTF-8, so write it as UTF-8 text", field, value)
	}
	i := strings.IndexFunc(value, reject)
	if i < 0 {
		return nil
	}
	r := []rune(value[i:])[0]
	return fmt.Errorf("invalid %s %q: contains the invisible character %U at byte %d, so remove control, bidirectional and zero-width characters",
		field, value, r, i)
}

// Hidden reports whether r is a control character (Unicode category Cc,
// such as NUL, tab and newline) or a format character (Cf, such as the
// bidirectional override U+202E and the zero-width space U+200B).
func Hidden(r rune) bool {
	return unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r)
}
