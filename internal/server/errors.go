package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/registry"
	"github.com/steward-rehab/steward/internal/storage"
	"github.com/steward-rehab/steward/internal/strictjson"
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
	case errors.Is(err, registry.ErrErased):
		return http.StatusGone, err.Error()
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
	writeJSON(w, status, errorBody{Error: s.redactPaths(msg)})
}

// newPathRedactor returns the function that removes the server's own
// folders from messages clients receive. A file in an upload folder keeps
// the name the client gave it. Any other path under the temporary folder
// or the registry folder becomes "(server path)". Handlers already name
// files as the client sent them, so this guards against messages of
// deeper layers, such as a blob store error.
func newPathRedactor(roots ...string) func(string) string {
	var alternatives []string
	for _, root := range roots {
		root = filepath.Clean(root)
		if filepath.IsAbs(root) && root != string(filepath.Separator) {
			alternatives = append(alternatives, regexp.QuoteMeta(root))
		}
	}
	if len(alternatives) == 0 {
		return func(msg string) string { return msg }
	}
	root := "(?:" + strings.Join(alternatives, "|") + ")"
	upload := regexp.MustCompile(root + `/steward-(?:upload|release|export)-[^/\s"']+/`)
	other := regexp.MustCompile(root + `(?:/[^\s"':,;)]*)?`)
	return func(msg string) string {
		msg = upload.ReplaceAllString(msg, "")
		return other.ReplaceAllString(msg, "(server path)")
	}
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
	raw, err := readBody(w, r, limit)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, raw, v)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return newError(http.StatusBadRequest, "invalid JSON body: unexpected data after the first object")
	}
	if path, found := strictjson.DuplicateName(raw); found {
		return newError(http.StatusBadRequest, "invalid JSON body: field %q is given twice: keep one value", path)
	}
	return nil
}

// readBody reads a whole request body of at most limit bytes. A body that
// ends before its declared length, or that the client aborts, is the
// client's fault and gets 400.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return nil, bodyError(err)
	}
	return raw, nil
}

// bodyError classifies an error of reading a request body: too large,
// timed out and cancelled keep their own status, and anything else means
// the body was cut short.
func bodyError(err error) error {
	if hasOwnStatus(err) {
		return err
	}
	return &httpError{status: http.StatusBadRequest, msg: "the request body ended before it was complete: send it again whole", err: err}
}

// hasOwnStatus reports whether classify gives a body read error its own
// status: a body too large, or a request that timed out or was cancelled.
func hasOwnStatus(err error) bool {
	var tooLarge *http.MaxBytesError
	return errors.As(err, &tooLarge) || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

func jsonError(err error, raw []byte, v any) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return newError(http.StatusBadRequest, "empty request body: send a JSON object")
	case errors.As(err, &syntax):
		return newError(http.StatusBadRequest, "invalid JSON body at byte %d: %v", syntax.Offset, syntax)
	case errors.As(err, &typ) && typ.Field == "":
		return newError(http.StatusBadRequest, "invalid JSON body: expected a JSON object, not %s", jsonValueName(typ.Value))
	case errors.As(err, &typ):
		return newError(http.StatusBadRequest, "invalid JSON body: field %s must be %s, not %s", typ.Field, describeType(typ.Type), jsonValueName(typ.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return newError(http.StatusBadRequest, "invalid JSON body: %s", strings.TrimPrefix(err.Error(), "json: "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return newError(http.StatusBadRequest, "invalid JSON body: it ends early")
	}
	if field, typ, ok := failingField(raw, v); ok {
		return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf("invalid JSON body: field %s must be %s", field, describeType(typ)), err: err}
	}
	return newError(http.StatusBadRequest, "invalid JSON body: %v", err)
}

// failingField finds the top-level field of a JSON object that v's type
// cannot decode, for errors such as those of time.Time.UnmarshalJSON that
// do not name the field.
func failingField(raw []byte, v any) (string, reflect.Type, bool) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return "", nil, false
	}
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return "", nil, false
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		value, present := fields[name]
		if !present || !f.IsExported() {
			continue
		}
		if json.Unmarshal(value, reflect.New(f.Type).Interface()) != nil {
			return name, f.Type, true
		}
	}
	return "", nil, false
}

var timeType = reflect.TypeFor[time.Time]()

// describeType names the JSON value a Go type decodes from.
func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return "a date and time in RFC 3339, such as 2026-05-01T10:00:00Z"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.String {
			return "an array of strings"
		}
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "another JSON value"
}

// jsonValueName names a JSON value as json.UnmarshalTypeError.Value
// describes it: array, object, string, bool, number, or number with its
// text when the number does not fit the field.
func jsonValueName(value string) string {
	switch value {
	case "array", "object":
		return "an " + value
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "number":
		return "a number"
	}
	if number, ok := strings.CutPrefix(value, "number "); ok {
		return "the number " + number
	}
	return value
}

// requestLogger returns the logger of the request, which carries its id.
func requestLogger(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return fallback
}
