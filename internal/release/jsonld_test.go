package release

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/piprate/json-gold/ld"
)

// offlineLoader fails every document load, so expansion succeeds only when
// every context is inline.
type offlineLoader struct{ requests []string }

func (l *offlineLoader) LoadDocument(u string) (*ld.RemoteDocument, error) {
	l.requests = append(l.requests, u)
	return nil, fmt.Errorf("network fetch of %s rejected: contexts must be inline", u)
}

// expandOffline expands a JSON-LD document in safe mode, which fails on any
// property that does not expand to an absolute IRI, and returns its nodes.
func expandOffline(t *testing.T, raw []byte) []map[string]any {
	t.Helper()
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("invalid JSON: %v", err)
	}

	loader := &offlineLoader{}
	opts := ld.NewJsonLdOptions("")
	opts.DocumentLoader = loader
	opts.SafeMode = true
	expanded, err := ld.NewJsonLdProcessor().Expand(doc, opts)
	if len(loader.requests) > 0 {
		t.Fatalf("expansion tried to fetch %v", loader.requests)
	}
	if err != nil {
		t.Fatalf("expand: %v", err)
	}

	var nodes []map[string]any
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			if g, ok := v["@graph"]; ok {
				walk(g)
			}
			nodes = append(nodes, v)
			for k, e := range v {
				if k != "@graph" {
					walk(e)
				}
			}
		}
	}
	walk(expanded)
	return nodes
}

// ids returns the @id of every node object in an expanded property value.
func ids(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			if id, ok := m["@id"].(string); ok {
				out = append(out, id)
			}
			if inner, ok := m["@list"]; ok {
				out = append(out, ids(inner)...)
			}
		}
	}
	return out
}

// values returns the @value of every value object in an expanded property value.
func values(v any) []any {
	var out []any
	list, _ := v.([]any)
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			if val, ok := m["@value"]; ok {
				out = append(out, val)
			}
		}
	}
	return out
}

// nodesOfType returns the expanded nodes whose @type contains typ.
func nodesOfType(nodes []map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, n := range nodes {
		types, _ := n["@type"].([]any)
		for _, ty := range types {
			if ty == typ {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

func hasID(v any, id string) bool { return slices.Contains(ids(v), id) }
