// Package console serves a web console for a registry: its repositories
// with counts, sizes and dates, a repository's tags and manifests with
// their lock flags, deletes that say exactly what goes, restores of soft
// deleted manifests, a manifest's layers, platforms, annotations, raw JSON
// and referrers tree, and the registry's storage.
//
// It is built on the client library alone, so it browses whatever an
// [acr.Client] reaches: ACR, the local registry, or any OCI registry, where
// it shows what the OCI API offers and hides what needs ACR's /acr/v1.
//
// A console acts with a registry's credentials, so it guards them: a
// session is started by a one-time token ([Server.NewToken], acrctl
// console) or by signing in with the registry's own users (acrctl serve);
// the browser holds only an HttpOnly, SameSite=Strict session cookie;
// every state-changing request needs the session's CSRF token; pages
// carry a Content-Security-Policy that allows no inline script; and every
// name, tag, annotation and manifest field is rendered escaped by
// html/template. Nothing is fetched from the internet: templates, styles
// and the little script are embedded.
package console
