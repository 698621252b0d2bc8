package purge

import (
	"context"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/tracing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/internal/trace"
)

// startSpan starts the span of the purge operation name, such as
// "purge.Run", with client's tracer; the client's operation and HTTP spans
// nest under it. Deletions that failed are in the operation's result, not
// its error, so the span records only the error returned.
func startSpan(ctx context.Context, client *acr.Client, name string) (context.Context, trace.End) {
	var t tracing.Tracer
	if client != nil {
		t = client.Tracer()
	}
	return trace.Start(ctx, t, trace.LayerTask, name)
}
