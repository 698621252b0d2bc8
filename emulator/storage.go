package emulator

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/acrgo/acr/emulator/store"
	"github.com/acrgo/acr/internal/spec"
	"github.com/opencontainers/go-digest"
)

// DefaultBlobRedirectTTL is how long a blob download's storage URL stays
// valid when Options.BlobRedirectTTL is 0.
const DefaultBlobRedirectTTL = 20 * time.Minute

// blobStorage signs and checks the storage URLs of redirected blob
// downloads (Options.BlobStorageURL), the way ACR hands out Azure Storage
// URLs with a shared access signature.
type blobStorage struct {
	base *url.URL
	ttl  time.Duration
	key  []byte
}

func newBlobStorage(base string, ttl time.Duration) (*blobStorage, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("emulator: BlobStorageURL %q is not an http or https URL with a host", base)
	}
	if ttl <= 0 {
		ttl = DefaultBlobRedirectTTL
	}
	key := make([]byte, 32)
	rand.Read(key)
	return &blobStorage{base: u, ttl: ttl, key: key}, nil
}

// sign returns the MAC of a download of d that expires at unix time se.
func (b *blobStorage) sign(d digest.Digest, se int64) string {
	m := hmac.New(sha256.New, b.key)
	fmt.Fprintf(m, "%s\n%d", d, se)
	return hex.EncodeToString(m.Sum(nil))
}

// location is the signed storage URL of d, valid until now + ttl.
func (b *blobStorage) location(d digest.Digest, now time.Time) string {
	se := now.Add(b.ttl).Unix()
	u := *b.base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/blobs/" + d.String()
	u.RawQuery = url.Values{"se": {strconv.FormatInt(se, 10)}, "sig": {b.sign(d, se)}}.Encode()
	return u.String()
}

// redirectBlob answers a blob GET with 307 to the blob's storage URL, with
// the headers and body of ACR's redirect (N CanGetBlobLocation).
func (s *Server) redirectBlob(w http.ResponseWriter, d digest.Digest) {
	loc := s.storage.location(d, s.now())
	body := `<a href="` + html.EscapeString(loc) + `">Temporary Redirect</a>.` + "\n\n"
	h := w.Header()
	h.Set("Location", loc)
	h.Set(spec.HeaderContentDigest, d.String())
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusTemporaryRedirect)
	io.WriteString(w, body)
}

// StorageHandler serves the blob downloads that the registry redirects to
// Options.BlobStorageURL: serve it at that URL, on an origin other than the
// registry's. Like Azure Storage behind ACR, it takes no registry
// credentials: a request is allowed by its URL's signature until the URL
// expires, and one that carries an Authorization header is refused (403
// AuthenticationFailed), as Azure Storage refuses a SAS URL sent with a
// bearer token, so that a client forwarding its registry token fails here
// as it would against ACR. Errors are Azure Storage's XML documents. It
// answers 404 for everything when the registry has no BlobStorageURL.
func (s *Server) StorageHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Ms-Request-Id", newRequestID())
		if err := s.serveStorage(w, r); err != nil {
			var se *storageError
			if !errors.As(err, &se) {
				// The detail can name the server's files: it goes to
				// the log only.
				s.logInternal(r, w, err)
				se = &storageError{http.StatusInternalServerError, "InternalError", "The server encountered an internal error. Please retry the request."}
			}
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(se.status)
			if r.Method != http.MethodHead {
				fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>%s</Code><Message>", se.code)
				xml.EscapeText(w, []byte(se.message))
				io.WriteString(w, "</Message></Error>")
			}
		}
	})
}

// storageError is an Azure Storage error: status, code and message.
type storageError struct {
	status        int
	code, message string
}

func (e *storageError) Error() string { return e.code + ": " + e.message }

func (s *Server) serveStorage(w http.ResponseWriter, r *http.Request) error {
	if s.storage == nil {
		return &storageError{http.StatusNotFound, "ResourceNotFound", "The specified resource does not exist."}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return &storageError{http.StatusMethodNotAllowed, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb " + r.Method + "."}
	}
	if r.Header.Get("Authorization") != "" {
		return &storageError{http.StatusForbidden, "AuthenticationFailed",
			"Server failed to authenticate the request: the URL carries a signature, and the request also an Authorization header (a registry token must not be sent to storage)."}
	}
	rest, ok := strings.CutPrefix(r.URL.Path, strings.TrimSuffix(s.storage.base.Path, "/")+"/blobs/")
	d, err := digest.Parse(rest)
	if !ok || err != nil {
		return &storageError{http.StatusNotFound, "ResourceNotFound", "The specified resource does not exist."}
	}
	q := r.URL.Query()
	se, err := strconv.ParseInt(q.Get("se"), 10, 64)
	if err != nil || !hmac.Equal([]byte(q.Get("sig")), []byte(s.storage.sign(d, se))) {
		return &storageError{http.StatusForbidden, "AuthenticationFailed", "Server failed to authenticate the request: the signature does not match."}
	}
	if s.now().Unix() > se {
		return &storageError{http.StatusForbidden, "AuthenticationFailed", "Server failed to authenticate the request: signed expiry time has passed."}
	}
	f, err := s.store.OpenBlob(r.Context(), d)
	if errors.Is(err, store.ErrNotFound) {
		return &storageError{http.StatusNotFound, "BlobNotFound", "The specified blob does not exist."}
	}
	if err != nil {
		return err
	}
	defer f.Close()
	// Azure Storage's answer behind ACR: no Docker-Content-Digest, and
	// the blob type ACR stores layers as (G TestBlobClient_GetChunk).
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("X-Ms-Blob-Type", "AppendBlob")
	h.Set("ETag", `"`+d.Encoded()[:32]+`"`)
	http.ServeContent(blobResponse{w}, r, "", time.Time{}, f)
	return nil
}
