package transport

import (
	"context"
	"sync"
)

// turnsKey carries the turns that blob uploads take.
type turnsKey struct{}

// turns is what WithTurns puts in a context.
type turns struct {
	ch     chan struct{}
	onTurn func(context.Context) error
}

// WithTurns returns ctx carrying ch, a channel whose capacity is how many
// blob bodies may be sent at once: each attempt of a blob upload made
// with it (the streaming PUT of acr's UploadBlob) takes a turn once its
// upload session is open, and gives it back once the transport has
// written its body (or given up on it), not when the registry answers.
// onTurn, when set, runs each time a turn is taken, before the body is
// sent, in the uploading goroutine; its failure fails the upload.
func WithTurns(ctx context.Context, ch chan struct{}, onTurn func(context.Context) error) context.Context {
	return context.WithValue(ctx, turnsKey{}, turns{ch: ch, onTurn: onTurn})
}

// TakeTurn waits for a turn of the turns in ctx (see WithTurns), runs
// their onTurn, and returns the function that gives the turn back, which
// may be called any number of times. Without turns in ctx it returns at
// once, with a function that does nothing. It fails when ctx ends first
// or onTurn fails, and then holds no turn.
func TakeTurn(ctx context.Context) (func(), error) {
	t, _ := ctx.Value(turnsKey{}).(turns)
	if t.ch == nil {
		return func() {}, nil
	}
	select {
	case t.ch <- struct{}{}:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	var once sync.Once
	give := func() { once.Do(func() { <-t.ch }) }
	if t.onTurn != nil {
		if err := t.onTurn(ctx); err != nil {
			give()
			return nil, err
		}
	}
	return give, nil
}
