// Package client calls a Steward server's HTTP API, so that the steward
// command runs against a server as it runs against a local registry.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls one server with one token.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// New returns a client of the server at baseURL, such as
// http://127.0.0.1:8080, authenticating with token (empty for none).
func New(baseURL, token string) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid server URL %q: give http://HOST:PORT or https://HOST", baseURL)
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, http: &http.Client{}}, nil
}

// Error is an error response of the server.
type Error struct {
	Status    int
	Message   string
	RequestID string
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("server answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
	if e.RequestID != "" {
		msg += " (request id " + e.RequestID + ")"
	}
	return msg
}

// StatusOf returns the HTTP status of a server error, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// request sends one request and returns the response when its status is
// 2xx; any other response becomes an *Error. The caller closes the body.
func (c *Client) request(ctx context.Context, method, path string, body io.Reader, contentType string, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, c.base+path, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}

	// An error response carries its message as {"error": ...}.
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id")}
	var answer struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(raw, &answer) == nil && answer.Error != "" {
		e.Message = answer.Error
	} else {
		e.Message = strings.TrimSpace(string(raw))
	}
	return nil, e
}

// call sends a JSON request (in may be nil) and decodes the JSON response into
// out (which may be nil).
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	contentType := ""
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, contentType = bytes.NewReader(raw), "application/json"
	}
	resp, err := c.request(ctx, method, path, body, contentType, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, path, err)
	}
	return nil
}

// Token is an access token as the server shows it.
type Token struct {
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
	Secret      string     `json:"secret,omitempty"`
}

// TokenRequest is the body of a token issue request.
type TokenRequest struct {
	Role        string `json:"role"`
	Participant string `json:"participant,omitempty"`
	Licensee    string `json:"licensee,omitempty"`
	Org         string `json:"org,omitempty"`
	Expires     string `json:"expires,omitempty"`
}

// IssueToken issues an API token; the response contains its secret.
func (c *Client) IssueToken(ctx context.Context, req TokenRequest) (*Token, error) {
	var t Token
	return &t, c.call(ctx, "POST", "/api/v1/tokens", req, &t)
}

// RevokeToken revokes a token by id.
func (c *Client) RevokeToken(ctx context.Context, id string) (*Token, error) {
	var t Token
	return &t, c.call(ctx, "DELETE", "/api/v1/tokens/"+url.PathEscape(id), nil, &t)
}

// Tokens lists every token.
func (c *Client) Tokens(ctx context.Context) ([]Token, error) {
	var out struct {
		Tokens []Token `json:"tokens"`
	}
	return out.Tokens, c.call(ctx, "GET", "/api/v1/tokens", nil, &out)
}

// Whoami describes the client's own token.
func (c *Client) Whoami(ctx context.Context) (*Token, error) {
	var t Token
	return &t, c.call(ctx, "GET", "/api/v1/whoami", nil, &t)
}

// SignInLink is a participant's single-use sign-in link.
type SignInLink struct {
	URL       string    `json:"url"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// IssueSignInLink issues a sign-in link for a participant; expires is a Go
// duration, or empty for the server's default.
func (c *Client) IssueSignInLink(ctx context.Context, ref, expires string) (*SignInLink, error) {
	path := "/api/v1/participants/" + url.PathEscape(ref) + "/signin-links"
	if expires != "" {
		path += "?expires=" + url.QueryEscape(expires)
	}
	var l SignInLink
	return &l, c.call(ctx, "POST", path, nil, &l)
}
