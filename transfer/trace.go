package transfer

import (
	"context"

	"github.com/acrgo/acr/internal/trace"
)

// startSpan starts the span of the transfer operation name, such as
// "transfer.Copy", with the tracer of the first target that is a registry
// repository whose client traces; the client's operation and HTTP spans
// nest under it. Without such a target it does nothing.
func startSpan(ctx context.Context, name string, targets ...Target) (context.Context, trace.End) {
	for _, t := range targets {
		if r, ok := t.(*repository); ok && r.client != nil && r.client.Tracer().Enabled() {
			return trace.Start(ctx, r.client.Tracer(), trace.LayerTask, name)
		}
	}
	return ctx, func(error) {}
}
