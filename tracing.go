package acr

import (
	"context"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/tracing"

	"github.com/acrgo/acr/internal/trace"
)

// Tracer returns the tracer the client starts its spans with, made from
// ClientOptions.TracingProvider; it is disabled when no provider was set.
// Packages that build operations on the client, as transfer and purge do,
// start their operation's span with it, so that the client's spans nest
// under it.
func (c *Client) Tracer() tracing.Tracer { return c.tracer }

// span starts the span of the client operation name, such as
// "Client.GetManifest", and returns the context for the operation's
// requests and the function that ends the span with the operation's error.
// Exported methods that do I/O begin with
//
//	ctx, endSpan := c.span(ctx, "Client.Method")
//	defer func() { endSpan(err) }()
//
// with err their named error result. Inside another client operation (a
// method calling a method) no second span is started; the HTTP spans nest
// under the outer one. Without a provider it costs a branch.
func (c *Client) span(ctx context.Context, name string) (context.Context, trace.End) {
	return trace.Start(ctx, c.tracer, trace.LayerClient, name)
}

// iterSpan is span for an iterator: its first lines are
//
//	ctx, yield, endSpan := iterSpan(c, ctx, "Client.Tags", yield)
//	defer endSpan()
//
// One span covers one range over the sequence, every page fetch included,
// from the first request until the range ends (its duration so includes
// the time the caller's loop body takes); the first error yielded is
// recorded on it.
func iterSpan[T any](c *Client, ctx context.Context, name string, yield func(T, error) bool) (context.Context, func(T, error) bool, func()) {
	ctx, end := c.span(ctx, name)
	if !c.tracer.Enabled() {
		return ctx, yield, noIterEnd
	}
	var first error
	return ctx, func(v T, err error) bool {
			if err != nil && first == nil {
				first = err
			}
			return yield(v, err)
		}, func() {
			end(first)
		}
}

func noIterEnd() {}
