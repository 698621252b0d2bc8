package purge_test

import (
	"context"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/tracing/azotel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/purge"
)

// TestRunTrace checks that a purge is one trace: a purge.Run span at the
// root, the client's operations (the listings and deletions) under it, and
// their HTTP spans under those.
func TestRunTrace(t *testing.T) {
	e := newEnv(t)
	e.at(1).image("app", "a", "old")
	e.at(20).image("app", "b", "new")
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	client, err := acr.NewClient(e.srv.URL, nil, &acr.ClientOptions{TracingProvider: azotel.NewTracingProvider(tp, nil)})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Set(day(30))
	res, err := purge.Run(t.Context(), client, &purge.Options{Filters: filters("app:.*"), Ago: 15 * purge.Day, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "deleted", refs(res.Deleted), tagRefs("app", "old"))

	spans := exp.GetSpans()
	names := map[oteltrace.SpanID]string{}
	var root []string
	for _, s := range spans {
		names[s.SpanContext.SpanID()] = s.Name
		if !s.Parent.IsValid() {
			root = append(root, s.Name)
		}
	}
	if len(root) != 1 || root[0] != "purge.Run" {
		t.Fatalf("root spans %v, want purge.Run alone", root)
	}
	ops := map[string]bool{}
	for _, s := range spans {
		parent := names[s.Parent.SpanID()]
		switch {
		case strings.HasPrefix(s.Name, "Client."):
			ops[s.Name] = true
			if parent != "purge.Run" {
				t.Errorf("span %s is under %q, want purge.Run", s.Name, parent)
			}
		case strings.HasPrefix(s.Name, "HTTP "):
			if !strings.HasPrefix(parent, "Client.") {
				t.Errorf("span %s is under %q, want a Client operation", s.Name, parent)
			}
		case s.Name != "purge.Run":
			t.Errorf("unexpected span %s under %q", s.Name, parent)
		}
	}
	for _, op := range []string{"Client.Tags", "Client.DeleteTag"} {
		if !ops[op] {
			t.Errorf("no %s span; got %v", op, ops)
		}
	}
}
