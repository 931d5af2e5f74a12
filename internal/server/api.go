package server

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/steward-rehab/steward/api"
	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/registry"
	"github.com/steward-rehab/steward/internal/storage"
)

func (s *Server) health(w http.ResponseWriter, r *http.Request, _ principal) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "origin": s.reg.Origin()})
	return nil
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request, _ principal) error {
	w.Header().Set("Content-Type", "application/yaml")
	_, err := w.Write(api.OpenAPI)
	return err
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request, _ principal) error {
	s.metrics.handler().ServeHTTP(w, r)
	return nil
}

func (s *Server) purposes(w http.ResponseWriter, r *http.Request, _ principal) error {
	writeJSON(w, http.StatusOK, map[string]any{"purposes": consent.Purposes()})
	return nil
}

// tokenJSON is a token as the API shows it: never its secret or hash.
type tokenJSON struct {
	ID          string     `json:"id"`
	Kind        string     `json:"kind"`
	Role        string     `json:"role"`
	Participant string     `json:"participant,omitempty"`
	Licensee    string     `json:"licensee,omitempty"`
	Org         string     `json:"org,omitempty"`
	IssuedBy    string     `json:"issuedBy,omitempty"`
	IssuedAt    time.Time  `json:"issuedAt"`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty"`
	RevokedAt   *time.Time `json:"revokedAt,omitempty"`
	UsedAt      *time.Time `json:"usedAt,omitempty"`
	EventIndex  uint64     `json:"eventIndex,omitempty"`
	// Secret is set only in the response that issues the token.
	Secret string `json:"secret,omitempty"`
}

func toTokenJSON(t storage.Token) tokenJSON {
	return tokenJSON{
		ID: t.ID, Kind: t.Kind, Role: t.Role, Participant: t.Participant, Licensee: t.Licensee, Org: t.Org,
		IssuedBy: t.IssuedBy, IssuedAt: t.IssuedAt, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt, UsedAt: t.UsedAt, EventIndex: t.EventIndex,
	}
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request, p principal) error {
	writeJSON(w, http.StatusOK, toTokenJSON(p.token))
	return nil
}

// TokenRequest is the body of POST /api/v1/tokens.
type TokenRequest struct {
	Role        string `json:"role"`
	Participant string `json:"participant,omitempty"`
	Licensee    string `json:"licensee,omitempty"`
	Org         string `json:"org,omitempty"`
	// Expires is a Go duration such as 24h; empty means no expiry.
	Expires string `json:"expires,omitempty"`
}

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request, p principal) error {
	var req TokenRequest
	if err := decodeJSON(w, r, s.cfg.MaxJSONBytes, &req); err != nil {
		return err
	}
	spec := registry.TokenSpec{Role: req.Role, Participant: req.Participant, Licensee: req.Licensee, Org: req.Org, IssuedBy: p.token.ID}
	if req.Expires != "" {
		ttl, err := time.ParseDuration(req.Expires)
		if err != nil || ttl <= 0 {
			return newError(http.StatusBadRequest, "invalid expires %q: give a positive duration such as 24h", req.Expires)
		}
		spec.TTL = ttl
	}
	issued, err := s.reg.IssueToken(r.Context(), spec)
	if err != nil {
		return inputError(err)
	}
	out := toTokenJSON(issued.Token)
	out.Secret = issued.Secret
	requestLogger(r.Context(), s.log).Info("token issued", "token", issued.Token.ID, "role", issued.Token.Role, "issued_by", p.token.ID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, _ principal) error {
	tokens, err := s.reg.Tokens(r.Context())
	if err != nil {
		return err
	}
	out := make([]tokenJSON, 0, len(tokens))
	for _, t := range tokens {
		out = append(out, toTokenJSON(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, p principal) error {
	tok, err := s.reg.RevokeToken(r.Context(), r.PathValue("id"), p.token.ID)
	if err != nil {
		return err
	}
	requestLogger(r.Context(), s.log).Info("token revoked", "token", tok.ID, "revoked_by", p.token.ID)
	writeJSON(w, http.StatusOK, toTokenJSON(tok))
	return nil
}

// documentJSON is a registered consent document.
type documentJSON struct {
	consent.Document
	Digest     string `json:"digest"`
	EventIndex uint64 `json:"eventIndex"`
}

func (s *Server) documents(w http.ResponseWriter, r *http.Request, _ principal) error {
	docs, err := s.reg.Documents(r.Context())
	if err != nil {
		return err
	}
	out := make([]documentJSON, 0, len(docs))
	for _, d := range docs {
		out = append(out, documentJSON{Document: d.Document, Digest: d.Document.Digest(), EventIndex: d.EventIndex})
	}
	writeJSON(w, http.StatusOK, map[string]any{"documents": out})
	return nil
}

// addDocument registers a consent document sent as YAML or JSON, the file
// format that steward consent document add reads.
func (s *Server) addDocument(w http.ResponseWriter, r *http.Request, _ principal) error {
	raw, err := readBody(w, r, s.cfg.MaxJSONBytes)
	if err != nil {
		return err
	}
	name := "document.yaml"
	if isJSON(r) {
		name = "document.json"
	}
	d, err := consent.ParseDocument(raw, name)
	if err != nil {
		return badInput(err)
	}
	idx, err := s.reg.AddDocument(r.Context(), d)
	if err != nil {
		return inputError(err)
	}
	writeJSON(w, http.StatusCreated, documentJSON{Document: d, Digest: d.Digest(), EventIndex: idx})
	return nil
}

func (s *Server) signCheckpoint(w http.ResponseWriter, r *http.Request, _ principal) error {
	cp, err := s.reg.Checkpoint(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"size": cp.Size, "checkpoint": string(cp.Note)})
	return nil
}

func (s *Server) verifyLog(w http.ResponseWriter, r *http.Request, p principal) error {
	withContent := r.URL.Query().Get("content") == "true"
	if withContent && !p.is(registry.RoleAdmin) {
		return newError(http.StatusForbidden, "only an admin token may verify content, because it decrypts every recording")
	}
	rep, err := s.reg.VerifyLog(r.Context())
	var failed *registry.LogVerificationError
	if err != nil && !errors.As(err, &failed) {
		return err
	}
	if err == nil && withContent {
		if err := s.reg.VerifyContent(r.Context(), rep); err != nil {
			return err
		}
	}
	body := map[string]any{
		"verified": len(rep.Problems) == 0, "size": rep.Size, "checkpoints": rep.Checkpoints,
		"projections": rep.Projections, "problems": rep.Problems, "content": withContent,
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func (s *Server) collectGarbage(w http.ResponseWriter, r *http.Request, _ principal) error {
	grace := time.Hour
	if v := r.URL.Query().Get("grace"); v != "" {
		var err error
		if grace, err = time.ParseDuration(v); err != nil || grace < 0 {
			return newError(http.StatusBadRequest, "invalid grace %q: give a duration such as 1h", v)
		}
	}
	rep, err := s.reg.CollectGarbage(r.Context(), grace)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// inputError marks the error of a registry operation that acted on the
// client's input: its message names what was wrong, so it is sent with 400
// unless it is a lookup or conflict error, or the database failed.
//
// NOTE: the registry does not type its validation errors, so a failure of
// the database in the middle of such an operation is also sent as 400,
// with its message.
func inputError(err error) error {
	status, _ := classify(err)
	if status != http.StatusInternalServerError {
		return err
	}
	return &httpError{status: http.StatusBadRequest, msg: err.Error(), err: err}
}

func pathIndex(r *http.Request, name string) (uint64, error) {
	// Decimal digits only, as in the query parameters: a base prefix such
	// as 0x10 or a leading zero read as octal would name another entry.
	v := r.PathValue(name)
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, newError(http.StatusBadRequest, "invalid %s %q: give a non-negative decimal integer", name, v)
	}
	return n, nil
}
