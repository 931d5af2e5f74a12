package registry

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
)

// Free text that reaches the log, licences and datasheets may not hide
// characters. Each rejection names the field and logs nothing.
func TestFreeTextRejectsHiddenCharacters(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRegistry(t)
	if _, err := r.Register(ctx, &Batch{Samples: []SampleInput{voiceSample("A", wavBytes(16000, 4000, 1), 16000)}}); err != nil {
		t.Fatal(err)
	}
	grant, err := r.Grant(ctx, "A", GrantInput{Document: "v1", Tiers: []string{"research"}, Modalities: []string{"voice"}})
	if err != nil {
		t.Fatal(err)
	}
	titled := consent.DefaultDocument()
	titled.Version, titled.Revision, titled.Supersedes = "v1.1", consent.RevisionMinor, "v1"
	titled.Title = "Consent \u202eevil"
	before, err := r.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}

	for name, c := range map[string]struct {
		field string
		run   func() error
	}{
		"licensee with a newline": {"invalid licensee", func() error {
			_, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "research", Licensee: "a\nb", Out: filepath.Join(t.TempDir(), "out")})
			return err
		}},
		"witness with an override": {"invalid witness", func() error {
			_, err := r.Grant(ctx, "A", GrantInput{Document: "v1", Tiers: []string{"research"}, Modalities: []string{"voice"},
				Method: consent.MethodVerbalWitnessed, Witness: "bob\u202e"})
			return err
		}},
		"authority with a zero-width space": {"invalid authority", func() error {
			_, err := r.Invalidate(ctx, "A", grant.ID, "ethics\u200bboard", "signed without capacity")
			return err
		}},
		"document title with an override": {"invalid title", func() error {
			_, err := r.AddDocument(ctx, titled)
			return err
		}},
		"acknowledgement by a licensee with a newline": {"invalid licensee", func() error {
			_, err := r.Acknowledge(ctx, "n-none", "acme\n#999")
			return err
		}},
	} {
		err := c.run()
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: error %q does not name the field", name, err)
		}
	}

	after, err := r.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Size != before.Size {
		t.Errorf("log grew from %d to %d entries on rejected input", before.Size, after.Size)
	}
}

// An empty list, unlike a missing one, never withdraws everything.
func TestWithdrawEmptyListRejected(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRegistry(t)
	if _, err := r.Register(ctx, &Batch{Samples: []SampleInput{voiceSample("A", wavBytes(16000, 4000, 1), 16000)}}); err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]WithdrawInput{
		"tiers":      {Tiers: []string{}},
		"modalities": {Tiers: []string{"research"}, Modalities: []string{}},
	} {
		if _, err := r.Withdraw(ctx, "A", in); err == nil || !strings.Contains(err.Error(), "list of "+name+" to withdraw is empty") {
			t.Errorf("empty %s: %v", name, err)
		}
	}
	rec, err := r.Withdraw(ctx, "A", WithdrawInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Tiers) != len(consent.Tiers) {
		t.Errorf("withdrawal without lists covers tiers %v, want all", rec.Tiers)
	}
}

// Names that would print badly, split a series or break references are
// rejected before anything is logged.
func TestNamesAndLimitsRejected(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRegistry(t)
	if _, err := r.Register(ctx, &Batch{Samples: []SampleInput{voiceSample("A", wavBytes(16000, 4000, 1), 16000)}}); err != nil {
		t.Fatal(err)
	}
	before := logSize(t, r)
	for name, c := range map[string]struct {
		want string
		run  func() error
	}{
		"licensee with a leading space": {"remove the spaces", func() error {
			_, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "research", Licensee: " acme", Out: filepath.Join(t.TempDir(), "out")})
			return err
		}},
		"licensee with an invalid UTF-8 byte": {"not valid UTF-8", func() error {
			_, err := r.IssueToken(ctx, TokenSpec{Role: RoleLicensee, Licensee: "x\xffy"})
			return err
		}},
		"licensee of 201 characters": {"at most 200", func() error {
			_, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "research", Licensee: strings.Repeat("a", 201), Out: filepath.Join(t.TempDir(), "out")})
			return err
		}},
		"steward token for ../x": {"invalid namespace", func() error {
			_, err := r.IssueToken(ctx, TokenSpec{Role: RoleSteward, Org: "../x"})
			return err
		}},
		"sample in namespace a:b": {"invalid namespace", func() error {
			_, err := r.Register(ctx, &Batch{Samples: []SampleInput{withNamespace(voiceSample("B", wavBytes(16000, 4000, 2), 16000), "a:b")}})
			return err
		}},
		"sign-in link for 100000h": {"invalid link expiry", func() error {
			_, err := r.IssueSignInLink(ctx, "A", "", 100000*time.Hour)
			return err
		}},
		"payee name with an override": {"invalid account holder name", func() error {
			_, err := r.SetPayee(ctx, "A", PayeeInput{Name: "Bob\u202e", IBAN: "GB29 NWBK 6016 1331 9268 19"})
			return err
		}},
	} {
		err := c.run()
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not say %q", name, err, c.want)
		}
	}
	if after := logSize(t, r); after != before {
		t.Errorf("rejected names grew the log from %d to %d entries", before, after)
	}
}

func TestBatchErrorTextIsBounded(t *testing.T) {
	var problems []Problem
	for i := range 250 {
		problems = append(problems, Problem{Where: fmt.Sprintf("m.csv line %d", i+2), Err: errors.New("collectorId " + strings.Repeat("x", 5000))})
	}
	text := (&BatchError{Problems: problems}).Error()
	if len(text) > 150_000 {
		t.Errorf("error text of %d bytes", len(text))
	}
	if !strings.HasPrefix(text, "250 problem(s)") {
		t.Errorf("error text does not count every problem: %.80s", text)
	}
	if !strings.Contains(text, "and 150 more problem(s)") {
		t.Error("error text does not say how many problems it leaves out")
	}
	if !strings.Contains(text, "more bytes)") {
		t.Error("a long problem is not marked as shortened")
	}
}
