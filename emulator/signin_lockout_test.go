package emulator_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/acrgo/acr/emulator"
)

// signInFrom signs in to reg's /v2/ with Basic credentials from addr
// (host:port) and returns the status.
func signInFrom(reg *emulator.Server, addr, user, pass string) int {
	r := httptest.NewRequest("GET", "http://127.0.0.1:5000/v2/", nil)
	r.RemoteAddr = addr
	r.SetBasicAuth(user, pass)
	w := httptest.NewRecorder()
	reg.ServeHTTP(w, r)
	return w.Code
}

// TestSignInFloodLocksOutNobodyElse: failed sign-ins under ten thousand
// user names from one address (or from many addresses of one IPv6 /64)
// fill only that address's share of the throttle: a correct password from
// an address that did not fail still signs in, while the flooding address
// is throttled, its new names included.
func TestSignInFloodLocksOutNobodyElse(t *testing.T) {
	if testing.Short() {
		t.Skip("ten thousand sign-ins")
	}
	for _, tc := range []struct{ name, attacker, legit string }{
		{"IPv4", "203.0.113.9:%d", "10.0.0.2:1"},
		{"IPv6 /64", "[2001:db8:1:2::%x]:1", "[2001:db8:1:3::1]:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg, err := emulator.New(&emulator.Options{Users: map[string]string{"admin": "s3cret"}})
			if err != nil {
				t.Fatal(err)
			}
			defer reg.Close()
			attacker := func(i int) string { return fmt.Sprintf(tc.attacker, i+1) }
			for i := range 10_020 {
				signInFrom(reg, attacker(i), fmt.Sprintf("u%d", i), "wrong")
			}
			if got := signInFrom(reg, tc.legit, "admin", "s3cret"); got != http.StatusOK {
				t.Errorf("admin with the right password from %s after the flood: %d, want 200", tc.legit, got)
			}
			if got := signInFrom(reg, "10.0.0.3:1", "admin", "s3cret"); got != http.StatusOK {
				t.Errorf("admin with the right password from 10.0.0.3 after the flood: %d, want 200", got)
			}
			// The attacker's further names share its exhausted overflow.
			if got := signInFrom(reg, attacker(20_000), "fresh-name", "guess"); got != http.StatusTooManyRequests {
				t.Errorf("a new name from the flooding address: %d, want 429", got)
			}
		})
	}
}

// TestSignInThrottlePerAddressName: the throttle still stops guessing one
// user's password from one address, and IPv6 addresses of one /64 count
// as one.
func TestSignInThrottlePerAddressName(t *testing.T) {
	reg, err := emulator.New(&emulator.Options{Users: map[string]string{"admin": "s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	for i := range 10 {
		if got := signInFrom(reg, fmt.Sprintf("[2001:db8::%x]:1", i+1), "admin", "wrong"); got != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i+1, got)
		}
	}
	if got := signInFrom(reg, "[2001:db8::ffff]:1", "admin", "s3cret"); got != http.StatusTooManyRequests {
		t.Errorf("the right password from the same /64 after 10 failures: %d, want 429", got)
	}
	if got := signInFrom(reg, "[2001:db8:0:1::1]:1", "admin", "s3cret"); got != http.StatusOK {
		t.Errorf("the right password from another /64: %d, want 200", got)
	}
}
