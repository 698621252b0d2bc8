package transport

import (
	"slices"
	"strings"
)

// Challenge is one authentication challenge from a WWW-Authenticate header
// (RFC 7235 section 4.1), such as
//
//	Bearer realm="https://r.azurecr.io/oauth2/token",service="r.azurecr.io",scope="repository:hello:pull"
type Challenge struct {
	// Scheme is the authentication scheme in lower case: "bearer", "basic".
	Scheme string
	// Params holds the auth-params by lower-case name, unquoted. A name that
	// appears twice keeps its first value. Nil when there are none.
	Params map[string]string
	// Token68 is the challenge's token68 form, when it has one instead of
	// parameters.
	Token68 string
}

// ParseChallenges parses the values of WWW-Authenticate header lines. Each
// value may hold several challenges separated by commas; spaces around "="
// and commas, quoted strings with escapes, token68 and scheme names in any
// case are accepted. Parsing is lenient: a malformed part is skipped up to
// the next comma and what can be read is returned, so the result may be
// empty. It never panics.
func ParseChallenges(values ...string) []Challenge {
	var out []Challenge
	for _, v := range values {
		out = parseChallengeList(v, out)
	}
	return out
}

// challengeParser walks one header value.
type challengeParser struct {
	s string
	i int
}

func parseChallengeList(s string, out []Challenge) []Challenge {
	p := &challengeParser{s: s}
	for {
		p.skipSeparators()
		if p.eof() {
			return out
		}
		scheme := p.token()
		if scheme == "" {
			p.skipPastComma()
			continue
		}
		ch := Challenge{Scheme: strings.ToLower(scheme)}
		if p.skipSpace() {
			p.params(&ch)
		}
		p.skipSpace()
		if !p.eof() && p.peek() != ',' {
			// Garbage where a list separator belongs: resynchronise at
			// the next comma, keeping what was read.
			p.skipPastComma()
		}
		out = append(out, ch)
	}
}

// params reads the token68 or auth-param list after a scheme and its space.
// It stops before anything that starts the next challenge.
func (p *challengeParser) params(ch *Challenge) {
	start := p.i
	if t := p.token68(); t != "" {
		p.skipSpace()
		if p.eof() || p.peek() == ',' {
			ch.Token68 = t
			return
		}
	}
	p.i = start
	rewind := start // where to leave the parser if no parameter follows
	for {
		name := p.token()
		if name == "" {
			p.i = rewind
			return
		}
		p.skipSpace()
		if p.peek() != '=' {
			p.i = rewind // before the comma that precedes the next challenge
			return
		}
		p.i++
		p.skipSpace()
		var value string
		if p.peek() == '"' {
			value = p.quoted()
		} else {
			value = p.bareValue()
		}
		key := strings.ToLower(name)
		if ch.Params == nil {
			ch.Params = make(map[string]string)
		}
		if _, dup := ch.Params[key]; !dup {
			ch.Params[key] = value
		}
		p.skipSpace()
		if p.eof() || p.peek() != ',' {
			return
		}
		// A comma ends this parameter; what follows is either another
		// parameter or the next challenge, which the loop tells apart.
		rewind = p.i
		p.skipSeparators()
	}
}

func (p *challengeParser) eof() bool { return p.i >= len(p.s) }

func (p *challengeParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.i]
}

// skipSpace skips optional whitespace and reports whether there was any.
func (p *challengeParser) skipSpace() bool {
	start := p.i
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
	return p.i > start
}

// skipSeparators skips whitespace and commas (empty list elements are
// allowed by RFC 9110 section 5.6.1).
func (p *challengeParser) skipSeparators() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == ',') {
		p.i++
	}
}

// skipPastComma skips to just after the next comma, or to the end. It
// always advances unless at the end.
func (p *challengeParser) skipPastComma() {
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		if c == ',' {
			return
		}
	}
}

// token reads an RFC 9110 token.
func (p *challengeParser) token() string {
	start := p.i
	for !p.eof() && isTokenChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// token68 reads an RFC 7235 token68.
func (p *challengeParser) token68() string {
	start := p.i
	for !p.eof() && isToken68Char(p.s[p.i]) {
		p.i++
	}
	if p.i == start {
		return ""
	}
	for !p.eof() && p.s[p.i] == '=' {
		p.i++
	}
	return p.s[start:p.i]
}

// quoted reads a quoted-string, unescaping quoted-pairs. An unterminated
// string runs to the end of the value.
func (p *challengeParser) quoted() string {
	p.i++ // opening quote
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		switch c {
		case '"':
			return b.String()
		case '\\':
			if !p.eof() {
				b.WriteByte(p.s[p.i])
				p.i++
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// bareValue reads an unquoted parameter value. RFC 7235 wants a token, but
// registries in the wild send unquoted URLs, so anything up to whitespace, a
// comma or a quote is accepted.
func (p *challengeParser) bareValue() string {
	start := p.i
	for !p.eof() {
		c := p.s[p.i]
		if c == ',' || c == ' ' || c == '\t' || c == '"' {
			break
		}
		p.i++
	}
	return p.s[start:p.i]
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func isToken68Char(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~+/", c) >= 0
}

// String formats ch as a WWW-Authenticate challenge, with parameters in
// name order and every value quoted. ParseChallenges reads it back.
func (ch Challenge) String() string {
	var b strings.Builder
	b.WriteString(ch.Scheme)
	if ch.Token68 != "" {
		b.WriteString(" " + ch.Token68)
		return b.String()
	}
	keys := make([]string, 0, len(ch.Params))
	for k := range ch.Params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(k + `="`)
		v := ch.Params[k]
		for j := 0; j < len(v); j++ {
			if v[j] == '"' || v[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(v[j])
		}
		b.WriteByte('"')
	}
	return b.String()
}

// pickChallenge chooses the challenge to answer: the first Bearer challenge
// with a realm, else the first Basic one.
func pickChallenge(values []string) (Challenge, bool) {
	var basic *Challenge
	chs := ParseChallenges(values...)
	for i, ch := range chs {
		switch ch.Scheme {
		case "bearer":
			if ch.Params["realm"] != "" {
				return ch, true
			}
		case "basic":
			if basic == nil {
				basic = &chs[i]
			}
		}
	}
	if basic != nil {
		return *basic, true
	}
	return Challenge{}, false
}

// NormalizeScopes returns the set of token scopes in lists, each of which
// may hold several space-separated scopes, in canonical form: actions on
// the same resource merged ("repository:a:pull" and "repository:a:push"
// become "repository:a:pull,push"), actions and scopes sorted, duplicates
// removed. A scope that is not type:name:actions is kept as it is. The
// result is the scope part of the token cache key.
func NormalizeScopes(lists ...string) []string {
	type resource struct{ typ, name string }
	actions := make(map[resource][]string)
	var opaque []string
	for _, list := range lists {
		for _, s := range strings.Fields(list) {
			first, last := strings.IndexByte(s, ':'), strings.LastIndexByte(s, ':')
			if first < 0 || first == last || first == 0 || last == len(s)-1 || last-first < 2 {
				opaque = append(opaque, s)
				continue
			}
			r := resource{s[:first], s[first+1 : last]}
			for _, a := range strings.Split(s[last+1:], ",") {
				if a != "" {
					actions[r] = append(actions[r], a)
				}
			}
			if _, ok := actions[r]; !ok {
				opaque = append(opaque, s)
			}
		}
	}
	out := opaque
	for r, as := range actions {
		slices.Sort(as)
		out = append(out, r.typ+":"+r.name+":"+strings.Join(slices.Compact(as), ","))
	}
	slices.Sort(out)
	return slices.Compact(out)
}
