package fhirconsent

// The FHIR JSON structures this package writes and reads. Field order is
// the order of the elements in the specification, and encoding/json keeps
// it, so equal input gives byte-equal output.

type coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

type codeableConcept struct {
	Coding []coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

type identifier struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
}

type reference struct {
	Reference  string      `json:"reference,omitempty"`
	Type       string      `json:"type,omitempty"`
	Identifier *identifier `json:"identifier,omitempty"`
	Display    string      `json:"display,omitempty"`
}

type period struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

type extension struct {
	Extension   []extension `json:"extension,omitempty"`
	URL         string      `json:"url"`
	ValueCode   string      `json:"valueCode,omitempty"`
	ValueDate   string      `json:"valueDate,omitempty"`
	ValueString string      `json:"valueString,omitempty"`
	ValueCoding *coding     `json:"valueCoding,omitempty"`
}

type attachment struct {
	Extension   []extension `json:"extension,omitempty"`
	ContentType string      `json:"contentType,omitempty"`
	Hash        string      `json:"hash,omitempty"`
	Title       string      `json:"title,omitempty"`
}

// relatedPerson is the contained resource that names a guardian grantor.
type relatedPerson struct {
	ResourceType string            `json:"resourceType"`
	ID           string            `json:"id"`
	Patient      reference         `json:"patient"`
	Relationship []codeableConcept `json:"relationship,omitempty"`
}

type policyBasis struct {
	Reference *reference `json:"reference,omitempty"`
	URL       string     `json:"url,omitempty"`
}

type consentR5 struct {
	ResourceType     string            `json:"resourceType"`
	ID               string            `json:"id,omitempty"`
	Contained        []relatedPerson   `json:"contained,omitempty"`
	Extension        []extension       `json:"extension,omitempty"`
	Identifier       []identifier      `json:"identifier,omitempty"`
	Status           string            `json:"status"`
	Category         []codeableConcept `json:"category,omitempty"`
	Subject          *reference        `json:"subject,omitempty"`
	Date             string            `json:"date,omitempty"`
	Period           *period           `json:"period,omitempty"`
	Grantor          []reference       `json:"grantor,omitempty"`
	SourceAttachment []attachment      `json:"sourceAttachment,omitempty"`
	PolicyBasis      *policyBasis      `json:"policyBasis,omitempty"`
	Decision         string            `json:"decision,omitempty"`
	Provision        []provisionR5     `json:"provision,omitempty"`
}

type provisionR5 struct {
	Period       *period       `json:"period,omitempty"`
	Purpose      []coding      `json:"purpose,omitempty"`
	DocumentType []coding      `json:"documentType,omitempty"`
	Provision    []provisionR5 `json:"provision,omitempty"`
}

type policyR4 struct {
	Authority string `json:"authority,omitempty"`
	URI       string `json:"uri,omitempty"`
}

type consentR4 struct {
	ResourceType     string            `json:"resourceType"`
	ID               string            `json:"id,omitempty"`
	Contained        []relatedPerson   `json:"contained,omitempty"`
	Extension        []extension       `json:"extension,omitempty"`
	Identifier       []identifier      `json:"identifier,omitempty"`
	Status           string            `json:"status"`
	Scope            *codeableConcept  `json:"scope,omitempty"`
	Category         []codeableConcept `json:"category,omitempty"`
	Patient          *reference        `json:"patient,omitempty"`
	DateTime         string            `json:"dateTime,omitempty"`
	Performer        []reference       `json:"performer,omitempty"`
	SourceAttachment *attachment       `json:"sourceAttachment,omitempty"`
	Policy           []policyR4        `json:"policy,omitempty"`
	Provision        *provisionR4      `json:"provision,omitempty"`
}

type provisionR4 struct {
	Type      string        `json:"type,omitempty"`
	Period    *period       `json:"period,omitempty"`
	Purpose   []coding      `json:"purpose,omitempty"`
	Class     []coding      `json:"class,omitempty"`
	Provision []provisionR4 `json:"provision,omitempty"`
}

type provenanceAgent struct {
	Type *codeableConcept `json:"type,omitempty"`
	Who  reference        `json:"who"`
}

type provenanceEntity struct {
	Role string    `json:"role"`
	What reference `json:"what"`
}

// provenance holds the elements that R4 and R5 share, plus R5's patient
// and R4's reason, each left empty for the other release.
type provenance struct {
	ResourceType     string             `json:"resourceType"`
	ID               string             `json:"id"`
	Target           []reference        `json:"target"`
	OccurredDateTime string             `json:"occurredDateTime,omitempty"`
	Recorded         string             `json:"recorded"`
	Reason           []codeableConcept  `json:"reason,omitempty"`
	Activity         *codeableConcept   `json:"activity,omitempty"`
	Patient          *reference         `json:"patient,omitempty"`
	Agent            []provenanceAgent  `json:"agent"`
	Entity           []provenanceEntity `json:"entity,omitempty"`
}

type bundleEntry struct {
	FullURL  string `json:"fullUrl"`
	Resource any    `json:"resource"`
}

type bundle struct {
	ResourceType string        `json:"resourceType"`
	ID           string        `json:"id,omitempty"`
	Type         string        `json:"type"`
	Timestamp    string        `json:"timestamp,omitempty"`
	Entry        []bundleEntry `json:"entry,omitempty"`
}
