package acrtest

import (
	"net/http"
	"strings"
)

// WithoutReferrersAPI wraps a registry so that it looks like one without
// the OCI 1.1 referrers API, as distribution v3 is: GET
// /v2/<name>/referrers/<digest> answers a bare 404 (no OCI error body), and
// no response carries the OCI-Subject header, so clients that push a
// manifest with a subject must keep the referrers tag schema's index
// themselves.
func WithoutReferrersAPI(reg http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The route ends /referrers/<digest>; a repository may be named
		// referrers.
		if i := strings.LastIndex(r.URL.Path, "/referrers/"); strings.HasPrefix(r.URL.Path, "/v2/") && i >= 0 {
			if d := r.URL.Path[i+len("/referrers/"):]; strings.Contains(d, ":") && !strings.Contains(d, "/") {
				http.NotFound(w, r)
				return
			}
		}
		reg.ServeHTTP(&stripSubject{ResponseWriter: w}, r)
	})
}

// stripSubject drops OCI-Subject from the response headers.
type stripSubject struct {
	http.ResponseWriter
	wrote bool
}

func (s *stripSubject) WriteHeader(code int) {
	if !s.wrote {
		s.wrote = true
		s.Header().Del("OCI-Subject")
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *stripSubject) Write(b []byte) (int, error) {
	if !s.wrote {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *stripSubject) Unwrap() http.ResponseWriter { return s.ResponseWriter }
