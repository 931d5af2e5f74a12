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
		"given twice":      {`{"path":"a.wav","modality":"voice","protocol":"q",` + base + `}`, "protocol"},
		"twice in device":  {`{"path":"a.wav","modality":"voice","device":{"model":"A","model":"B","firmware":"1"},` + strings.Replace(base, `"device":{"model":"H5","firmware":"2.1"},`, "", 1) + `}`, "device/model"},
		"NUL byte":         {`{"path":"a.wav","modality":"voice","id":"s\u00001",` + base + `}`, "id"},
		"newline":          {`{"path":"a\nb.wav","modality":"voice",` + base + `}`, "path"},
		"bidi override":    {`{"path":"a.wav","modality":"voice","id":"s-\u202ecba",` + base + `}`, "id"},
		"zero width space": {`{"path":"a.wav","modality":"voice",` + strings.Replace(base, `"c"`, `"c\u200b"`, 1) + `}`, "collectorId"},
		"hidden in device": {`{"path":"a.wav","modality":"voice",` + strings.Replace(base, `"H5"`, `"H5\t"`, 1) + `}`, "device/model"},
	}
	for rate, want := range map[string]string{"0": "is 0 but must be greater than 0", "-16000": "is -16000 but must be greater than 0"} {
		row := `{"path":"a.wav","modality":"voice",` + strings.Replace(base, `"samplingRate":16000`, `"samplingRate":`+rate, 1) + `}`
		if _, err := ValidateJSON([]byte(row)); err == nil || !strings.Contains(err.Error(), "field samplingRate: "+want) {
			t.Errorf("samplingRate %s: %v", rate, err)
		}
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

func TestDifferences(t *testing.T) {
	a := Record{Modality: "voice", Format: "wav", SamplingRate: 16000, Device: Device{Model: "H5", Firmware: "2.1"}, Protocol: "vowel"}
	b := a
	if d := Differences(a, b); len(d) != 0 {
		t.Fatalf("equal records differ in %v", d)
	}
	b.Protocol = "reading"
	b.Device.Firmware = "2.2"
	b.Channels = 1
	got := strings.Join(Differences(a, b), ",")
	if got != "channels,device.firmware,protocol" {
		t.Fatalf("differences %s", got)
	}
}
