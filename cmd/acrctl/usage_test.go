package main

import (
	"strings"
	"testing"
)

// TestUsageErrors: cobra's own usage errors come out in acrctl's one-line
// style, with the fix and exit code 2, and no cobra phrasing leaks
// ("Did you mean this?", flag groups in brackets, "arg(s)").
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"tags", "list", "x"}, []string{`unknown command "tags"`, `did you mean "tag"?`, "acrctl --help"}},
		{[]string{"tag", "lst", "x"}, []string{`unknown command "lst"`, "acrctl tag --help", `did you mean "list"?`}},
		{[]string{"serve", "--data", "x", "--memory"}, []string{"--data and --memory cannot be used together", "pick one"}},
		{[]string{"serve", "--tls-cert", "a"}, []string{"--tls-cert and --tls-key go together"}},
		{[]string{"push", "127.0.0.1:1/a:v1"}, []string{"acrctl push needs at least 2 arguments, got 1", "usage: acrctl push REF FILE"}},
		{[]string{"push", "127.0.0.1:1/a:v1", "usage_test.go", "--annotation", "k=a", "--annotation", "k=b"}, []string{`--annotation k is given twice ("a", then "b")`, "give each key once"}},
		{[]string{"attach", "127.0.0.1:1/a:v1", "usage_test.go", "--artifact-type", "x/y", "--annotation", "k=a", "--annotation", "k=a"}, []string{`--annotation k is given twice`}},
		{[]string{"push", "127.0.0.1:1/a:v1", "usage_test.go", "--artifact-type", "not a type"}, []string{`--artifact-type: invalid media type "not a type"`, "TYPE/SUBTYPE"}},
		{[]string{"attach", "127.0.0.1:1/a:v1", "usage_test.go", "--artifact-type", "sbom"}, []string{`--artifact-type: invalid media type "sbom"`}},
		{[]string{"push", "127.0.0.1:1/a:v1", "usage_test.go", "--config", "usage_test.go:application/json;v=1"}, []string{`--config usage_test.go: invalid media type "application/json;v=1"`}},
		{[]string{"push", "127.0.0.1:1/a:v1", "usage_test.go:text/plain;charset=utf-8"}, []string{`usage_test.go: invalid media type "text/plain;charset=utf-8"`}},
		{[]string{"push", "127.0.0.1:1/a:v1", "-"}, []string{"- (stdin) is not a file", "acrctl blob put HOST/REPO -"}},
		{[]string{"attach", "127.0.0.1:1/a:v1", "-", "--artifact-type", "application/vnd.example"}, []string{"- (stdin) is not a file"}},
		// az acr's flags get acrctl's spelling.
		{[]string{"tag", "list", "127.0.0.1:1/a", "--orderby", "time_desc"}, []string{"unknown flag: --orderby, as az acr spells it", "--order time-desc|time-asc"}},
		{[]string{"repo", "show", "127.0.0.1:1", "--repository", "a"}, []string{"unknown flag: --repository, as az acr spells it", "HOST/REPO"}},
		{[]string{"manifest", "show", "--image", "a:v1"}, []string{"unknown flag: --image, as az acr spells it", "HOST/REPO:TAG"}},
		{[]string{"tag", "list", "127.0.0.1:1/a", "--detail"}, []string{"unknown flag: --detail, as az acr spells it", "-o json"}},
		{[]string{"tag", "list", "127.0.0.1:1/a", "--top", "-2"}, []string{"--top -2: want a number of items"}},
		{[]string{"tag", "list", "127.0.0.1:1/a", "--query", "[0]"}, []string{"unknown flag: --query, as az acr spells it", "jq"}},
		{[]string{"tag", "list", "127.0.0.1:1/a", "-o", "tsv"}, []string{`--output "tsv": want text, json or name`, "-o json | jq -r", "-o name prints one name per line"}},
		{[]string{"tag", "show", "127.0.0.1:1/a:v1", "-o", "table"}, []string{`--output "table": want text or json`, "-o json | jq -r"}},
	} {
		r := acrctl(t, "", tc.args...).fails(t, 2, tc.want...)
		for _, leak := range []string{"Did you mean this", "in the group [", "arg(s)", "; ;", "\t"} {
			if strings.Contains(r.stderr, leak) {
				t.Errorf("%v: %q leaks %q", tc.args, r.stderr, leak)
			}
		}
		if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: more than one line: %q", tc.args, r.stderr)
		}
	}
}
