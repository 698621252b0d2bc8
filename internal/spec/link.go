package spec

import "strings"

// NextLink returns the target of the rel="next" link in a Link header
// (RFC 8288), as registries use it for paging: `</v2/_catalog?last=a&n=2>;
// rel="next"`. It tolerates spaces, several links separated by commas,
// parameters in any order, and unquoted rel values; it never panics on
// malformed input and reports false when there is no next link.
func NextLink(header string) (string, bool) {
	rest := header
	for {
		lt := strings.IndexByte(rest, '<')
		if lt < 0 {
			return "", false
		}
		gt := strings.IndexByte(rest[lt:], '>')
		if gt < 0 {
			return "", false
		}
		target := rest[lt+1 : lt+gt]
		rest = rest[lt+gt+1:]
		// Parameters run to the next link, which starts at the next '<'
		// (a '<' cannot appear unquoted inside parameters).
		params := rest
		if i := strings.IndexByte(rest, '<'); i >= 0 {
			params = rest[:i]
		}
		for p := range strings.SplitSeq(params, ";") {
			k, v, ok := strings.Cut(p, "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
				continue
			}
			v = strings.Trim(strings.TrimSpace(v), `",`)
			v = strings.TrimSpace(strings.TrimSuffix(v, ","))
			for r := range strings.FieldsSeq(v) {
				if strings.EqualFold(r, "next") {
					return target, target != ""
				}
			}
		}
	}
}
