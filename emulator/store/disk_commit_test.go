package store_test

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/acrgo/acr/emulator/store"
	"github.com/opencontainers/go-digest"
)

// TestDiskGroupCommit runs many Updates at once, so that they share
// commits, with every other one failing (or panicking) after writing: the
// failed ones must leave nothing behind, including the buckets they created
// and the repository they deleted, and the others must all be committed
// durably (read back after a reopen).
func TestDiskGroupCommit(t *testing.T) {
	dir := t.TempDir()
	s := openDisk(t, dir)
	ctx := t.Context()
	now := time.Now().UTC()
	errBoom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutRepo(store.Repository{Name: "victim", Attrs: store.DefaultAttributes()}); err != nil {
			return err
		}
		return tx.PutTag("victim", store.Tag{Name: "keep", Digest: digest.Digest(fmt.Sprintf("sha256:%064d", 1)), CreatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}

	// The first Update holds the commit until the rest have queued behind
	// it, so that they form groups of several.
	release := make(chan struct{})
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		err := s.Update(ctx, func(tx store.Tx) error {
			close(started)
			<-release
			if err := tx.PutRepo(store.Repository{Name: "shared"}); err != nil {
				return err
			}
			return tx.PutTag("shared", store.Tag{Name: "first", Digest: digest.Digest(fmt.Sprintf("sha256:%064d", 2))})
		})
		if err != nil {
			t.Errorf("first update: %v", err)
		}
	})
	<-started
	const n = 48
	errs := make([]error, n)
	panics := make([]any, n)
	for i := range n {
		wg.Go(func() {
			defer func() { panics[i] = recover() }()
			errs[i] = s.Update(ctx, func(tx store.Tx) error {
				repo := fmt.Sprintf("r%02d", i)
				if err := tx.PutRepo(store.Repository{Name: repo}); err != nil {
					return err
				}
				if err := tx.PutTag("shared", store.Tag{Name: repo, Digest: digest.Digest(fmt.Sprintf("sha256:%064d", i))}); err != nil {
					return err
				}
				switch i % 4 {
				case 1:
					if err := tx.DeleteRepo("victim"); err != nil {
						return err
					}
					return errBoom
				case 3:
					if err := tx.DeleteTag("shared", "first"); err != nil {
						return err
					}
					panic("boom")
				}
				return nil
			})
		})
	}
	time.Sleep(100 * time.Millisecond)
	close(release)
	wg.Wait()
	for i := range n {
		switch i % 4 {
		case 1:
			if !errors.Is(errs[i], errBoom) {
				t.Errorf("update %d: got %v, want its own error", i, errs[i])
			}
		case 3:
			if panics[i] != "boom" {
				t.Errorf("update %d: recovered %v, want its own panic", i, panics[i])
			}
		default:
			if errs[i] != nil || panics[i] != nil {
				t.Errorf("update %d: got %v (panic %v), want nil", i, errs[i], panics[i])
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openDisk(t, dir)
	defer s.Close()
	err = s.View(ctx, func(tx store.Tx) error {
		if _, ok, err := tx.Tag("victim", "keep"); err != nil || !ok {
			t.Errorf("victim's tag after failed deletes: ok=%v err=%v, want it kept", ok, err)
		}
		if _, ok, err := tx.Tag("shared", "first"); err != nil || !ok {
			t.Errorf("tag first after a panicking delete: ok=%v err=%v, want it kept", ok, err)
		}
		for i := range n {
			repo := fmt.Sprintf("r%02d", i)
			_, hasRepo, err := tx.Repo(repo)
			if err != nil {
				return err
			}
			_, hasTag, err := tx.Tag("shared", repo)
			if err != nil {
				return err
			}
			want := i%2 == 0
			if hasRepo != want || hasTag != want {
				t.Errorf("update %d: repository stored %v, tag stored %v; want %v", i, hasRepo, hasTag, want)
			}
		}
		var repos []string
		for r, err := range tx.Repos("") {
			if err != nil {
				return err
			}
			repos = append(repos, r.Name)
		}
		if len(repos) != n/2+2 { // r00, r02, ..., shared, victim
			t.Errorf("repositories after reopen: %v, want %d", repos, n/2+2)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDiskGroupCommitGoexit: a write function that calls runtime.Goexit,
// as t.Fatal does, ends the goroutine leading the group commit. The
// Updates queued behind it still get their turn instead of waiting for
// good, and its own writes are not committed.
func TestDiskGroupCommitGoexit(t *testing.T) {
	s := openDisk(t, t.TempDir())
	defer s.Close()
	ctx := t.Context()
	started, release, exited := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		s.Update(ctx, func(tx store.Tx) error {
			close(started)
			<-release
			if err := tx.PutRepo(store.Repository{Name: "gone"}); err != nil {
				return err
			}
			runtime.Goexit()
			return nil
		})
	}()
	<-started
	const n = 4
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- s.Update(ctx, func(tx store.Tx) error { return tx.PutRepo(store.Repository{Name: fmt.Sprintf("q%d", i)}) })
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	<-exited
	for range n {
		select {
		case err := <-errs:
			if err != nil {
				t.Errorf("an Update queued behind the exited one: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("an Update queued behind a write that called runtime.Goexit never returned")
		}
	}
	err := s.View(ctx, func(tx store.Tx) error {
		if _, ok, err := tx.Repo("gone"); err != nil || ok {
			t.Errorf("the exited write's repository: stored %v (%v), want not committed", ok, err)
		}
		for i := range n {
			if _, ok, err := tx.Repo(fmt.Sprintf("q%d", i)); err != nil || !ok {
				t.Errorf("repository q%d: stored %v (%v), want committed", i, ok, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
