package main

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
)

// consoleSpan is the part of a span that stdouttrace writes which the test
// reads.
type consoleSpan struct {
	Name        string
	SpanContext struct{ SpanID string }
	Parent      struct{ SpanID string }
	Attributes  []struct {
		Key   string
		Value struct{ Value any }
	}
}

// TestCopyTraceConsole runs acrctl copy with OTEL_TRACES_EXPORTER=console
// and reads the spans it writes to stderr: transfer.Copy, the client's
// operations under it and their HTTP spans, and no credential.
func TestCopyTraceConsole(t *testing.T) {
	f := newFixture(t, true)
	f.pushImage("app", "one", "v1")
	t.Setenv("OTEL_TRACES_EXPORTER", "console")
	r := f.run("", "copy", f.ref("app:v1"), f.ref("mirror:v1")).ok(t)
	names := map[string]string{} // span id -> name
	var spans []consoleSpan
	dec := json.NewDecoder(bufio.NewReader(strings.NewReader(r.stderr)))
	for dec.More() {
		var s consoleSpan
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("stderr is not a stream of JSON spans: %v\n%s", err, r.stderr)
		}
		spans = append(spans, s)
		names[s.SpanContext.SpanID] = s.Name
	}
	counts := map[string]int{}
	for _, s := range spans {
		parent := names[s.Parent.SpanID]
		counts[s.Name]++
		switch {
		case s.Name == "transfer.Copy":
			if parent != "" {
				t.Errorf("transfer.Copy is under %q, want it at the root", parent)
			}
		case strings.HasPrefix(s.Name, "Client."):
			if parent != "transfer.Copy" {
				t.Errorf("%s is under %q, want transfer.Copy", s.Name, parent)
			}
		case strings.HasPrefix(s.Name, "HTTP "):
			if !strings.HasPrefix(parent, "Client.") {
				t.Errorf("%s is under %q, want a Client operation", s.Name, parent)
			}
		default:
			t.Errorf("unexpected span %s", s.Name)
		}
	}
	// Within one registry the layers are mounted, not uploaded.
	if counts["transfer.Copy"] != 1 || counts["Client.GetManifest"] == 0 || counts["Client.MountBlob"] == 0 ||
		counts["Client.SetManifest"] == 0 || counts["HTTP POST"] == 0 || counts["HTTP PUT"] == 0 {
		t.Errorf("spans %v, want one transfer.Copy with GetManifest, MountBlob, SetManifest, HTTP POST and PUT spans", counts)
	}
	for _, secret := range []string{testPassword, "Basic ", "Bearer "} {
		if strings.Contains(r.stderr, secret) {
			t.Errorf("the spans carry %q", secret)
		}
	}
}

// TestTraceExporterNotBuiltIn checks that an exporter acrctl lacks is
// reported and the command still runs, untraced.
func TestTraceExporterNotBuiltIn(t *testing.T) {
	f := newFixture(t, true)
	f.pushImage("app", "one", "v1")
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	r := f.run("", "copy", f.ref("app:v1"), f.ref("mirror:v1")).ok(t)
	if want := "acrctl: OTEL_TRACES_EXPORTER=otlp is not built in"; !strings.HasPrefix(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("stderr %q, want one line starting %q", r.stderr, want)
	}
}
