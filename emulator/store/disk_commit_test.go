package store_test

import (
	"errors"
	"fmt"
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
