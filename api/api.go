// Package api holds the OpenAPI 3.1 description of Steward's HTTP API,
// which the server serves at /api/v1/openapi.yaml and its tests check
// against the routes it serves.
package api

import _ "embed"

// OpenAPI is the contents of openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte
