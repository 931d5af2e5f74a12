package plaintext

import (
	"strings"
	"testing"
)

func TestLineRejectsHiddenCharacters(t *testing.T) {
	for _, bad := range []string{"a\nb", "ev\u202eil", "zero\u200bwidth", "nul\x00", "tab\there", "x\xffy"} {
		err := Line("licensee", bad)
		if err == nil {
			t.Errorf("%q accepted", bad)
			continue
		}
		if !strings.Contains(err.Error(), "invalid licensee") {
			t.Errorf("%q: error %q does not name the field", bad, err)
		}
	}
	for _, good := range []string{"acme labs", "Zürich Universitätsspital", "مختبر", ""} {
		if err := Line("licensee", good); err != nil {
			t.Errorf("%q rejected: %v", good, err)
		}
	}
}

func TestParagraphsAllowLineBreaks(t *testing.T) {
	if err := Paragraphs("text", "First line.\r\nSecond\tline.\n"); err != nil {
		t.Errorf("line breaks rejected: %v", err)
	}
	if err := Paragraphs("text", "Sign\u202e here"); err == nil {
		t.Error("bidirectional override accepted")
	}
}
