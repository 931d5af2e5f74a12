package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/ident"
	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/storage"
)

// revenuePrefix starts revenue ids.
const revenuePrefix = "v-"

// RevenueRequest is licence revenue received for a release.
type RevenueRequest struct {
	Release string
	// Amount is in minor units of the currency of the release's policy.
	Amount int64
	// Reference is the payment's reference, such as the invoice number.
	// It makes the request idempotent: the same release and reference
	// record revenue once.
	Reference string
	// Payer names the licensee who paid; empty means the release's
	// licensee.
	Payer string
}

// RevenueResult is recorded revenue and the transfers that split it.
type RevenueResult struct {
	Revenue storage.Revenue
	// Royalties are the contributors' parts, in order of participant.
	Royalties []ledger.Transfer
	// Platform is the registry's share; its ID is empty when it is zero.
	Platform ledger.Transfer
	// Repeated is true when the reference had recorded this revenue
	// before; nothing new was logged.
	Repeated bool
	// Unclaimed are the transfers that moved the royalties of erased
	// contributors on to the unclaimed account.
	Unclaimed []ledger.Transfer
}

// maxReference is the longest payment reference, in bytes.
const maxReference = 100

// RecordRevenue records licence revenue for a release and splits it in one
// transaction. The royalty pool, the policy's royalty share of the amount
// rounded down to the minor unit, is split among the release's contributors
// in proportion to their samples by the largest-remainder method
// (ledger.Split). The rest goes to the platform account. The policy is the
// one whose terms the release's licence states.
//
// Recording the same reference for the release again returns the first
// record if the amount and payer agree and fails with ledger.ErrKeyConflict
// if not.
func (r *Registry) RecordRevenue(ctx context.Context, req RevenueRequest) (*RevenueResult, error) {
	if req.Amount <= 0 || req.Amount > ledger.MaxAmount {
		return nil, fmt.Errorf("invalid amount %d: revenue must be a positive number of minor units, at most %d", req.Amount, int64(ledger.MaxAmount))
	}
	if req.Reference == "" || len(req.Reference) > maxReference || strings.ContainsFunc(req.Reference, unicode.IsControl) {
		return nil, fmt.Errorf("invalid payment reference %q: pass --reference with the invoice or payment number (1 to %d bytes, one line)", req.Reference, maxReference)
	}
	res := &RevenueResult{}
	err := r.update(ctx, func(ctx context.Context, w *writer) error {
		*res = RevenueResult{}
		return r.recordRevenue(ctx, w, req, res)
	})
	if err != nil {
		return nil, err
	}
	if !res.Repeated {
		r.log.Info("revenue recorded", "revenue", res.Revenue.ID, "release", res.Revenue.Release, "amount", res.Revenue.Amount,
			"royalty_pool", res.Revenue.RoyaltyPool, "contributors", len(res.Royalties))
	}
	return res, nil
}

func (r *Registry) recordRevenue(ctx context.Context, w *writer, req RevenueRequest, res *RevenueResult) error {
	rel, err := w.tx.Release(ctx, req.Release)
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("unknown release %q: see steward release list: %w", req.Release, err)
	} else if err != nil {
		return err
	}
	ref, err := w.tx.ReleasePolicy(ctx, rel.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("release %s was built before any compensation policy, so its licence states no royalty share: %w", rel.ID, err)
	} else if err != nil {
		return err
	}
	pol, err := policyByRef(ctx, w.tx, ref)
	if err != nil {
		return err
	}
	payer := req.Payer
	if payer == "" {
		payer = rel.Licensee
	}
	if payer == "" {
		return fmt.Errorf("release %s has no licensee: pass --payer with the name of the licensee who paid", rel.ID)
	}
	payerAccount := ledger.LicenseeAccount(payer)
	if _, _, err := ledger.ParseAccount(payerAccount); err != nil {
		return err
	}

	// The reference is the idempotency key of the whole record.
	if prev, err := w.tx.RevenueByReference(ctx, rel.ID, req.Reference); err == nil {
		if prev.Amount != req.Amount || prev.Payer != payerAccount {
			return fmt.Errorf("%w: reference %q recorded %s from %s for release %s as revenue %s, not %s from %s: use a new reference",
				ledger.ErrKeyConflict, req.Reference, ledger.FormatAmount(prev.Amount, prev.Currency), prev.Payer, rel.ID, prev.ID,
				ledger.FormatAmount(req.Amount, prev.Currency), payerAccount)
		}
		return r.loadRevenue(ctx, w.tx, prev, res)
	} else if !errors.Is(err, storage.ErrNotFound) {
		return err
	}

	contributors, err := w.tx.ReleaseContributors(ctx, rel.ID)
	if err != nil {
		return err
	}
	if len(contributors) == 0 {
		return fmt.Errorf("release %s has no samples, so no one shares its revenue", rel.ID)
	}
	shares := make([]ledger.Share, len(contributors))
	for i, c := range contributors {
		shares[i] = ledger.Share{Key: ledger.ParticipantAccount(c.Participant), Weight: c.Samples}
	}
	p := pol.Policy
	pool := p.RoyaltyPool(req.Amount)
	parts, err := ledger.Split(pool, shares)
	if err != nil {
		return err
	}

	rev := storage.Revenue{ID: ident.New(revenuePrefix), Release: rel.ID, Reference: req.Reference, Payer: payerAccount,
		Amount: req.Amount, Currency: p.Currency, Policy: p.Ref(), RoyaltyPool: pool, At: r.now().UTC()}
	rev.EventIndex, err = w.append(event.TypeRevenueRecorded, event.RevenueRecorded{
		Revenue: rev.ID, Release: rev.Release, Reference: rev.Reference, Payer: rev.Payer, Amount: rev.Amount, Currency: rev.Currency,
		Policy: rev.Policy, RoyaltyPPM: p.RoyaltyPPM(), RoyaltyPool: pool, Contributors: len(contributors),
	})
	if err != nil {
		return err
	}
	if err := w.tx.InsertRevenue(ctx, rev); err != nil {
		return err
	}

	// Zero parts are not transfers: a share below one minor unit is nothing.
	base := ledger.Transfer{Phase: ledger.PhasePosted, Debit: payerAccount, Currency: p.Currency, Release: rel.ID, Revenue: rev.ID, Policy: p.Ref()}
	var requests []ledger.Transfer
	for i, part := range parts {
		if part == 0 {
			continue
		}
		t := base
		t.Key, t.Credit, t.Amount, t.Trigger = "royalty:"+rev.ID+":"+contributors[i].Participant, shares[i].Key, part, ledger.TriggerRoyalty
		requests = append(requests, t)
	}
	if rest := req.Amount - pool; rest > 0 {
		t := base
		t.Key, t.Credit, t.Amount, t.Trigger = "revenue:"+rev.ID+":platform", ledger.Platform, rest, ledger.TriggerRevenue
		requests = append(requests, t)
	}
	posted, err := r.post(ctx, w, requests)
	if err != nil {
		return err
	}
	res.Revenue = rev
	splitTransfers(posted, res)
	res.Unclaimed, err = r.moveCreditsOfErased(ctx, w, res.Royalties)
	return err
}

// loadRevenue fills res with revenue recorded before and its transfers.
func (r *Registry) loadRevenue(ctx context.Context, tx storage.ReadTx, rev storage.Revenue, res *RevenueResult) error {
	var transfers []ledger.Transfer
	err := tx.Transfers(ctx, storage.TransferFilter{Revenue: rev.ID}, func(t ledger.Transfer) error {
		transfers = append(transfers, t)
		return nil
	})
	if err != nil {
		return err
	}
	res.Revenue, res.Repeated = rev, true
	splitTransfers(transfers, res)
	return nil
}

func splitTransfers(transfers []ledger.Transfer, res *RevenueResult) {
	for _, t := range transfers {
		if t.Trigger == ledger.TriggerRevenue {
			res.Platform = t
		} else {
			res.Royalties = append(res.Royalties, t)
		}
	}
}
