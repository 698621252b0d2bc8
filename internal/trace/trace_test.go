package trace

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/tracing"
)

// recorder is a tracing.Provider that notes the spans started and ended.
type recorder struct {
	started, ended []string
	attrs          map[string][]tracing.Attribute
	status         map[string]string
}

func (r *recorder) provider() tracing.Provider {
	r.attrs, r.status = map[string][]tracing.Attribute{}, map[string]string{}
	return tracing.NewProvider(func(name, version string) tracing.Tracer {
		return tracing.NewTracer(func(ctx context.Context, span string, o *tracing.SpanOptions) (context.Context, tracing.Span) {
			r.started = append(r.started, span)
			r.attrs[span] = append(r.attrs[span], o.Attributes...)
			return ctx, tracing.NewSpan(tracing.SpanImpl{
				End:           func() { r.ended = append(r.ended, span) },
				SetAttributes: func(a ...tracing.Attribute) { r.attrs[span] = append(r.attrs[span], a...) },
				SetStatus:     func(_ tracing.SpanStatus, d string) { r.status[span] = d },
			})
		}, nil)
	}, nil)
}

func TestStartNesting(t *testing.T) {
	var r recorder
	tr := NewTracer(r.provider())
	ctx, endTask := Start(t.Context(), tr, LayerTask, "transfer.Copy")
	ctx2, endInnerTask := Start(ctx, tr, LayerTask, "transfer.Inner") // suppressed: a task inside a task
	op, endOp := Start(ctx2, tr, LayerClient, "Client.GetManifest")
	_, endNested := Start(op, tr, LayerClient, "Client.SetManifest") // suppressed: a method inside a method
	endNested(nil)
	endOp(errors.New("boom"))
	endInnerTask(nil)
	endTask(nil)
	if got, want := fmt.Sprint(r.started, r.ended), "[transfer.Copy Client.GetManifest] [Client.GetManifest transfer.Copy]"; got != want {
		t.Errorf("started and ended %s, want %s", got, want)
	}
	if r.status["Client.GetManifest"] != "boom" || r.status["transfer.Copy"] != "" {
		t.Errorf("statuses %v, want boom on Client.GetManifest only", r.status)
	}
	for _, span := range r.started {
		if !hasAttr(r.attrs[span], AttrNamespace, Namespace) {
			t.Errorf("span %s has attributes %v, want az.namespace %s", span, r.attrs[span], Namespace)
		}
	}
	if !hasAttr(r.attrs["Client.GetManifest"], AttrErrorType, "*errors.errorString") {
		t.Errorf("the failed span has attributes %v, want error.type *errors.errorString", r.attrs["Client.GetManifest"])
	}
}

func hasAttr(attrs []tracing.Attribute, key string, v any) bool {
	for _, a := range attrs {
		if a.Key == key && a.Value == v {
			return true
		}
	}
	return false
}

// TestStartOffAllocatesNothing checks that without a provider an
// operation's span costs no allocation.
func TestStartOffAllocatesNothing(t *testing.T) {
	tr := NewTracer(tracing.Provider{})
	ctx := t.Context()
	if n := testing.AllocsPerRun(100, func() {
		_, end := Start(ctx, tr, LayerClient, "Client.GetManifest")
		end(nil)
	}); n != 0 {
		t.Errorf("Start and End without a provider allocate %v times, want 0", n)
	}
}

type myError struct{}

func (*myError) Error() string { return "mine" }

func TestErrorType(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&myError{}, "*trace.myError"},
		{fmt.Errorf("acr: GET x: %w", &myError{}), "*trace.myError"},
		{fmt.Errorf("a: %w (%w)", fmt.Errorf("b: %w", &url.Error{Op: "Get", URL: "u", Err: errors.New("x")}), &myError{}), "*url.Error"},
		{errors.Join(&myError{}, errors.New("x")), "*trace.myError"},
		{fmt.Errorf("wrapped: %w", ctx.Err()), "context.Canceled"},
		{fmt.Errorf("no cause"), "*errors.errorString"},
	} {
		if got := ErrorType(tc.err); got != tc.want {
			t.Errorf("ErrorType(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
