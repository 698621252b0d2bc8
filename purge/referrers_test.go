package purge_test

import (
	"strings"
	"testing"

	"github.com/acrgo/acr/purge"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestSignaturesAndSBOMs: untagged referrers stay with a kept subject
// (acr-cli#131), and go with a deleted one, reported under it.
func TestSignaturesAndSBOMs(t *testing.T) {
	e := newEnv(t)
	e.at(1)
	v1 := e.image("app", "one", "v1")
	sig1 := e.referrer("app", v1, signature, "sig1")
	sbom1 := e.referrer("app", v1, sbom, "sbom1")
	sbomSig := e.referrer("app", sbom1, signature, "sbom1-sig") // a signature of the SBOM
	v2 := e.image("app", "two", "v2")
	sig2 := e.referrer("app", v2, signature, "sig2")
	e.at(29)
	lateSig := e.referrer("app", v1, signature, "late") // signed yesterday: still goes with v1

	t.Run("untagged-only keeps referrers of tagged images", func(t *testing.T) {
		before := e.state()
		res := e.run(30, purge.Options{Filters: filters("app:.*"), Ago: 10 * purge.Day, UntaggedOnly: true})
		diff(t, "deleted", refs(res.Deleted), []string{})
		diff(t, "state", e.state(), before)
	})

	t.Run("deleting v1 deletes its referrers", func(t *testing.T) {
		res := e.run(30, purge.Options{Filters: filters("app:v1"), Ago: 10 * purge.Day, Untagged: true})
		want := []string{"tag app:v1", manifestRef(purge.KindManifest, "app", v1),
			manifestRef(purge.KindReferrer, "app", sig1), manifestRef(purge.KindReferrer, "app", sbom1),
			manifestRef(purge.KindReferrer, "app", sbomSig), manifestRef(purge.KindReferrer, "app", lateSig)}
		diff(t, "deleted", sorted(refs(res.Deleted)), sorted(want))
		for _, it := range res.Deleted {
			if it.Kind != purge.KindReferrer {
				continue
			}
			wantSubject := v1.Digest
			if it.Digest == sbomSig.Digest {
				wantSubject = sbom1.Digest
			}
			if it.Subject != wantSubject {
				t.Errorf("%s: subject %s, want %s", it.Ref(), it.Subject, wantSubject)
			}
		}
		for _, d := range []ocispec.Descriptor{v1, sig1, sbom1, sbomSig, lateSig} {
			if e.has("app", d.Digest) {
				t.Errorf("%s is still there", d.Digest)
			}
		}
		if !e.has("app", v2.Digest) || !e.has("app", sig2.Digest) {
			t.Error("v2 or its signature was deleted")
		}
	})
}

// TestReferrerThatMustStay: a subject whose referrer keeps a tag or a lock
// is kept, since deleting it would delete the referrer.
func TestReferrerThatMustStay(t *testing.T) {
	e := newEnv(t)
	e.at(1)
	img := e.image("app", "img", "v1")
	tagged := e.referrer("app", img, sbom, "sbom", "sbom-v1") // a tagged SBOM
	locked := e.image("app", "img2", "v2")
	lockedSig := e.referrer("app", locked, signature, "sig")
	e.lockManifest("app", lockedSig.Digest, noDelete())
	before := e.state()

	res := e.run(30, purge.Options{Filters: filters("app:v.*"), Ago: 10 * purge.Day, Untagged: true})
	diff(t, "deleted", sorted(refs(res.Deleted)), tagRefs("app", "v1", "v2"))
	if !e.has("app", img.Digest) || !e.has("app", tagged.Digest) || !e.hasTag("app", "sbom-v1") {
		t.Error("deleted the subject of a tagged referrer, or the referrer")
	}
	if !e.has("app", locked.Digest) || !e.has("app", lockedSig.Digest) {
		t.Error("deleted the subject of a locked referrer, or the referrer")
	}
	if !hasReason(res.Kept, "app@"+img.Digest.String(), "keeps the tag sbom-v1") {
		t.Errorf("kept: got %+v, want %s kept for its tagged referrer", res.Kept, img.Digest)
	}
	if !hasReason(res.Kept, "app@"+locked.Digest.String(), "is locked (deleteEnabled=false)") {
		t.Errorf("kept: got %+v, want %s kept for its locked referrer", res.Kept, locked.Digest)
	}
	if got, want := len(e.state()), len(before)-2; got != want {
		t.Errorf("registry holds %d entries, want %d (two tags fewer)", got, want)
	}

	// With --include-locked the locked signature is unlocked and goes with
	// its subject; the tagged SBOM still keeps its subject.
	res = e.run(30, purge.Options{Filters: filters("app:"), Ago: 10 * purge.Day, Untagged: true, IncludeLocked: true})
	want := []string{manifestRef(purge.KindManifest, "app", locked), manifestRef(purge.KindReferrer, "app", lockedSig)}
	diff(t, "deleted", refs(res.Deleted), want)
	diff(t, "unlocked", refs(res.Unlocked), []string{manifestRef(purge.KindReferrer, "app", lockedSig)})
	if !e.has("app", img.Digest) {
		t.Error("deleted the subject of a tagged referrer")
	}
}

// TestDanglingReferrer: a referrer whose subject is not in the repository
// stays: the OCI spec lets referrers be pushed before their subject.
func TestDanglingReferrer(t *testing.T) {
	e := newEnv(t)
	e.at(1)
	other := newEnv(t)
	ghost := other.image("app", "never pushed here")
	e.image("app", "anchor", "keep") // the repository must exist first
	sig := e.referrer("app", ghost, signature, "early")
	res := e.run(30, purge.Options{Filters: filters("app:"), Ago: purge.Day, UntaggedOnly: true})
	diff(t, "deleted", refs(res.Deleted), []string{})
	if !e.has("app", sig.Digest) {
		t.Error("deleted a referrer whose subject is not pushed yet")
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "kept 1 untagged referrer of a kept subject") {
		t.Errorf("notes: %q", res.Notes)
	}
}

// TestReferrerIndex: a referrer that is an index (an attestation bundle)
// stays with its kept subject, and so do the manifests it holds.
func TestReferrerIndex(t *testing.T) {
	e := newEnv(t)
	e.at(1)
	img := e.image("app", "img", "v1")
	a1 := e.image("app", "attestation-1")
	a2 := e.image("app", "attestation-2")
	subj := ocispec.Descriptor{MediaType: img.MediaType, Digest: img.Digest, Size: img.Size}
	idx := ocispec.Index{Manifests: []ocispec.Descriptor{a1, a2}, Subject: &subj, ArtifactType: "application/vnd.example.bundle"}
	idx.SchemaVersion = 2
	bundle := e.push("app", idx)
	before := e.state()
	res := e.run(30, purge.Options{Filters: filters("app:"), Ago: purge.Day, UntaggedOnly: true})
	diff(t, "deleted", refs(res.Deleted), []string{})
	diff(t, "state", e.state(), before)

	// With its subject deleted, the bundle goes with it, and then the
	// manifests it held, which no kept index references any more.
	res = e.run(30, purge.Options{Filters: filters("app:v1"), Ago: purge.Day, Untagged: true})
	want := []string{"tag app:v1", manifestRef(purge.KindManifest, "app", img), manifestRef(purge.KindReferrer, "app", bundle),
		manifestRef(purge.KindManifest, "app", a1), manifestRef(purge.KindManifest, "app", a2)}
	diff(t, "deleted", refs(res.Deleted)[:3], want[:3])
	diff(t, "deleted", sorted(refs(res.Deleted)), sorted(want))
	for _, it := range res.Deleted[3:] {
		if it.Index != bundle.Digest {
			t.Errorf("%s: index %s, want the bundle %s", it.Ref(), it.Index, bundle.Digest)
		}
	}
	if len(e.state()) != 0 {
		t.Errorf("left: %v", e.state())
	}
}

// TestUnreferencedOnly (acr-cli#621): with UnreferencedOnly, an untagged
// manifest that has referrers stays with them, whatever its age; one
// without referrers goes. Without Untagged or UntaggedOnly it is refused.
func TestUnreferencedOnly(t *testing.T) {
	e := newEnv(t)
	e.at(1)
	signed := e.image("app", "signed", "v1")
	sig := e.referrer("app", signed, signature, "sig")
	plain := e.image("app", "plain", "v2")
	e.at(2)
	e.image("app", "current", "v3")

	res := e.run(30, purge.Options{Filters: filters("app:v[12]"), Ago: 10 * purge.Day, Untagged: true, UnreferencedOnly: true})
	diff(t, "deleted", sorted(refs(res.Deleted)), sorted(append(tagRefs("app", "v1", "v2"), manifestRef(purge.KindManifest, "app", plain))))
	if !e.has("app", signed.Digest) || !e.has("app", sig.Digest) {
		t.Error("deleted the signed image or its signature")
	}
	if !hasReason(res.Kept, "app@"+signed.Digest.String(), "only manifests without referrers are purged") {
		t.Errorf("kept: got %+v, want %s kept for its referrer", res.Kept, signed.Digest)
	}

	// Later runs keep it too; without the option it goes with its signature.
	res = e.run(60, purge.Options{Filters: filters("app:"), Ago: 10 * purge.Day, UntaggedOnly: true, UnreferencedOnly: true})
	diff(t, "deleted", refs(res.Deleted), []string{})
	res = e.run(60, purge.Options{Filters: filters("app:"), Ago: 10 * purge.Day, UntaggedOnly: true})
	diff(t, "deleted", refs(res.Deleted), []string{manifestRef(purge.KindManifest, "app", signed), manifestRef(purge.KindReferrer, "app", sig)})

	if _, err := purge.Run(t.Context(), e.client, &purge.Options{Filters: filters("app:.*"), UnreferencedOnly: true}); err == nil || !strings.Contains(err.Error(), "set Untagged or UntaggedOnly") {
		t.Errorf("UnreferencedOnly alone: got %v, want an error naming Untagged", err)
	}
}
