package provenance

import (
	"strings"
	"testing"
)

func TestValidateExampleRow(t *testing.T) {
	row := `{"path":"walks/w1.wav","participant":"P017","modality":"voice","format":"wav","samplingRate":16000,"collectorId":"site-a/slp-2","device":{"model":"H5","firmware":"2.1"},"capturedAt":"2025-05-01T10:00:00Z","protocol":"sustained-vowel","labelSchemaVersion":"1","consentVersion":"v1"}`
	d, err := ValidateJSON([]byte(row))
	if err != nil {
		t.Fatal(err)
	}
	if d.SamplingRate != 16000 || d.Device.Model != "H5" || d.CapturedAt == nil {
		t.Fatalf("decoded %+v", d)
	}
}

func TestValidateRejects(t *testing.T) {
	base := `"participant":"P017","format":"wav","samplingRate":16000,"collectorId":"c","device":{"model":"H5","firmware":"2.1"},"capturedAt":null,"protocol":"p","labelSchemaVersion":"1","consentVersion":"v1"`
	cases := map[string]struct{ row, field string }{
		"unknown modality": {`{"path":"a.wav","modality":"smell",` + base + `}`, "modality"},
		"parent path":      {`{"path":"../a.wav","modality":"voice",` + base + `}`, "path"},
		"inner parent":     {`{"path":"x/../../a.wav","modality":"voice",` + base + `}`, "path"},
		"absolute path":    {`{"path":"/etc/passwd","modality":"voice",` + base + `}`, "path"},
		"unknown field":    {`{"path":"a.wav","modality":"voice","colour":"red",` + base + `}`, ""},
		"missing path":     {`{"modality":"voice",` + base + `}`, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ValidateJSON([]byte(c.row))
			if err == nil {
				t.Fatal("accepted")
			}
			if c.field != "" && !strings.Contains(err.Error(), "field "+c.field) {
				t.Fatalf("error %q does not name field %s", err, c.field)
			}
			t.Log(err)
		})
	}
}
