// Package server exposes the registry over HTTP: a JSON API under /api/v1/
// described by api/openapi.yaml, the transparency log in the C2SP
// tlog-tiles layout, participants' own pages, and Prometheus metrics.
//
// Every request carries a role: admin, steward (one organisation),
// participant (their own data), licensee (their own releases) or auditor
// (read-only log and evidence). Bearer tokens authenticate the API; the
// participant pages use a session cookie that a single-use sign-in link
// exchanges for.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/steward-rehab/steward/internal/registry"
)

// Config configures a server.
type Config struct {
	Registry *registry.Registry
	// Logger receives one line per request and per error a handler catches.
	// Nil discards them.
	Logger *slog.Logger
	// BaseURL is the address participants reach the server at, such as
	// https://steward.example.org; sign-in links start with it.
	BaseURL string
	// MaxJSONBytes limits JSON request bodies; 0 means 1 MiB.
	MaxJSONBytes int64
	// MaxUploadBytes limits uploaded archives of recordings; 0 means 4 GiB.
	MaxUploadBytes int64
	// RequestTimeout bounds a request that reads or writes little; 0 means
	// 30 s. Uploads, release builds and downloads get LongRequestTimeout,
	// 0 meaning 30 min.
	RequestTimeout     time.Duration
	LongRequestTimeout time.Duration
	// SessionTTL is how long a participant stays signed in; 0 means 30 min.
	// SignInTTL is how long a sign-in link stays valid; 0 means 24 h.
	SessionTTL time.Duration
	SignInTTL  time.Duration
	// SecureCookies marks cookies Secure. Serve sets it when it serves TLS.
	SecureCookies bool
}

// Server is the HTTP server of one registry.
type Server struct {
	cfg     Config
	reg     *registry.Registry
	log     *slog.Logger
	metrics *metrics
	handler http.Handler
	pages   *pageTemplates
	// redactPaths removes the server's folders from error messages.
	redactPaths func(string) string
	// observe, when set by tests, receives the status of every request.
	observe func(rt *route, status int)
}

// New builds a server. Its metrics live on a Prometheus registry of its
// own, which Metrics returns and /metrics serves.
func New(cfg Config) (*Server, error) {
	if cfg.Registry == nil {
		return nil, errors.New("server: no registry given")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	defaults := []struct {
		value *int64
		def   int64
	}{{&cfg.MaxJSONBytes, 1 << 20}, {&cfg.MaxUploadBytes, 4 << 30}}
	for _, d := range defaults {
		if *d.value <= 0 {
			*d.value = d.def
		}
	}
	durations := []struct {
		value *time.Duration
		def   time.Duration
	}{
		{&cfg.RequestTimeout, 30 * time.Second}, {&cfg.LongRequestTimeout, 30 * time.Minute},
		{&cfg.SessionTTL, 30 * time.Minute}, {&cfg.SignInTTL, 24 * time.Hour},
	}
	for _, d := range durations {
		if *d.value <= 0 {
			*d.value = d.def
		}
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, reg: cfg.Registry, log: cfg.Logger, metrics: newMetrics(), pages: pages,
		redactPaths: newPathRedactor(os.TempDir(), cfg.Registry.Dir())}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the server's root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Metrics returns the Prometheus registry that holds the server's metrics.
func (s *Server) Metrics() *prometheus.Registry { return s.metrics.registry }

// shutdownGrace is how long Serve waits for requests in flight after ctx
// is cancelled.
const shutdownGrace = 30 * time.Second

// Serve serves on ln until ctx is cancelled, as on SIGTERM, then stops
// accepting connections and waits up to 30 s for requests in flight.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	s.log.Info("serving", "address", ln.Addr().String())

	select {
	case err := <-served:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "grace", shutdownGrace)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		s.log.Error("shutdown did not finish in time; closing open connections", "error", err)
		srv.Close()
		return fmt.Errorf("shut down: %w", err)
	}
	s.log.Info("stopped")
	return nil
}
