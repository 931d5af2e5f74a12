package server

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/steward-rehab/steward/api"
)

// openAPIDoc is the part of api/openapi.yaml the tests compare with the
// route table.
type openAPIDoc struct {
	OpenAPI string                                 `yaml:"openapi"`
	Paths   map[string]map[string]openAPIOperation `yaml:"paths"`
}

type openAPIOperation struct {
	OperationID string            `yaml:"operationId"`
	Security    *[]map[string]any `yaml:"security"`
	Parameters  []map[string]any  `yaml:"parameters"`
	Responses   map[string]any    `yaml:"responses"`
}

func readOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := yaml.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatalf("parse api/openapi.yaml: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("api/openapi.yaml declares openapi %q, want 3.1.0", doc.OpenAPI)
	}
	return doc
}

// docPath turns a route pattern into its OpenAPI path: {path...} is
// {path}.
func docPath(pattern string) string { return strings.ReplaceAll(pattern, "...}", "}") }

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := readOpenAPI(t)
	served := map[string]bool{}
	for _, rt := range table() {
		method := strings.ToLower(rt.method)
		path := docPath(rt.path)
		served[method+" "+path] = true
		op, ok := doc.Paths[path][method]
		if !ok {
			t.Errorf("%s %s is served but not in api/openapi.yaml", rt.method, path)
			continue
		}

		var documented []string
		for code := range op.Responses {
			documented = append(documented, code)
		}
		var want []string
		for _, code := range rt.statuses {
			want = append(want, fmt.Sprint(code))
		}
		sort.Strings(documented)
		sort.Strings(want)
		if !slices.Equal(documented, want) {
			t.Errorf("%s %s: api/openapi.yaml documents statuses %v, the route answers %v", rt.method, path, documented, want)
		}

		public := op.Security != nil && len(*op.Security) == 0
		if public != rt.public {
			t.Errorf("%s %s: api/openapi.yaml says public=%v, the route is public=%v", rt.method, path, public, rt.public)
		}

		for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
			found := slices.ContainsFunc(op.Parameters, func(p map[string]any) bool { return p["name"] == m[1] && p["in"] == "path" })
			if !found {
				t.Errorf("%s %s: path parameter %s is not declared", rt.method, path, m[1])
			}
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if !served[method+" "+path] {
				t.Errorf("api/openapi.yaml documents %s %s, which the server does not serve", strings.ToUpper(method), path)
			}
		}
	}
}

func TestOpenAPIOperationIDsUnique(t *testing.T) {
	doc := readOpenAPI(t)
	seen := map[string]string{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			where := strings.ToUpper(method) + " " + path
			if op.OperationID == "" {
				t.Errorf("%s has no operationId", where)
			}
			if other, dup := seen[op.OperationID]; dup {
				t.Errorf("operationId %s is used by %s and %s", op.OperationID, other, where)
			}
			seen[op.OperationID] = where
		}
	}
}
