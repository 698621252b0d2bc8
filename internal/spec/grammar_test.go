package spec

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// The grammars of the OCI distribution and image specs as regular
// expressions, which isName, isTag and IsDigestSyntax must match exactly.
var (
	nameRE   = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagRE    = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
	digestRE = regexp.MustCompile(`^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$`)
)

// checkGrammars compares isName, isTag and IsDigestSyntax with the specs'
// expressions.
func checkGrammars(t *testing.T, s string) {
	t.Helper()
	if got, want := isName(s), nameRE.MatchString(s); got != want {
		t.Fatalf("isName(%q) = %v, the spec's expression says %v", s, got, want)
	}
	if got, want := isTag(s), tagRE.MatchString(s); got != want {
		t.Fatalf("isTag(%q) = %v, the spec's expression says %v", s, got, want)
	}
	if got, want := IsDigestSyntax(s), digestRE.MatchString(s); got != want {
		t.Fatalf("IsDigestSyntax(%q) = %v, the spec's expression says %v", s, got, want)
	}
}

// TestGrammarsMatchSpec compares the matchers with the expressions over
// every string of up to 5 bytes from the interesting alphabet, and over
// random longer ones.
func TestGrammarsMatchSpec(t *testing.T) {
	const alphabet = "a0Z._-/:+="
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		checkGrammars(t, prefix)
		if n == 0 {
			return
		}
		for i := range len(alphabet) {
			gen(prefix+alphabet[i:i+1], n-1)
		}
	}
	gen("", 5)
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		b := make([]byte, 1+rng.IntN(140))
		for i := range b {
			b[i] = "ab09._-/__--A:+="[rng.IntN(16)]
		}
		checkGrammars(t, string(b))
	}
	checkGrammars(t, strings.Repeat("a", 128))
	checkGrammars(t, strings.Repeat("a", 129))
}

func FuzzGrammars(f *testing.F) {
	for _, s := range []string{"a/b", "a__b", "a___b", "a.-b", "a--b/c", "_x", "é", "sha256:ab", "a+b.c:A=_-", "sha256:../x", "a:"} {
		f.Add(s)
	}
	f.Fuzz(checkGrammars)
}

func TestValidateName(t *testing.T) {
	good := []string{"a", "library/hello-world", "a.b_c__d--e/f0", "x/y/z"}
	bad := []string{"", "A", "a/../b", "..", "a//b", "/a", "a/", "a_", "-a", "a b", "a:b", strings.Repeat("a", 256)}
	for _, n := range good {
		if err := ValidateName(n); err != nil {
			t.Errorf("ValidateName(%q): got %v, want nil", n, err)
		}
	}
	for _, n := range bad {
		if err := ValidateName(n); err == nil {
			t.Errorf("ValidateName(%q): got nil, want an error", n)
		}
	}
}

func TestValidateTag(t *testing.T) {
	for _, tg := range []string{"v1", "latest", "_x", "1.0-rc.1", strings.Repeat("a", 128)} {
		if err := ValidateTag(tg); err != nil {
			t.Errorf("ValidateTag(%q): got %v", tg, err)
		}
	}
	for _, tg := range []string{"", ".x", "-x", "a/b", "a:b", strings.Repeat("a", 129)} {
		if err := ValidateTag(tg); err == nil {
			t.Errorf("ValidateTag(%q): got nil, want an error", tg)
		}
	}
}

func TestValidateMediaType(t *testing.T) {
	for _, mt := range []string{"application/vnd.oci.image.manifest.v1+json", "text/plain", "application/spdx+json", "x/y"} {
		if err := ValidateMediaType(mt); err != nil {
			t.Errorf("ValidateMediaType(%q): got %v", mt, err)
		}
	}
	for _, mt := range []string{"", "not a type", "text", "text/", "/plain", "text/plain; charset=utf-8", "a/b/c", "-x/y", strings.Repeat("a", 128) + "/b"} {
		if err := ValidateMediaType(mt); err == nil {
			t.Errorf("ValidateMediaType(%q): got nil, want an error", mt)
		}
	}
	// The hand matcher against the grammar as a regular expression: every
	// byte in every position of a short type, and the length limits.
	re := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$`)
	var cases []string
	for at := range len("ab/cd") {
		for c := range 256 {
			b := []byte("ab/cd")
			b[at] = byte(c)
			cases = append(cases, string(b))
		}
	}
	for _, n := range []int{126, 127, 128} {
		cases = append(cases, strings.Repeat("a", n)+"/b", "a/"+strings.Repeat("b", n), "a/b\n", "a/b/", "é/b")
	}
	for _, mt := range cases {
		if got, want := ValidateMediaType(mt) == nil, re.MatchString(mt); got != want {
			t.Errorf("ValidateMediaType(%q) accepts: %v, the grammar: %v", mt, got, want)
		}
	}
}

func TestParseDigest(t *testing.T) {
	ok := []string{"sha256:" + strings.Repeat("a", 64), "sha512:" + strings.Repeat("0", 128)}
	for _, d := range ok {
		if _, err := ParseDigest(d); err != nil {
			t.Errorf("ParseDigest(%q): %v", d, err)
		}
	}
	for _, d := range []string{"", "sha256:", "sha256:" + strings.Repeat("A", 64), "sha256:" + strings.Repeat("a", 63),
		"md5:" + strings.Repeat("a", 32), "sha384:" + strings.Repeat("a", 96), strings.Repeat("a", 64)} {
		if _, err := ParseDigest(d); err == nil {
			t.Errorf("ParseDigest(%q): got nil, want an error", d)
		}
	}
}

func TestParseUploadRange(t *testing.T) {
	tests := []struct {
		in         string
		start, end int64
		ok         bool
	}{
		{"0-99", 0, 99, true},
		{"bytes 100-199", 100, 199, true},
		{"bytes=5-5", 5, 5, true},
		{"bytes 0-9/10", 0, 9, true},
		{"0-9/*", 0, 9, true},
		{"9-0", 0, 0, false},
		{"-5", 0, 0, false},
		{"a-b", 0, 0, false},
		{"0-", 0, 0, false},
		{"0-99999999999999999999", 0, 0, false},
		{"0-9/x", 0, 0, false},
	}
	for _, tt := range tests {
		s, e, err := ParseUploadRange(tt.in)
		if (err == nil) != tt.ok || (tt.ok && (s != tt.start || e != tt.end)) {
			t.Errorf("ParseUploadRange(%q) = %d, %d, %v; want %d, %d, ok=%v", tt.in, s, e, err, tt.start, tt.end, tt.ok)
		}
	}
	if got := FormatUploadRange(0); got != "0-0" {
		t.Errorf("FormatUploadRange(0) = %q", got)
	}
	if got := FormatUploadRange(10); got != "0-9" {
		t.Errorf("FormatUploadRange(10) = %q", got)
	}
}

func FuzzParseUploadRange(f *testing.F) {
	for _, s := range []string{"0-1", "bytes 1-2", "bytes=3-", "1-2/3", "", "-", "0-9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, b, err := ParseUploadRange(s)
		// The length b-a+1 must be a positive int64.
		if err == nil && (a < 0 || b < a || b-a+1 <= 0) {
			t.Fatalf("ParseUploadRange(%q) = %d, %d without error", s, a, b)
		}
	})
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-1023/4096", "bytes 5-5/*", "bytes 0-0/0", "bytes 9-3/20", "0-1/2", "bytes -/", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, b, n, err := ParseContentRange(s)
		if err == nil && (a < 0 || b < a || (n != -1 && n <= b)) {
			t.Fatalf("ParseContentRange(%q) = %d, %d, %d without error", s, a, b, n)
		}
	})
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"a/b", "..", "a/../b", "A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateName(s) == nil && (strings.Contains(s, "..") || strings.HasPrefix(s, "/") || len(s) > MaxNameLength) {
			t.Fatalf("ValidateName accepted %q", s)
		}
	})
}
