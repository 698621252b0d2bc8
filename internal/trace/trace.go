// Package trace starts the library's spans through azcore's tracing
// abstraction, so that any tracing.Provider (the Azure SDK's OpenTelemetry
// adapter, azotel, among them) receives them. It follows the Azure SDK
// tracing conventions: a span of kind internal per public operation, named
// like "Client.GetManifest", a span of kind client per HTTP attempt, named
// "HTTP GET", and az.namespace = Microsoft.ContainerRegistry on every span.
//
// A zero tracing.Tracer (no provider) is disabled: every function here then
// returns at once, without allocating.
package trace

import (
	"context"
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/tracing"
)

// Module and Version name the library to the tracing provider (the
// OpenTelemetry instrumentation scope).
const (
	Module  = "github.com/acrgo/acr"
	Version = "0.1"
)

// Attribute keys, after the OpenTelemetry semantic conventions and the Azure
// SDK guidelines.
const (
	AttrNamespace        = "az.namespace"
	AttrClientRequestID  = "az.client_request_id"
	AttrServiceRequestID = "az.service_request_id"
	AttrErrorType        = "error.type"
	AttrMethod           = "http.request.method"
	AttrStatusCode       = "http.response.status_code"
	AttrResendCount      = "http.request.resend_count"
	AttrURL              = "url.full"
	AttrServerAddress    = "server.address"
	AttrServerPort       = "server.port"
	AttrUserAgent        = "user_agent.original"
)

// Namespace is the az.namespace of every span: the Azure resource provider
// of container registries.
const Namespace = "Microsoft.ContainerRegistry"

// NewTracer returns the library's tracer from p, which adds az.namespace to
// every span it starts. A zero Provider gives a disabled Tracer.
func NewTracer(p tracing.Provider) tracing.Tracer {
	t := p.NewTracer(Module, Version)
	if t.Enabled() {
		t.SetAttributes(tracing.Attribute{Key: AttrNamespace, Value: Namespace})
	}
	return t
}

// Layer orders the operations that start spans: an operation's span is
// suppressed when one of its own layer or a higher one is already active in
// the context, as the Azure SDK guidelines ask of a method that calls
// another method of the same SDK. HTTP spans are never suppressed.
type Layer int

const (
	// LayerTask is an operation built on the client, such as transfer.Copy
	// or purge.Run: the client's operations nest under it.
	LayerTask Layer = 1
	// LayerClient is a method of the client, such as Client.GetManifest.
	LayerClient Layer = 2
)

// activeKey is the context key of the innermost active Layer.
type activeKey struct{}

// End ends a span, recording err (when not nil) as its status and
// error.type.
type End func(err error)

func noEnd(error) {}

// Start starts the span of an operation named name (kind internal) and
// returns a context holding it, for the operation's own calls, and the
// function that ends it. With a disabled tracer, or inside an operation of
// the same or a higher layer, it returns ctx and a no-op End.
func Start(ctx context.Context, t tracing.Tracer, layer Layer, name string) (context.Context, End) {
	if !t.Enabled() {
		return ctx, noEnd
	}
	if active, _ := ctx.Value(activeKey{}).(Layer); active >= layer {
		return ctx, noEnd
	}
	ctx, span := t.Start(ctx, name, &tracing.SpanOptions{Kind: tracing.SpanKindInternal})
	ctx = context.WithValue(ctx, activeKey{}, layer)
	return ctx, func(err error) {
		if err != nil {
			span.SetAttributes(tracing.Attribute{Key: AttrErrorType, Value: ErrorType(err)})
			span.SetStatus(tracing.SpanStatusError, err.Error())
		}
		span.End()
	}
}

// ErrorType names err for error.type: the type of the first error in its
// chain that is not a plain wrapper from fmt.Errorf or errors.Join, such as
// "*acr.ResponseError" or "*url.Error", and "context.Canceled" or
// "context.DeadlineExceeded" for an ended context. Its cardinality stays
// low: it never holds a message.
func ErrorType(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "context.Canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "context.DeadlineExceeded"
	}
	for {
		name := fmt.Sprintf("%T", err)
		switch name {
		case "*fmt.wrapError", "*fmt.wrapErrors", "*errors.joinError":
		default:
			return name
		}
		var next error
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			next = u.Unwrap()
		case interface{ Unwrap() []error }:
			if es := u.Unwrap(); len(es) > 0 {
				next = es[0]
			}
		}
		if next == nil {
			return name
		}
		err = next
	}
}
