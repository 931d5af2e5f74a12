package registry

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
)

func TestMinorsConsentThroughGuardian(t *testing.T) {
	ctx := context.Background()
	r, clk := newTestRegistry(t)
	if _, err := r.Register(ctx, &Batch{Samples: []SampleInput{voiceSample("K", wavBytes(16000, 2000, 1), 16000)}}); err != nil {
		t.Fatal(err)
	}
	guardian := GrantInput{Document: "v1", Tiers: []string{"research"}, Modalities: []string{"voice"},
		Guardian: true, Assent: consent.AssentRefused, MajorityMonth: "2031-01"}
	if _, err := r.Grant(ctx, "K", guardian); err != nil {
		t.Fatal(err)
	}

	own := GrantInput{Document: "v1", Tiers: []string{"research"}, Modalities: []string{"voice"}}
	if _, err := r.Grant(ctx, "K", own); err == nil || !strings.Contains(err.Error(), "is a minor until 2031-01") {
		t.Fatalf("the child's own grant before majority: %v", err)
	}
	deny := own
	deny.Deny = true
	if _, err := r.Grant(ctx, "K", deny); err != nil {
		t.Fatalf("the child's own refusal: %v", err)
	}

	past := guardian
	past.MajorityMonth = "2020-01"
	if _, err := r.Grant(ctx, "K", past); err == nil || !strings.Contains(err.Error(), "came of age") {
		t.Fatalf("a guardian's grant after majority: %v", err)
	}
	other := guardian
	other.MajorityMonth = "2032-05"
	if _, err := r.Grant(ctx, "K", other); err == nil || !strings.Contains(err.Error(), "contradicts 2031-01") {
		t.Fatalf("a contradictory majority month: %v", err)
	}

	// As an adult, the participant grants for themselves.
	clk.t = time.Date(2031, 2, 1, 0, 0, 0, 0, time.UTC)
	if _, err := r.Grant(ctx, "K", own); err != nil {
		t.Fatalf("the adult's own grant: %v", err)
	}
}
