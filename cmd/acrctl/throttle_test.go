package main

import (
	"regexp"
	"testing"

	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
)

// TestThrottledRetryIsAnnounced: against a registry that throttles (one
// request a second, answered with 429 and Retry-After), a command waits
// out the throttle and succeeds, and says on stderr, without -v, what it
// waits for and for how long, instead of hanging without a word.
func TestThrottledRetryIsAnnounced(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	srv := acrtest.NewServer(t, &emulator.Options{Throttle: 1})
	acrctl(t, "", "repo", "list", srv.Host).ok(t) // takes the second's request
	r := acrctl(t, "", "repo", "list", srv.Host).ok(t)
	notice := regexp.MustCompile(`(?m)^acrctl: retrying in [1-9][0-9]*s \(Ctrl-C stops\): ` + regexp.QuoteMeta(srv.Host) + ` answered 429 Too Many Requests$`)
	if !notice.MatchString(r.stderr) {
		t.Fatalf("stderr does not announce the throttled retry:\n%s", r.stderr)
	}
	r = acrctl(t, "", "repo", "list", srv.Host, "-v").ok(t)
	if notice.MatchString(r.stderr) || !regexp.MustCompile(`msg=retry .*reason="429 Too Many Requests"`).MatchString(r.stderr) {
		t.Errorf("with -v the retry is a debug line, not the notice:\n%s", r.stderr)
	}
}
