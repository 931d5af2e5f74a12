package server

import (
	"fmt"
	"net/http"

	"github.com/steward-rehab/steward/internal/fhirconsent"
	"github.com/steward-rehab/steward/internal/registry"
)

// fhirVersion reads the fhir query parameter: r5 (the default) or r4.
func fhirVersion(r *http.Request, fallback string) (fhirconsent.Version, error) {
	v := r.URL.Query().Get("fhir")
	if v == "" {
		if fallback == "" {
			return "", nil
		}
		v = fallback
	}
	version, err := fhirconsent.ParseVersion(v)
	if err != nil {
		return "", newError(http.StatusBadRequest, "invalid fhir %q: %v", v, err)
	}
	return version, nil
}

// exportConsentFHIR sends a participant's consent history as a FHIR Bundle.
func (s *Server) exportConsentFHIR(w http.ResponseWriter, r *http.Request, p principal) error {
	subject, err := s.participantRef(r, p, r.PathValue("ref"))
	if err != nil {
		return err
	}
	version, err := fhirVersion(r, "r5")
	if err != nil {
		return err
	}
	raw, err := s.reg.ExportConsentFHIR(r.Context(), subject.Pseudonym, version)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", fmt.Sprintf("application/fhir+json; fhirVersion=%s", fhirMIMEVersion[version]))
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(raw)
	return err
}

// fhirMIMEVersion is the fhirVersion parameter of the FHIR media type.
var fhirMIMEVersion = map[fhirconsent.Version]string{fhirconsent.R4: "4.0", fhirconsent.R5: "5.0"}

// fhirImportJSON is the outcome of a FHIR consent import.
type fhirImportJSON struct {
	Participant string       `json:"participant"`
	Consents    int          `json:"consents"`
	Skipped     []string     `json:"skipped"`
	Unchanged   []string     `json:"unchanged"`
	Records     []recordJSON `json:"records"`
	Notes       []string     `json:"notes"`
}

// importConsentFHIR records the consent of FHIR Consent resources. It
// responds 201 when it recorded something and 200 when every Consent was
// imported before. A steward's import checks the subject against its own
// organisation's participants only.
func (s *Server) importConsentFHIR(w http.ResponseWriter, r *http.Request, p principal) error {
	subject, err := s.participantRef(r, p, r.PathValue("ref"))
	if err != nil {
		return err
	}
	version, err := fhirVersion(r, "")
	if err != nil {
		return err
	}
	raw, err := readBody(w, r, s.cfg.MaxJSONBytes)
	if err != nil {
		return err
	}
	opts := registry.ImportOptions{Participant: subject.Pseudonym, Document: r.URL.Query().Get("document"), Version: version}
	if p.is(registry.RoleSteward) {
		opts.Namespace = p.token.Org
	}
	res, err := s.reg.ImportConsent(r.Context(), raw, opts)
	if err != nil {
		return inputError(err)
	}
	out := fhirImportJSON{Participant: res.Participant, Consents: res.Consents, Skipped: nonNil(res.Skipped), Unchanged: nonNil(res.Unchanged),
		Records: toRecordsJSON(res.Records), Notes: nonNil(res.Notes)}
	status := http.StatusCreated
	if len(res.Records) == 0 {
		status = http.StatusOK
	}
	writeJSON(w, status, out)
	return nil
}

// nonNil returns list, or an empty list for nil, so JSON shows [].
func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}
