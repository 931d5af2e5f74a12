package consent

import (
	"fmt"
	"strings"
)

// TierFor returns the consent tier a release purpose needs. Each tier is
// also a purpose of its own name.
func TierFor(purpose string) (string, error) {
	for _, t := range Tiers {
		if purpose == t {
			return t, nil
		}
	}
	if purpose == "" {
		return "", fmt.Errorf("no purpose given: pass --purpose with one of %s", strings.Join(Tiers, ", "))
	}
	return "", fmt.Errorf("unknown purpose %q: use one of %s", purpose, strings.Join(Tiers, ", "))
}
