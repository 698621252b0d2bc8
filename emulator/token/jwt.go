package token

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxTokenSize is the length in bytes beyond which [Signer.Verify] rejects a
// token without decoding it, and which [Signer.Mint] refuses to exceed.
const MaxTokenSize = 16 << 10

// ErrTooLarge reports claims that would make a token longer than
// MaxTokenSize; [Signer.Mint] wraps it.
var ErrTooLarge = errors.New("token: mint: too large")

// clockSkew is how far in the future a token's "nbf" may lie, to tolerate
// clocks that disagree slightly between processes.
const clockSkew = time.Minute

// Errors returned by [Signer.Verify]. Every one of them wraps
// ErrInvalidToken, so a caller that only needs "reject with 401" matches
// that, and one that words its answer matches the specific sentinel. The
// errors never contain the token.
var (
	// ErrInvalidToken is wrapped by every error that Verify returns.
	ErrInvalidToken = errors.New("token: invalid token")
	// ErrMalformed reports a token that is not a compact JWT with a JSON
	// header and payload, is larger than MaxTokenSize, or lacks "exp".
	ErrMalformed = fmt.Errorf("%w: malformed", ErrInvalidToken)
	// ErrAlgorithm reports a header whose "alg" is not exactly HS256,
	// including "none" and a missing alg.
	ErrAlgorithm = fmt.Errorf("%w: unsupported algorithm", ErrInvalidToken)
	// ErrSignature reports a signature that the Signer's key did not make.
	ErrSignature = fmt.Errorf("%w: bad signature", ErrInvalidToken)
	// ErrExpired reports a token whose "exp" is not after the time given.
	ErrExpired = fmt.Errorf("%w: expired", ErrInvalidToken)
	// ErrNotYetValid reports a token whose "nbf" lies in the future by more
	// than a minute of allowed clock skew.
	ErrNotYetValid = fmt.Errorf("%w: not yet valid", ErrInvalidToken)
	// ErrAudience reports a token minted for another registry host.
	ErrAudience = fmt.Errorf("%w: wrong audience", ErrInvalidToken)
	// ErrIssuer reports a token whose "iss" is not [Issuer].
	ErrIssuer = fmt.Errorf("%w: wrong issuer", ErrInvalidToken)
	// ErrGrantType reports a token of the other kind, such as a refresh
	// token presented where an access token is needed.
	ErrGrantType = fmt.Errorf("%w: wrong grant type", ErrInvalidToken)
)

// headerSegment is the base64url form of the only header this package mints
// and the only algorithm it accepts.
var headerSegment = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// b64 decodes segments strictly: no padding, no non-zero trailing bits, so
// every token has exactly one encoding.
var b64 = base64.RawURLEncoding.Strict()

// Mint returns c as a compact JWT signed with HS256 (RFC 7519 and RFC 7515),
// the form of ACR's refresh and access tokens.
//
// Mint fills an empty ID with a random UUID, an empty Issuer with [Issuer]
// and an empty Version with [Version]; times are truncated to whole seconds.
// ExpiresAt, Audience and GrantType are required.
//
// The payload segment is valid in both base64 alphabets: the Go SDK decodes
// it with the standard alphabet and the Python SDK with b64decode, so it
// must contain neither '-' nor '_' (docs/acr-rest-api.md, checklist item 5).
// Mint escapes the JSON characters whose encoding could produce them and
// pads the JSON with spaces after its opening brace until the segment is
// clean and needs no '=' padding either.
func (s *Signer) Mint(c Claims) (string, error) {
	switch {
	case c.ExpiresAt.IsZero():
		return "", errors.New("token: mint: ExpiresAt is required")
	case c.Audience == "":
		return "", errors.New("token: mint: Audience is required")
	case c.GrantType == "":
		return "", errors.New("token: mint: GrantType is required")
	}
	if c.ID == "" {
		c.ID = newUUID()
	}
	if c.Issuer == "" {
		c.Issuer = Issuer
	}
	if c.Version == "" {
		c.Version = Version
	}
	js, err := json.Marshal(c.wire())
	if err != nil {
		return "", fmt.Errorf("token: mint: %w", err)
	}
	payload, err := stdSafePayload(js)
	if err != nil {
		return "", err
	}
	signingInput := headerSegment + "." + payload
	tok := signingInput + "." + base64.RawURLEncoding.EncodeToString(s.mac(signingInput))
	if len(tok) > MaxTokenSize {
		return "", fmt.Errorf("%w: token of %d bytes exceeds %d", ErrTooLarge, len(tok), MaxTokenSize)
	}
	return tok, nil
}

// stdSafePayload encodes a JSON object as a base64url segment that has no
// '-' or '_' and whose length is a multiple of four.
//
// Only the last sextet of each 3-byte group can be 62 ('-') or 63 ('_') when
// every byte is 7-bit ASCII, and then only for the bytes '>', '?', '~' and
// DEL. JSON strings may spell any character as \uXXXX, so escaping those and
// all non-ASCII characters makes every alignment clean; spaces after the
// opening brace then bring the length to a multiple of three bytes. The
// loop checks the result rather than trusting the argument.
func stdSafePayload(js []byte) (string, error) {
	js = escapeForBase64(js)
	if len(js) == 0 || js[0] != '{' {
		return "", errors.New("token: mint: payload is not a JSON object")
	}
	buf := make([]byte, 0, len(js)+8)
	for pad := 0; pad < 8; pad++ {
		buf = append(buf[:0], '{')
		buf = append(buf, bytes.Repeat([]byte{' '}, pad)...)
		buf = append(buf, js[1:]...)
		if len(buf)%3 != 0 {
			continue
		}
		seg := base64.RawURLEncoding.EncodeToString(buf)
		if !strings.ContainsAny(seg, "-_") {
			return seg, nil
		}
	}
	return "", errors.New("token: mint: cannot encode payload for standard base64")
}

// escapeForBase64 rewrites the output of json.Marshal so that it holds only
// ASCII other than '>', '?', '~' and DEL. Those bytes, and every byte of a
// multi-byte character, occur only inside JSON strings, where \uXXXX means
// the same character.
func escapeForBase64(js []byte) []byte {
	out := make([]byte, 0, len(js))
	for i := 0; i < len(js); {
		c := js[i]
		if c < utf8.RuneSelf && c != '>' && c != '?' && c != '~' && c != 0x7f {
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(js[i:]) // json.Marshal emits valid UTF-8
		i += n
		if r > 0xffff {
			r1, r2 := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
			continue
		}
		out = fmt.Appendf(out, `\u%04x`, r)
	}
	return out
}

// Verify checks token and returns its claims. It accepts only a compact JWT
// of at most [MaxTokenSize] bytes whose header says alg HS256, whose
// signature this Signer made (compared in constant time), whose "iss" is
// [Issuer], whose "aud" equals audience (ignoring case, as host names do),
// whose "grant_type" equals grantType, whose "exp" is after now and whose
// "nbf", if any, is at most a minute after now.
//
// Every error wraps [ErrInvalidToken] and one of the specific sentinels
// ([ErrMalformed], [ErrAlgorithm], [ErrSignature], [ErrExpired],
// [ErrNotYetValid], [ErrAudience], [ErrIssuer], [ErrGrantType]); no error
// contains the token or, before the signature is checked, any part of it.
func (s *Signer) Verify(token string, now time.Time, audience, grantType string) (Claims, error) {
	if len(token) > MaxTokenSize {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxTokenSize)
	}
	if strings.Count(token, ".") != 2 {
		return Claims{}, fmt.Errorf("%w: want three dot-separated segments", ErrMalformed)
	}
	lastDot := strings.LastIndexByte(token, '.')
	hdrSeg, payloadSeg, _ := strings.Cut(token[:lastDot], ".")
	sigSeg := token[lastDot+1:]

	if err := checkHeader(hdrSeg); err != nil {
		return Claims{}, err
	}
	sig, err := b64.DecodeString(sigSeg)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: signature is not base64url", ErrMalformed)
	}
	if !hmac.Equal(sig, s.mac(token[:lastDot])) {
		return Claims{}, ErrSignature
	}

	payload, err := b64.DecodeString(payloadSeg)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: payload is not base64url", ErrMalformed)
	}
	var w wireClaims
	if err := json.Unmarshal(payload, &w); err != nil {
		return Claims{}, fmt.Errorf("%w: payload is not a JSON object of ACR claims", ErrMalformed)
	}
	c := w.claims()
	switch {
	case c.Issuer != Issuer:
		return Claims{}, fmt.Errorf("%w: got %q", ErrIssuer, c.Issuer)
	case !strings.EqualFold(c.Audience, audience):
		return Claims{}, fmt.Errorf("%w: got %q, want %q", ErrAudience, c.Audience, audience)
	case c.GrantType != grantType:
		return Claims{}, fmt.Errorf("%w: got %q, want %q", ErrGrantType, c.GrantType, grantType)
	case c.ExpiresAt.IsZero():
		return Claims{}, fmt.Errorf("%w: no exp claim", ErrMalformed)
	case !now.Before(c.ExpiresAt):
		return Claims{}, fmt.Errorf("%w: at %s", ErrExpired, c.ExpiresAt.Format(time.RFC3339))
	case !c.NotBefore.IsZero() && c.NotBefore.After(now.Add(clockSkew)):
		return Claims{}, fmt.Errorf("%w: until %s", ErrNotYetValid, c.NotBefore.Format(time.RFC3339))
	}
	return c, nil
}

// checkHeader accepts a JOSE header whose "alg" is exactly "HS256", whose
// "typ", if present, is "JWT", and which has no "crit" extensions that this
// package would fail to honour.
func checkHeader(seg string) error {
	if seg == headerSegment {
		return nil
	}
	raw, err := b64.DecodeString(seg)
	if err != nil {
		return fmt.Errorf("%w: header is not base64url", ErrMalformed)
	}
	// A map keeps member names case-sensitive, unlike decoding into a struct.
	var h map[string]json.RawMessage
	if err := json.Unmarshal(raw, &h); err != nil || h == nil {
		return fmt.Errorf("%w: header is not a JSON object", ErrMalformed)
	}
	var alg string
	if err := json.Unmarshal(h["alg"], &alg); err != nil || alg != "HS256" {
		return ErrAlgorithm
	}
	if t, ok := h["typ"]; ok {
		var typ string
		if err := json.Unmarshal(t, &typ); err != nil || typ != "JWT" {
			return fmt.Errorf("%w: header typ is not JWT", ErrMalformed)
		}
	}
	if _, ok := h["crit"]; ok {
		return fmt.Errorf("%w: header has unsupported crit extensions", ErrMalformed)
	}
	return nil
}

func (s *Signer) mac(signingInput string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(signingInput))
	return m.Sum(nil)
}

// newUUID returns a random (version 4) UUID in its canonical text form.
func newUUID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}
