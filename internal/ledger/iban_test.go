package ledger

import (
	"strings"
	"testing"
)

// The valid IBANs are the examples of the SWIFT IBAN Registry for their
// countries, which also appear in banks' documentation.
func TestNormalizeIBANValid(t *testing.T) {
	for in, want := range map[string]string{
		"DE89 3704 0044 0532 0130 00":       "DE89370400440532013000",
		"de89370400440532013000":            "DE89370400440532013000",
		"GB29 NWBK 6016 1331 9268 19":       "GB29NWBK60161331926819",
		"FR14 2004 1010 0505 0001 3M02 606": "FR1420041010050500013M02606",
		"NO93 8601 1117 947":                "NO9386011117947",
		"BE68 5390 0754 7034":               "BE68539007547034",
	} {
		got, err := NormalizeIBAN(in)
		if err != nil {
			t.Errorf("NormalizeIBAN(%q): %v", in, err)
			continue
		}
		if got != want {
			t.Errorf("NormalizeIBAN(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizeIBANInvalid(t *testing.T) {
	for in, want := range map[string]string{
		"DE88 3704 0044 0532 0130 00": "check digits",
		"DE89 3704 0044 0532 0130 0":  "22 characters",
		"ZZ89 3704 0044 0532 0130 00": "country code ZZ",
		"DE89-3704-0044-0532-0130-00": "letters and digits only",
		"":                            "country code",
		"DE89 3704 0044 0532 0130 01": "check digits",
	} {
		_, err := NormalizeIBAN(in)
		if err == nil {
			t.Errorf("NormalizeIBAN(%q) succeeded", in)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("NormalizeIBAN(%q): %v, want it to mention %q", in, err, want)
		}
		if len(in) > 10 && strings.Contains(err.Error(), strings.ReplaceAll(in, " ", "")) {
			t.Errorf("error repeats the IBAN: %v", err)
		}
	}
}

func TestNormalizeBIC(t *testing.T) {
	for _, ok := range []string{"DEUTDEFF", "deutdeff500", "NWBKGB2L"} {
		if _, err := NormalizeBIC(ok); err != nil {
			t.Errorf("NormalizeBIC(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"DEUTDE", "DEUT1EFF", "DEUTDEFF5", ""} {
		if _, err := NormalizeBIC(bad); err == nil {
			t.Errorf("NormalizeBIC(%q) succeeded", bad)
		}
	}
}

func TestMaskIBAN(t *testing.T) {
	if got := MaskIBAN("DE89370400440532013000"); got != "DE****************3000" {
		t.Errorf("MaskIBAN = %q", got)
	}
}
