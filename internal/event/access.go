package event

// Types of access events. An API token is an access decision that an
// auditor may want to check, so issuing and revoking one is logged.
const (
	TypeAccessGranted = "access.granted"
	TypeAccessRevoked = "access.revoked"
)

// AccessGranted records that an API token was issued. It names the token's
// id, never its secret or the secret's hash. Participant is a pseudonym.
type AccessGranted struct {
	Token       string `json:"token"`
	Role        string `json:"role"`
	Participant string `json:"participant,omitempty"`
	Licensee    string `json:"licensee,omitempty"`
	Org         string `json:"org,omitempty"`
	IssuedBy    string `json:"issuedBy,omitempty"`
	// Expires is an RFC 3339 time, empty for a token that does not expire.
	Expires string `json:"expires,omitempty"`
}

// AccessRevoked records that an API token was revoked.
type AccessRevoked struct {
	Token     string `json:"token"`
	RevokedBy string `json:"revokedBy,omitempty"`
	// Reason is why a token was revoked without a caller, such as
	// "participant erased". It is empty when RevokedBy names the caller.
	Reason string `json:"reason,omitempty"`
}
