package fhirconsent

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Interval is a half-open span of time [Start, End). A zero Start has no
// lower bound and a zero End no upper bound.
type Interval struct {
	Start time.Time
	End   time.Time
}

// Contains reports whether t is in the interval.
func (iv Interval) Contains(t time.Time) bool {
	if !iv.Start.IsZero() && t.Before(iv.Start) {
		return false
	}
	return iv.End.IsZero() || t.Before(iv.End)
}

// overlaps reports whether two intervals share an instant.
func (iv Interval) overlaps(other Interval) bool {
	if !iv.End.IsZero() && !other.Start.IsZero() && !other.Start.Before(iv.End) {
		return false
	}
	if !other.End.IsZero() && !iv.Start.IsZero() && !iv.Start.Before(other.End) {
		return false
	}
	return true
}

// FHIR dateTime values carry a precision, and a Period's end "includes any
// matching date/time" (R5 Period.end): an end of 2024-12-31 covers that whole
// day. Steward's periods end exclusively, so an exclusive end U is written as
// the coarsest value whose whole span ends exactly at U. That is the
// previous day for a midnight and the previous second for a whole second.
// Otherwise it is the previous unit of the finest fraction digit U needs.
// Reading reverses this exactly. Values without a time of day are read in
// UTC, as steward consent grant reads dates.

// dateTimePattern matches a FHIR dateTime: a year, month, day, or a time of
// day with seconds, optional fraction and a UTC offset.
var dateTimePattern = regexp.MustCompile(`^(\d{4})(-(\d{2})(-(\d{2})(T\d{2}:\d{2}:\d{2}(\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2}))?)?)?$`)

// formatStart writes an inclusive start.
func formatStart(t time.Time) string {
	t = t.UTC()
	if t.Equal(midnight(t)) {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339Nano)
}

// formatEnd writes an exclusive end u as an inclusive FHIR end.
func formatEnd(u time.Time) string {
	u = u.UTC()
	if u.Equal(midnight(u)) {
		return u.AddDate(0, 0, -1).Format(time.DateOnly)
	}
	if u.Nanosecond() == 0 {
		return u.Add(-time.Second).Format("2006-01-02T15:04:05Z07:00")
	}
	digits := 9
	for n := u.Nanosecond(); n%10 == 0; n /= 10 {
		digits--
	}
	unit := time.Duration(1)
	for range 9 - digits {
		unit *= 10
	}
	layout := "2006-01-02T15:04:05." + strings.Repeat("0", digits) + "Z07:00"
	return u.Add(-unit).Format(layout)
}

// formatInstant writes an instant at full precision, as Provenance.recorded
// needs.
func formatInstant(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05Z07:00")
	}
	return t.Format(time.RFC3339Nano)
}

func midnight(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// parseDateTime reads a FHIR dateTime (or date) and returns the start of the
// span it names and the instant just after its end.
func parseDateTime(s string) (start, after time.Time, err error) {
	m := dateTimePattern.FindStringSubmatch(s)
	if m == nil {
		return start, after, fmt.Errorf("invalid FHIR dateTime %q: use a date (2024-12-31) or a date and time with seconds and a UTC offset (2024-12-31T10:00:00Z)", s)
	}
	switch {
	case m[2] == "":
		start, err = time.Parse("2006", s)
		return start, start.AddDate(1, 0, 0), err
	case m[4] == "":
		start, err = time.Parse("2006-01", s)
		return start, start.AddDate(0, 1, 0), err
	case m[6] == "":
		start, err = time.Parse(time.DateOnly, s)
		if err != nil {
			return start, after, fmt.Errorf("invalid FHIR date %q: %w", s, err)
		}
		return start, start.AddDate(0, 0, 1), nil
	}
	start, err = time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return start, after, fmt.Errorf("invalid FHIR dateTime %q: %w", s, err)
	}
	unit := time.Second
	for range len(m[8]) {
		unit /= 10
	}
	start = start.UTC()
	return start, start.Add(unit), nil
}

// parsePeriod reads a FHIR Period into a half-open interval.
func parsePeriod(p *period) (Interval, error) {
	var iv Interval
	if p == nil {
		return iv, nil
	}
	if p.Start != "" {
		start, _, err := parseDateTime(p.Start)
		if err != nil {
			return iv, err
		}
		iv.Start = start
	}
	if p.End != "" {
		_, after, err := parseDateTime(p.End)
		if err != nil {
			return iv, err
		}
		iv.End = after
	}
	return iv, nil
}

// toPeriod writes a half-open interval as a FHIR Period.
func toPeriod(iv Interval) *period {
	p := &period{}
	if !iv.Start.IsZero() {
		p.Start = formatStart(iv.Start)
	}
	if !iv.End.IsZero() {
		p.End = formatEnd(iv.End)
	}
	if p.Start == "" && p.End == "" {
		return nil
	}
	return p
}
