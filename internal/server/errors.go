package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"strings"

	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/registry"
	"github.com/steward-rehab/steward/internal/storage"
)

// httpError is an error with the status and message the client receives.
type httpError struct {
	status int
	msg    string
	err    error // the cause, logged and never sent
}

func (e *httpError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *httpError) Unwrap() error { return e.err }

func newError(status int, format string, args ...any) *httpError {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

// badInput wraps an error that the client's input caused, so its message
// is sent with 400.
func badInput(err error) *httpError {
	return &httpError{status: http.StatusBadRequest, msg: err.Error(), err: err}
}

// errorBody is the JSON body of every error response. The request id goes
// in the X-Request-Id header, not here, so two refusals of the same kind
// have byte-identical bodies.
type errorBody struct {
	Error string `json:"error"`
}

// classify picks the status and client message of an error a handler
// returned. Errors of the registry that name what was wrong with the input
// are sent as they are. Anything unexpected becomes a 500 with a generic
// message, and the log line with the request id has the cause.
func classify(err error) (int, string) {
	var he *httpError
	var batch *registry.BatchError
	var invalid *provenance.ValidationError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		return he.status, he.msg
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than the limit of %d bytes", tooLarge.Limit)
	case errors.Is(err, registry.ErrUnauthenticated):
		return http.StatusUnauthorized, "invalid or expired token: ask for a new one"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return http.StatusServiceUnavailable, "the request timed out: try again, or with a smaller request"
	case errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, "the request was cancelled"
	case errors.Is(err, storage.ErrNotFound):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, storage.ErrConflict):
		return http.StatusConflict, err.Error()
	case errors.As(err, &batch), errors.As(err, &invalid):
		return http.StatusBadRequest, err.Error()
	}
	return http.StatusInternalServerError, "internal error"
}

// fail sends the error response and logs the error once: server faults at
// error level, client mistakes at debug, never with a token or cookie.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := classify(err)
	log := requestLogger(r.Context(), s.log)
	s.metrics.errors.WithLabelValues(fmt.Sprint(status)).Inc()
	switch {
	case errors.Is(err, context.Canceled):
		log.Debug("client went away", "status", status, "error", err)
	case status >= 500:
		log.Error("request failed", "status", status, "error", err)
	default:
		log.Debug("request rejected", "status", status, "error", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="steward"`)
	}
	writeJSON(w, status, errorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// decodeJSON reads a JSON request body into v: one object, no unknown
// fields, at most limit bytes.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return newError(http.StatusUnsupportedMediaType, "Content-Type %q is not supported: send application/json", ct)
		}
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return err
		}
		return newError(http.StatusBadRequest, "invalid JSON body: unexpected data after the first object")
	}
	return nil
}

func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge), errors.Is(err, os.ErrDeadlineExceeded):
		return err
	case errors.Is(err, io.EOF):
		return newError(http.StatusBadRequest, "empty request body: send a JSON object")
	case errors.As(err, &syntax):
		return newError(http.StatusBadRequest, "invalid JSON body at byte %d: %v", syntax.Offset, syntax)
	case errors.As(err, &typ):
		return newError(http.StatusBadRequest, "invalid JSON body: field %s must be %s, not %s", typ.Field, typ.Type, typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return newError(http.StatusBadRequest, "invalid JSON body: %s", strings.TrimPrefix(err.Error(), "json: "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return newError(http.StatusBadRequest, "invalid JSON body: it ends early")
	}
	return newError(http.StatusBadRequest, "invalid JSON body: %v", err)
}

// requestLogger returns the logger of the request, which carries its id.
func requestLogger(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return fallback
}
