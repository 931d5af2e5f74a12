// Package ident makes the random identifiers of registry objects.
package ident

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

var encoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// New returns prefix followed by 13 random base32 characters (64 bits), such
// as p-4k2m9q7x3w8za for a participant pseudonym.
func New(prefix string) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic("read random bytes: " + err.Error())
	}
	return prefix + strings.ToLower(encoding.EncodeToString(b))
}

// Prefixes of the registry's identifiers.
const (
	Participant = "p-"
	Consent     = "c-"
	Release     = "r-"
)
