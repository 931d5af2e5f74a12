package strictjson

import "testing"

func TestDuplicateName(t *testing.T) {
	cases := map[string]string{
		`{"a":1,"b":2}`:                   "",
		`{"a":1,"a":2}`:                   "a",
		`{"a":{"b":1,"c":{"d":1,"d":2}}}`: "a/c/d",
		`[{"x":1},{"y":1,"y":2}]`:         "1/y",
		`{"a":[1,{"b":1}],"c":{"b":1}}`:   "",
		`{"tiers":["research"],"modalities":["voice"],"tiers":["commercial"]}`: "tiers",
		`{"a":1,`:            "",
		`"plain string"`:     "",
		`{"a":1,"a":2} junk`: "a",
		`{"tiers":["research"],"Tiers":["commercial"]}`: "Tiers",
		`{"tiers":["research"],"tierſ":["commercial"]}`: "tierſ",
		`{"kind":1,"Kind":2}`:                           "Kind",
		`{"purpose":"research","PURPOSE":"commercial"}`: "PURPOSE",
	}
	for in, want := range cases {
		got, found := DuplicateName([]byte(in))
		if got != want || found != (want != "") {
			t.Errorf("DuplicateName(%s) = %q, %v; want %q", in, got, found, want)
		}
	}
}
