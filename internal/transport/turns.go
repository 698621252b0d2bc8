package transport

import (
	"context"
	"sync"
)

// turnsKey carries the turns that blob uploads take.
type turnsKey struct{}

// WithTurns returns ctx carrying turns, a channel whose capacity is how
// many blob bodies may be sent at once: a blob upload made with it (the
// streaming PUT of acr's UploadBlob) takes a turn once its upload session
// is open, and gives it back once the transport has written its body (or
// given up on it), not when the registry answers.
func WithTurns(ctx context.Context, turns chan struct{}) context.Context {
	return context.WithValue(ctx, turnsKey{}, turns)
}

// TakeTurn waits for a turn of the turns in ctx (see WithTurns) and
// returns the function that gives it back, which may be called any number
// of times. Without turns in ctx it returns at once, with a function that
// does nothing; it fails only when ctx ends first.
func TakeTurn(ctx context.Context) (func(), error) {
	turns, _ := ctx.Value(turnsKey{}).(chan struct{})
	if turns == nil {
		return func() {}, nil
	}
	select {
	case turns <- struct{}{}:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	var once sync.Once
	return func() { once.Do(func() { <-turns }) }, nil
}
