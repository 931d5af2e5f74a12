package release

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/ledger"
)

// LicenceJSONLDFile is the bundle path of the machine-readable terms.
const LicenceJSONLDFile = "licence.jsonld"

// DefaultTermYears is how long a release may be used when its builder sets
// no end date: the permission ends this many years after the build.
const DefaultTermYears = 5

// Steward's ODRL profile and the namespace of the terms it defines
// (reidentify, revocationNotice, the purposes). docs/release-metadata.md
// defines each term under a heading of the same name.
const (
	ProfileIRI       = "https://github.com/steward-rehab/steward/blob/main/docs/release-metadata.md#odrl-profile"
	ProfileNamespace = "https://github.com/steward-rehab/steward/blob/main/docs/release-metadata.md#"
)

// Namespaces the documents use.
const (
	odrlNamespace = "http://www.w3.org/ns/odrl/2/"
	duoNamespace  = "http://purl.obolibrary.org/obo/DUO_"
	xsdNamespace  = "http://www.w3.org/2001/XMLSchema#"
)

// Terms are the inputs of licence.jsonld that the manifest does not hold.
type Terms struct {
	// Until is when the permission to use the release ends. Zero means
	// DefaultTermYears after the build.
	Until time.Time
}

// EndDate returns the end of the permission for a release built at builtAt.
func (t Terms) EndDate(builtAt time.Time) time.Time {
	if !t.Until.IsZero() {
		return t.Until.UTC()
	}
	return builtAt.UTC().AddDate(DefaultTermYears, 0, 0)
}

// RegistryIRI returns the IRI that names a registry in the documents. A log
// origin is a schema-less URL (C2SP tlog-checkpoint), so https:// makes it
// absolute.
func RegistryIRI(origin string) string {
	if strings.Contains(origin, "://") {
		return strings.TrimSuffix(origin, "/")
	}
	return "https://" + strings.TrimSuffix(origin, "/")
}

// ReleaseIRI returns the IRI of a release, the target of its policies.
func ReleaseIRI(origin, id string) string {
	return RegistryIRI(origin) + "/releases/" + url.PathEscape(id)
}

// LicenseeIRI returns the IRI of a licensee: the licensee itself when it
// is an absolute IRI, otherwise a name under the registry.
func LicenseeIRI(origin, licensee string) string {
	if u, err := url.Parse(licensee); err == nil && u.IsAbs() && (u.Host != "" || u.Opaque != "") {
		return licensee
	}
	return RegistryIRI(origin) + "/licensees/" + url.PathEscape(licensee)
}

// PurposeIRI returns the profile term of a Steward purpose code.
func PurposeIRI(code string) string { return ProfileNamespace + "purpose-" + code }

// DUOIRI returns the OBO IRI of a DUO term such as DUO:0000042.
func DUOIRI(id string) string { return duoNamespace + strings.TrimPrefix(id, "DUO:") }

type object = map[string]any

// odrlContext is the inline JSON-LD context of licence.jsonld. Its term
// definitions copy those of the ODRL 2.2 context (http://www.w3.org/ns/odrl.jsonld)
// for the terms the document uses, so a processor never fetches it.
var odrlContext = object{
	"odrl":    odrlNamespace,
	"xsd":     xsdNamespace,
	"dct":     "http://purl.org/dc/terms/",
	"skos":    "http://www.w3.org/2004/02/skos/core#",
	"schema":  "http://schema.org/",
	"steward": ProfileNamespace,

	"uid":  "@id",
	"type": "@type",

	"Offer":     "odrl:Offer",
	"Agreement": "odrl:Agreement",
	"Party":     "odrl:Party",
	"Action":    "odrl:Action",

	"profile":  object{"@type": "@id", "@id": "odrl:profile"},
	"conflict": object{"@type": "@vocab", "@id": "odrl:conflict"},
	"prohibit": "odrl:prohibit",

	"permission":       object{"@type": "@id", "@id": "odrl:permission"},
	"prohibition":      object{"@type": "@id", "@id": "odrl:prohibition"},
	"duty":             object{"@type": "@id", "@id": "odrl:duty"},
	"target":           object{"@type": "@id", "@id": "odrl:target"},
	"assigner":         object{"@type": "@id", "@id": "odrl:assigner"},
	"assignee":         object{"@type": "@id", "@id": "odrl:assignee"},
	"attributedParty":  object{"@type": "@id", "@id": "odrl:attributedParty"},
	"compensatedParty": object{"@type": "@id", "@id": "odrl:compensatedParty"},
	"action":           object{"@type": "@vocab", "@id": "odrl:action"},
	"includedIn":       object{"@type": "@id", "@id": "odrl:includedIn"},

	"use":        "odrl:use",
	"derive":     "odrl:derive",
	"distribute": "odrl:distribute",
	"attribute":  "odrl:attribute",
	"compensate": "odrl:compensate",
	"delete":     "odrl:delete",
	"nextPolicy": "odrl:nextPolicy",
	"reidentify": "steward:reidentify",

	"constraint":            object{"@type": "@id", "@id": "odrl:constraint"},
	"leftOperand":           object{"@type": "@vocab", "@id": "odrl:leftOperand"},
	"operator":              object{"@type": "@vocab", "@id": "odrl:operator"},
	"rightOperand":          "odrl:rightOperand",
	"rightOperandReference": object{"@type": "xsd:anyURI", "@id": "odrl:rightOperandReference"},
	"unit":                  object{"@type": "@id", "@id": "odrl:unit"},

	"dateTime":  "odrl:dateTime",
	"event":     "odrl:event",
	"payAmount": "odrl:payAmount",
	"purpose":   "odrl:purpose",

	"eq":      "odrl:eq",
	"gt":      "odrl:gt",
	"lteq":    "odrl:lteq",
	"isA":     "odrl:isA",
	"isAllOf": "odrl:isAllOf",
}

// NewLicenceJSONLD returns licence.jsonld: the terms of licence.json as ODRL
// 2.2 policies. It always holds an Offer from the registry, and an Agreement
// with the licensee when the release has one. Both permit use and derivation
// for the stated purpose until the end date. They prohibit redistributing
// the raw recordings and re-identifying participants, and the conflict rule
// lets a prohibition win over a permission. Each narrower purpose the
// trailer excludes gets a prohibition of its own.
func NewLicenceJSONLD(h Header, t Trailer, terms Terms) ([]byte, error) {
	purpose, err := consent.LookupPurpose(h.Purpose)
	if err != nil {
		return nil, fmt.Errorf("licence terms: %w", err)
	}
	p := policyParts{
		h:           h,
		purpose:     purpose,
		attribution: t.Attribution,
		excluded:    t.ExcludedPurposes,
		until:       terms.EndDate(h.BuiltAt),
		registry:    RegistryIRI(h.Origin),
		target:      ReleaseIRI(h.Origin, h.Release),
		offer:       ReleaseIRI(h.Origin, h.Release) + "/policy/offer",
	}
	graph := []any{p.policy("Offer", p.offer, "")}
	if h.Licensee != "" {
		graph = append(graph, p.policy("Agreement", p.target+"/policy/agreement", LicenseeIRI(h.Origin, h.Licensee)))
	}
	graph = append(graph, profileTerms()...)

	raw, err := marshalJSON(object{"@context": odrlContext, "@graph": graph}, true, "")
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", LicenceJSONLDFile, err)
	}
	return append(raw, '\n'), nil
}

// policyParts builds the rules the Offer and the Agreement share.
type policyParts struct {
	h           Header
	purpose     consent.Purpose
	attribution []Attribution
	excluded    []string
	until       time.Time
	registry    string
	target      string
	offer       string
}

// policy returns one policy node. An empty assignee makes an Offer to
// anyone; ODRL requires an Offer to name its assigner.
func (p policyParts) policy(kind, uid, assignee string) object {
	parties := object{"assigner": p.registry}
	if assignee != "" {
		parties["assignee"] = assignee
	}
	rule := func(fields object) object {
		for k, v := range parties {
			fields[k] = v
		}
		return fields
	}
	return object{
		"uid":       uid,
		"type":      kind,
		"profile":   ProfileIRI,
		"conflict":  "prohibit",
		"dct:title": fmt.Sprintf("Licence of Steward release %s for %s use", p.h.Release, p.purpose.Code),
		"dct:issued": object{
			"@value": p.h.BuiltAt.UTC().Format(time.RFC3339), "@type": "xsd:dateTime",
		},
		"permission": []any{
			rule(object{
				"target": p.target, "action": "use",
				"constraint": p.useConstraints(),
				"duty":       p.useDuties(),
			}),
			// Derived datasets and models stay under the same terms: the
			// nextPolicy duty names the Offer as the policy every recipient
			// of a derivative must receive.
			rule(object{
				"target": p.target, "action": "derive",
				"constraint": p.useConstraints(),
				"duty": []any{
					p.attributeDuty(),
					object{"action": "nextPolicy", "target": p.offer},
				},
			}),
		},
		"prohibition": append(p.excludedProhibitions(rule),
			rule(object{
				"target": p.target + "/data", "action": "distribute",
				"dct:description": "Redistributing the raw recordings, in whole or in part, is prohibited.",
			}),
			rule(object{
				"target": p.target, "action": "reidentify",
				"dct:description": "Re-identifying, or attempting to contact, any participant is prohibited.",
			}),
		),
	}
}

// excludedProhibitions prohibit use for each narrower purpose that the
// consent behind some sample does not permit. With the conflict rule set to
// prohibit, they override the permission for the broader purpose.
func (p policyParts) excludedProhibitions(rule func(object) object) []any {
	out := []any{}
	for _, code := range p.excluded {
		for _, action := range []string{"use", "derive"} {
			out = append(out, rule(object{
				"target": p.target, "action": action,
				"constraint": []any{
					object{"leftOperand": "purpose", "operator": "isA", "rightOperand": object{"@id": PurposeIRI(code)}},
				},
				"dct:description": fmt.Sprintf("Use for %s is prohibited: the consent of at least one sample does not permit it.", code),
			}))
		}
	}
	return out
}

// useConstraints limit a permission to the release's purpose and its DUO
// codes, until the end date.
func (p policyParts) useConstraints() []any {
	duo := make([]any, 0, len(p.purpose.DUO))
	for _, id := range p.purpose.DUO {
		duo = append(duo, object{"@id": DUOIRI(id)})
	}
	return []any{
		object{"leftOperand": "purpose", "operator": "isA", "rightOperand": object{"@id": PurposeIRI(p.purpose.Code)}},
		object{"leftOperand": "purpose", "operator": "isAllOf", "rightOperand": duo},
		object{"leftOperand": "dateTime", "operator": "lteq", "rightOperand": object{
			"@value": p.until.Format(time.RFC3339), "@type": "xsd:dateTime",
		}},
	}
}

func (p policyParts) attributeDuty() object {
	sources := make([]any, 0, len(p.attribution))
	for _, a := range p.attribution {
		source := object{"type": "Party", "schema:name": a.Dataset}
		if a.Citation != "" {
			source["schema:citation"] = a.Citation
		}
		if a.Licence != "" {
			source["schema:license"] = a.Licence
		}
		sources = append(sources, source)
	}
	return object{"action": "attribute", "attributedParty": sources}
}

// useDuties returns the duties of the permission to use: attribution, payment
// when the release has compensation terms, and deletion on notice. A
// release built while the registry had no compensation policy has no
// amount to pay, so it states no payment duty.
func (p policyParts) useDuties() []any {
	if p.h.Compensation == nil {
		return []any{p.attributeDuty(), p.deleteDuty()}
	}
	return []any{p.attributeDuty(), p.compensateDuty(), p.deleteDuty()}
}

// compensateDuty is due per use: the licensee pays the per-use amount of
// the release's compensation terms for each sample.
func (p policyParts) compensateDuty() object {
	usage := object{"leftOperand": "event", "operator": "eq", "rightOperand": object{"@id": "odrl:policyUsage"}}
	c := p.h.Compensation
	samples := licenceSamples(p.attribution)
	total := c.PerUse * int64(samples)
	return object{
		"action":           "compensate",
		"compensatedParty": p.registry,
		"dct:description": fmt.Sprintf("per-use: %s for each of the %d samples, %s in all, under compensation policy %s; the registry passes it on to the participants.",
			ledger.FormatAmount(c.PerUse, c.Currency), samples, ledger.FormatAmount(total, c.Currency), c.Policy),
		"constraint": []any{
			object{
				"leftOperand": "payAmount", "operator": "eq",
				"rightOperand": object{"@value": ledger.FormatDecimal(total, c.Currency), "@type": "xsd:decimal"},
				"unit":         CurrencyIRI(c.Currency),
			},
			usage,
		},
	}
}

// CurrencyIRI returns the profile term of an ISO 4217 currency, the unit of
// a payAmount.
func CurrencyIRI(code string) string { return ProfileNamespace + "currency-" + code }

func (p policyParts) deleteDuty() object {
	return object{
		"action": "delete",
		"target": p.target + "/data",
		"dct:description": "Delete the samples a revocation notice for this release names, once it is issued. " +
			"`steward release status BUNDLE` lists the notices.",
		"constraint": []any{
			object{"leftOperand": "event", "operator": "gt", "rightOperand": object{"@id": "steward:revocationNotice"}},
		},
	}
}

// profileTerms define the profile's action and event in the document
// itself, so it can be read offline.
func profileTerms() []any {
	return []any{
		object{
			"uid": "steward:reidentify", "type": "Action", "includedIn": "odrl:use",
			"skos:definition": "To link any record of the Asset to the identity of a participant, or to try to contact a participant.",
		},
		object{
			"uid":             "steward:revocationNotice",
			"skos:definition": "The event of the registry issuing a revocation notice that names samples of the release, because the consent behind them was withdrawn, narrowed, expired or invalidated, or the participant was erased.",
		},
	}
}
