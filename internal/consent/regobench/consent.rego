# Steward's consent decision rules in Rego, for comparing Open Policy Agent
# with the Go implementation in internal/consent on the same queries. The
# rules are those of consent.Decide; times are Unix nanoseconds, and the Go
# side precomputes what Rego would otherwise recompute per query: the
# purpose's tier and lineage, the purposes each document version no longer
# covers, and the first instant of a minor's majority month.
package steward.consent

default decision := "deny"

purpose := data.purposes[input.purpose]

known(r) if r.signedAt <= input.t

invalidated(g) if {
	some r in input.records
	r.action == "invalidate"
	r.voids == g.id
}

signed_before(g, w) if g.signedAt < w.signedAt

signed_before(g, w) if {
	g.signedAt == w.signedAt
	g.seq < w.seq
}

withdrawn(g) if {
	some w in input.records
	w.action == "withdraw"
	known(w)
	w.from <= input.t
	signed_before(g, w)
	purpose.tier in w.tiers
	input.modality in w.modalities
}

active(g) if {
	g.from <= input.t
	g.until == 0
}

active(g) if {
	g.from <= input.t
	input.t < g.until
}

of_age_ok(g) if g.grantor != "guardian"

of_age_ok(g) if {
	g.grantor == "guardian"
	g.assent != "refused"
	input.t < g.majority
}

in_force(g) if {
	g.action == "grant"
	known(g)
	active(g)
	purpose.tier in g.tiers
	input.modality in g.modalities
	not invalidated(g)
	not withdrawn(g)
	of_age_ok(g)
}

restricted(g) if {
	some code in purpose.lineage
	code in input.restricted[g.document]
}

document_covers(g) if {
	input.restricted[g.document]
	not restricted(g)
}

denies contains g.id if {
	some g in input.records
	g.decision == "deny"
	in_force(g)
}

permits contains g.id if {
	some g in input.records
	g.decision == "permit"
	in_force(g)
	document_covers(g)
}

decision := "deny" if {
	count(denies) > 0
} else := "permit" if {
	count(permits) > 0
}
