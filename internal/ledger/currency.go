package ledger

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Currency is an ISO 4217 currency and the number of decimals of its minor
// unit.
type Currency struct {
	Code      string
	MinorUnit int
}

// minorUnits lists the codes of ISO 4217 List One (the list SIX Group
// publishes for the ISO 4217 maintenance agency) that were active in 2025,
// with the decimals of their minor unit. Precious metals, special drawing
// rights, test and "no currency" codes (XAU, XDR, XTS, XXX and the like)
// have no minor unit and cannot be paid, so they are not listed.
var minorUnits = map[string]int{
	"AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2, "AZN": 2,
	"BAM": 2, "BBD": 2, "BDT": 2, "BGN": 2, "BHD": 3, "BIF": 0, "BMD": 2, "BND": 2, "BOB": 2,
	"BOV": 2, "BRL": 2, "BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2, "BZD": 2,
	"CAD": 2, "CDF": 2, "CHE": 2, "CHF": 2, "CHW": 2, "CLF": 4, "CLP": 0, "CNY": 2, "COP": 2,
	"COU": 2, "CRC": 2, "CUP": 2, "CVE": 2, "CZK": 2,
	"DJF": 0, "DKK": 2, "DOP": 2, "DZD": 2,
	"EGP": 2, "ERN": 2, "ETB": 2, "EUR": 2,
	"FJD": 2, "FKP": 2,
	"GBP": 2, "GEL": 2, "GHS": 2, "GIP": 2, "GMD": 2, "GNF": 0, "GTQ": 2, "GYD": 2,
	"HKD": 2, "HNL": 2, "HTG": 2, "HUF": 2,
	"IDR": 2, "ILS": 2, "INR": 2, "IQD": 3, "IRR": 2, "ISK": 0,
	"JMD": 2, "JOD": 3, "JPY": 0,
	"KES": 2, "KGS": 2, "KHR": 2, "KMF": 0, "KPW": 2, "KRW": 0, "KWD": 3, "KYD": 2, "KZT": 2,
	"LAK": 2, "LBP": 2, "LKR": 2, "LRD": 2, "LSL": 2, "LYD": 3,
	"MAD": 2, "MDL": 2, "MGA": 2, "MKD": 2, "MMK": 2, "MNT": 2, "MOP": 2, "MRU": 2, "MUR": 2,
	"MVR": 2, "MWK": 2, "MXN": 2, "MXV": 2, "MYR": 2, "MZN": 2,
	"NAD": 2, "NGN": 2, "NIO": 2, "NOK": 2, "NPR": 2, "NZD": 2,
	"OMR": 3,
	"PAB": 2, "PEN": 2, "PGK": 2, "PHP": 2, "PKR": 2, "PLN": 2, "PYG": 0,
	"QAR": 2,
	"RON": 2, "RSD": 2, "RUB": 2, "RWF": 0,
	"SAR": 2, "SBD": 2, "SCR": 2, "SDG": 2, "SEK": 2, "SGD": 2, "SHP": 2, "SLE": 2, "SOS": 2,
	"SRD": 2, "SSP": 2, "STN": 2, "SVC": 2, "SYP": 2, "SZL": 2,
	"THB": 2, "TJS": 2, "TMT": 2, "TND": 3, "TOP": 2, "TRY": 2, "TTD": 2, "TWD": 2, "TZS": 2,
	"UAH": 2, "UGX": 0, "USD": 2, "USN": 2, "UYI": 0, "UYU": 2, "UYW": 4, "UZS": 2,
	"VED": 2, "VES": 2, "VND": 0, "VUV": 0,
	"WST": 2,
	"XAF": 0, "XCD": 2, "XCG": 2, "XOF": 0, "XPF": 0,
	"YER": 2,
	"ZAR": 2, "ZMW": 2, "ZWG": 2,
}

// LookupCurrency returns the currency with the given ISO 4217 code, which
// must be written in capitals.
func LookupCurrency(code string) (Currency, error) {
	digits, ok := minorUnits[code]
	if !ok {
		return Currency{}, fmt.Errorf("unknown currency %q: use an ISO 4217 code such as EUR, GBP or USD", code)
	}
	return Currency{Code: code, MinorUnit: digits}, nil
}

// FormatDecimal returns an amount of minor units as a decimal in the
// currency's major unit, such as 1234 EUR as 12.34 and 1234 JPY as 1234.
// An unknown currency is formatted with two decimals.
func FormatDecimal(minor int64, code string) string {
	digits, ok := minorUnits[code]
	if !ok {
		digits = 2
	}
	neg := minor < 0
	// The magnitude of math.MinInt64 does not fit an int64, so work unsigned.
	mag := uint64(minor)
	if neg {
		mag = -mag
	}
	s := strconv.FormatUint(mag, 10)
	if digits > 0 {
		if len(s) <= digits {
			s = strings.Repeat("0", digits-len(s)+1) + s
		}
		s = s[:len(s)-digits] + "." + s[len(s)-digits:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// FormatAmount returns an amount with its currency, such as "EUR 12.34".
func FormatAmount(minor int64, code string) string {
	return code + " " + FormatDecimal(minor, code)
}

// ParseMinor parses a non-negative amount of minor units written as
// decimal digits, as the command line takes amounts.
func ParseMinor(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("invalid amount %q: write a whole number of minor units, such as 1250 for EUR 12.50", s)
	}
	return n, nil
}

// addAmounts returns a+b, or an error when the sum overflows int64.
func addAmounts(a, b int64) (int64, error) {
	if (b > 0 && a > math.MaxInt64-b) || (b < 0 && a < math.MinInt64-b) {
		return 0, fmt.Errorf("amount overflow: %d + %d does not fit in 64 bits", a, b)
	}
	return a + b, nil
}
