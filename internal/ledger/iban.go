package ledger

import (
	"fmt"
	"regexp"
	"strings"
)

// ibanLengths is the length of an IBAN in each country of the SWIFT IBAN
// Registry (ISO 13616), as of 2024. Territories that use another
// country's format, such as French overseas departments, use its code.
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
	"BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
	"DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
	"GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
	"IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
	"LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
	"MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
	"PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
	"SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
	"TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}

var ibanShape = regexp.MustCompile(`^[A-Z]{2}[0-9]{2}[A-Z0-9]+$`)

// NormalizeIBAN returns an IBAN in its electronic form, capitals without
// spaces, after checking its country, length and ISO 7064 MOD 97-10 check
// digits. The error names what is wrong but never repeats the IBAN.
func NormalizeIBAN(s string) (string, error) {
	iban := strings.ToUpper(strings.Join(strings.Fields(s), ""))
	if !ibanShape.MatchString(iban) {
		return "", fmt.Errorf("invalid IBAN: it must start with a two-letter country code and two check digits, followed by letters and digits only")
	}
	want, ok := ibanLengths[iban[:2]]
	if !ok {
		return "", fmt.Errorf("invalid IBAN: country code %s is not in the IBAN registry", iban[:2])
	}
	if len(iban) != want {
		return "", fmt.Errorf("invalid IBAN: a %s IBAN has %d characters, this one has %d", iban[:2], want, len(iban))
	}
	if ibanMod97(iban) != 1 {
		return "", fmt.Errorf("invalid IBAN: the check digits do not match; check for a mistyped character")
	}
	return iban, nil
}

// ibanMod97 returns the IBAN, rearranged with its first four characters at
// the end and letters as 10 to 35, modulo 97. A valid IBAN gives 1.
func ibanMod97(iban string) int {
	rearranged := iban[4:] + iban[:4]
	rem := 0
	for _, c := range rearranged {
		if c >= 'A' {
			v := int(c-'A') + 10
			rem = (rem*100 + v) % 97
		} else {
			rem = (rem*10 + int(c-'0')) % 97
		}
	}
	return rem
}

var bicShape = regexp.MustCompile(`^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$`)

// NormalizeBIC returns a BIC (ISO 9362) in capitals after checking its
// form: four letters of the bank, two of the country, two of the location,
// and an optional three of the branch.
func NormalizeBIC(s string) (string, error) {
	bic := strings.ToUpper(strings.TrimSpace(s))
	if !bicShape.MatchString(bic) {
		return "", fmt.Errorf("invalid BIC %q: write 8 or 11 letters and digits, such as DEUTDEFF or DEUTDEFF500", s)
	}
	return bic, nil
}

// MaskIBAN returns an IBAN with all but its country code and last four
// characters hidden, for listings.
func MaskIBAN(iban string) string {
	if len(iban) <= 8 {
		return strings.Repeat("*", len(iban))
	}
	return iban[:2] + strings.Repeat("*", len(iban)-6) + iban[len(iban)-4:]
}
