package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/tracing"
	"github.com/Azure/azure-sdk-for-go/sdk/tracing/azotel"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// tracingKey is the context key of the run's tracing provider.
type tracingKey struct{}

// tracingFromEnv returns the tracing provider OTEL_TRACES_EXPORTER asks
// for, after the OpenTelemetry SDK's environment variable: "console"
// writes each span as JSON to stderr when it ends; unset or "none" traces
// nothing. Other exporters (otlp, zipkin) are not built in: they are
// reported on stderr and tracing stays off. The returned function flushes
// and stops the provider.
func tracingFromEnv(stderr io.Writer) (tracing.Provider, func()) {
	switch v := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER"))); v {
	case "", "none":
		return tracing.Provider{}, func() {}
	case "console":
		exp, err := stdouttrace.New(stdouttrace.WithWriter(stderr))
		if err != nil {
			fmt.Fprintf(stderr, "acrctl: OTEL_TRACES_EXPORTER=console: %v; tracing is off\n", err)
			return tracing.Provider{}, func() {}
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		return azotel.NewTracingProvider(tp, nil), func() { tp.Shutdown(context.Background()) }
	default:
		fmt.Fprintf(stderr, "acrctl: OTEL_TRACES_EXPORTER=%s is not built in (acrctl writes spans only with console, to stderr); tracing is off\n", v)
		return tracing.Provider{}, func() {}
	}
}

// tracingProvider returns the run's tracing provider from ctx.
func tracingProvider(ctx context.Context) tracing.Provider {
	if ctx == nil {
		return tracing.Provider{}
	}
	p, _ := ctx.Value(tracingKey{}).(tracing.Provider)
	return p
}
