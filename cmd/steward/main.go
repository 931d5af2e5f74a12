// Command steward registers rehabilitation recordings with their provenance
// and consent in a verifiable log, builds consent-checked releases, and
// verifies them offline.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newRootCommand().ExecuteContext(ctx)
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "steward: "+err.Error())
	var h hinted
	if errors.As(err, &h) {
		for _, line := range h.hints {
			fmt.Fprintln(os.Stderr, "hint: "+line)
		}
	}
	os.Exit(1)
}

// hinted is an error with lines telling the user what to do next.
type hinted struct {
	err   error
	hints []string
}

func (h hinted) Error() string { return h.err.Error() }
func (h hinted) Unwrap() error { return h.err }

func withHint(err error, hints ...string) error { return hinted{err: err, hints: hints} }
