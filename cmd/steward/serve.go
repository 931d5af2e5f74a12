package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/server"
)

func newServeCommand(g *globals) *cobra.Command {
	var listen, baseURL, certFile, keyFile string
	var cfg server.Config
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the registry over HTTP: the JSON API, the log's tiles and participants' pages",
		Long: `Serve the registry on --listen: every operation of this command line as an
HTTP JSON API under /api/v1/ (described at /api/v1/openapi.yaml), the log in
the C2SP tlog-tiles layout under /api/v1/log/, participants' own pages, and
Prometheus metrics at /metrics.

API calls need a bearer token; make the first one on the registry's machine
with steward token issue --role admin. The server logs one JSON line per
request to standard error, and on SIGTERM or Ctrl-C it stops accepting
connections and waits up to 30 s for requests in flight.`,
		Example: `  steward serve --listen 127.0.0.1:8080
  steward serve --listen :8443 --tls-cert cert.pem --tls-key key.pem --base-url https://steward.example.org`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.rejectServer(cmd); err != nil {
				return err
			}
			if (certFile == "") != (keyFile == "") {
				return errors.New("give both --tls-cert and --tls-key, or neither")
			}
			r, err := g.open(cmd)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", listen, err)
			}
			scheme := "http"
			if certFile != "" {
				cert, err := tls.LoadX509KeyPair(certFile, keyFile)
				if err != nil {
					ln.Close()
					return fmt.Errorf("load TLS certificate: %w", err)
				}
				ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
				scheme = "https"
				cfg.SecureCookies = true
			}
			if baseURL == "" {
				baseURL = scheme + "://" + ln.Addr().String()
			}
			cfg.Registry = r
			cfg.BaseURL = strings.TrimRight(baseURL, "/")
			cfg.Logger = slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: g.serveLevel(cmd)}))
			srv, err := server.New(cfg)
			if err != nil {
				ln.Close()
				return err
			}
			printf(cmd, "serving %s at %s\n", r.Origin(), cfg.BaseURL)
			return srv.Serve(cmd.Context(), ln)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on, HOST:PORT")
	f.StringVar(&baseURL, "base-url", "", "address participants reach the server at, which sign-in links start with (default: the listen address)")
	f.StringVar(&certFile, "tls-cert", "", "PEM certificate file; with --tls-key, serve HTTPS and mark cookies Secure")
	f.StringVar(&keyFile, "tls-key", "", "PEM private key file of --tls-cert")
	f.Int64Var(&cfg.MaxJSONBytes, "max-json-bytes", 1<<20, "largest JSON request body accepted, in bytes")
	f.Int64Var(&cfg.MaxUploadBytes, "max-upload-bytes", 4<<30, "largest upload of recordings accepted, in bytes")
	f.DurationVar(&cfg.RequestTimeout, "request-timeout", 30*time.Second, "time limit of an ordinary request")
	f.DurationVar(&cfg.LongRequestTimeout, "long-request-timeout", 30*time.Minute, "time limit of an upload, a release build or a download")
	f.DurationVar(&cfg.SessionTTL, "session-ttl", 30*time.Minute, "how long a participant stays signed in")
	f.DurationVar(&cfg.SignInTTL, "signin-ttl", 24*time.Hour, "how long a sign-in link stays valid")
	return cmd
}

// serveLevel is the server's log level: info unless --log-level or
// STEWARD_LOG_LEVEL set another.
func (g *globals) serveLevel(cmd *cobra.Command) slog.Level {
	level := slog.LevelInfo
	if cmd.Flags().Changed("log-level") || os.Getenv("STEWARD_LOG_LEVEL") != "" {
		_ = level.UnmarshalText([]byte(g.logLevel))
	}
	return level
}
