"""Microsoft's Python SDK for Azure Container Registry against `acrctl serve`.

Drives every public method of azure.containerregistry.ContainerRegistryClient
(and of its aio twin) as Debian's python3-azure ships it (1.1.0b2), the seed
README's samples translated to Python, anonymous pull, and lock refusals,
checking the values that come back. Run by .ci/clients/python.sh, which starts
two servers over TLS (self-signed, trusted through REQUESTS_CA_BUNDLE and
SSL_CERT_FILE; verification is never turned off):

  --url       acrctl serve --aad-token TOKEN --user USER:PASSWORD
  --anon-url  acrctl serve --aad-token TOKEN --anonymous-pull --storage-addr ...

Prints one `ok   step` or `FAIL step: reason` line per step and exits 1 when
any step failed.
"""

import argparse
import asyncio
import hashlib
import inspect
import io
import json
import os
import sys
import tempfile
import time
import traceback
from urllib.parse import urlparse

from azure.core.credentials import AccessToken
from azure.core.exceptions import (ClientAuthenticationError, HttpResponseError,
                                   ResourceNotFoundError)

import azure.containerregistry
from azure.containerregistry import (ArtifactArchitecture, ArtifactManifestOrder,
                                     ArtifactOperatingSystem, ArtifactTagOrder,
                                     ContainerRegistryClient, RepositoryProperties)
from azure.containerregistry._generated.models import Descriptor, OCIManifest
from azure.containerregistry.aio import ContainerRegistryClient as AsyncContainerRegistryClient

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawreg  # noqa: E402

# The public surface of 1.1.0b2 that this file exercises. A package with
# other methods fails the "surface" step, so nothing goes untested unnoticed.
SYNC_METHODS = {
    "close", "delete_blob", "delete_manifest", "delete_repository", "delete_tag",
    "download_blob", "download_manifest", "get_manifest_properties",
    "get_repository_properties", "get_tag_properties", "list_manifest_properties",
    "list_repository_names", "list_tag_properties", "update_manifest_properties",
    "update_repository_properties", "update_tag_properties", "upload_blob", "upload_manifest",
}
ASYNC_METHODS = SYNC_METHODS - {"delete_blob", "download_blob", "download_manifest",
                                "upload_blob", "upload_manifest"}

ARM_SCOPE = "https://management.azure.com/.default"
LOCKED = 405  # ACR refuses a locked artifact with 405 REGISTRY_DISALLOWED_OPERATION (Azure/acr-cli#70)


class StaticTokenCredential:
    """A TokenCredential that hands out one fixed Entra ID token, the one
    the server was started with (--aad-token). It records the scopes asked."""

    def __init__(self, token):
        self.token = token
        self.scopes = []

    def get_token(self, *scopes, **kwargs):
        self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)


class AsyncStaticTokenCredential(StaticTokenCredential):
    """The same credential for the aio client (an AsyncTokenCredential)."""

    async def get_token(self, *scopes, **kwargs):
        return StaticTokenCredential.get_token(self, *scopes, **kwargs)

    async def close(self):
        pass

    async def __aenter__(self):
        return self

    async def __aexit__(self, *args):
        pass


# ---- reporting ---------------------------------------------------------------

failures = []


def step(name, fn, *args):
    """Runs one check; a check fails by raising (usually AssertionError)."""
    try:
        note = fn(*args)
    except Exception as e:  # noqa: BLE001 - every failure is reported the same way
        reason = f"{type(e).__name__}: {e}".replace("\n", " ")
        if not isinstance(e, AssertionError) and os.environ.get("CHECK_TRACE"):
            traceback.print_exc()
        print(f"  FAIL {name}: {reason[:600]}", flush=True)
        failures.append(name)
        return None
    print(f"  ok   {name}" + (f" ({note})" if isinstance(note, str) and note else ""), flush=True)
    return note


def eq(got, want, what):
    assert got == want, f"{what}: got {got!r}, want {want!r}"


def raises(cls, fn, *args, **kwargs):
    """Calls fn and returns the exception of type cls it raised."""
    try:
        fn(*args, **kwargs)
    except cls as e:
        return e
    except Exception as e:  # noqa: BLE001
        raise AssertionError(f"raised {type(e).__name__} (status {getattr(e, 'status_code', None)}), "
                             f"want {cls.__name__}: {e}") from e
    raise AssertionError(f"no error, want {cls.__name__}")


def error_code(e):
    """The first OCI/ACR error code in an HttpResponseError's body."""
    try:
        return json.loads(e.response.text())["errors"][0]["code"]
    except Exception:  # noqa: BLE001
        return None


def refused(fn, *args, **kwargs):
    """Asserts that fn is refused as ACR refuses locked artifacts: 405 with
    code REGISTRY_DISALLOWED_OPERATION."""
    e = raises(HttpResponseError, fn, *args, **kwargs)
    eq((e.status_code, error_code(e)), (LOCKED, "REGISTRY_DISALLOWED_OPERATION"), "refusal")
    return f"{e.status_code} {error_code(e)}"


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def drain(result):
    return result.data.read()


def attrs(p):
    return (p.can_delete, p.can_write, p.can_read, p.can_list)


ALL_TRUE = (True, True, True, True)


# ---- content -----------------------------------------------------------------

def oci_manifest(client, repo, name, tag=None):
    """Uploads a config and a layer named after name and an OCIManifest over
    them, as the README's upload sample does. Returns (digest, manifest)."""
    config = f'{{"name":"{name}"}}'.encode()
    layer = f"layer {name}\n".encode()
    cd = client.upload_blob(repo, io.BytesIO(config))
    ld = client.upload_blob(repo, io.BytesIO(layer))
    m = OCIManifest(config=Descriptor(media_type=rawreg.OCI_CONFIG, digest=cd, size=len(config)),
                    layers=[Descriptor(media_type=rawreg.OCI_LAYER, digest=ld, size=len(layer))],
                    schema_version=2)
    return client.upload_manifest(repo, m, tag=tag), m


# ---- the checks ----------------------------------------------------------------

class Checks:
    def __init__(self, args):
        self.a = args
        self.host = urlparse(args.url).netloc
        self.cred = StaticTokenCredential(args.token)
        self.c = ContainerRegistryClient(args.url, self.cred)
        self.s = {}  # state shared between steps

    # -- surface
    def surface(self):
        eq(azure.containerregistry.__version__, "1.1.0b2", "azure.containerregistry version")

        def public(cls):
            return {n for n, _ in inspect.getmembers(cls, callable) if not n.startswith("_")}

        eq(public(ContainerRegistryClient), SYNC_METHODS, "ContainerRegistryClient public methods")
        eq(public(AsyncContainerRegistryClient), ASYNC_METHODS, "aio ContainerRegistryClient public methods")
        return f"{len(SYNC_METHODS)} sync + {len(ASYNC_METHODS)} async methods"

    # -- README: upload and download an OCI image
    def readme_upload(self):
        repo, tag = "sample-oci-image", "demo"
        config, layer = b"Sample config", b"Sample layer"
        cd = self.c.upload_blob(repo, io.BytesIO(config))
        eq(cd, sha(config), "upload_blob digest of the config")
        ld = self.c.upload_blob(repo, io.BytesIO(layer))
        eq(ld, sha(layer), "upload_blob digest of the layer")
        m = OCIManifest(config=Descriptor(media_type=rawreg.OCI_CONFIG, digest=cd, size=len(config)),
                        layers=[Descriptor(media_type=rawreg.OCI_LAYER, digest=ld, size=len(layer))],
                        schema_version=2)
        d = self.c.upload_manifest(repo, m, tag=tag)
        eq(d, sha(json.dumps(m.serialize()).encode()), "upload_manifest digest")
        eq(self.cred.scopes[0], (ARM_SCOPE,), "scope the SDK asked the credential for")
        self.s["readme"] = dict(repo=repo, tag=tag, digest=d, config=(cd, config), layer=(ld, layer))
        return d

    def readme_download(self):
        r = self.s["readme"]
        res = self.c.download_manifest(r["repo"], r["tag"])
        eq(res.digest, r["digest"], "download_manifest digest")
        eq(sha(drain(res)), r["digest"], "digest of the downloaded manifest bytes")
        man = res.manifest
        eq(man.config.digest, r["config"][0], "manifest config digest")
        eq([x.digest for x in man.layers], [r["layer"][0]], "manifest layer digests")
        with tempfile.TemporaryDirectory() as path:
            files = {"config.json": man.config.digest}
            files.update({x.digest.split(":", 1)[1]: x.digest for x in man.layers})
            for fname, digest in files.items():
                blob = self.c.download_blob(r["repo"], digest)
                eq(blob.digest, digest, "download_blob digest")
                with open(os.path.join(path, fname), "wb") as f:
                    f.write(blob.data.read())
            eq(open(os.path.join(path, "config.json"), "rb").read(), r["config"][1], "config bytes")
            eq(open(os.path.join(path, r["layer"][0].split(":", 1)[1]), "rb").read(), r["layer"][1], "layer bytes")
        res = self.c.download_manifest(r["repo"], r["digest"])
        eq(res.digest, r["digest"], "download_manifest by digest")

    def big_blob(self):
        data = os.urandom(1 << 20)
        d = self.c.upload_blob("blobs/big", io.BytesIO(data))
        eq(d, sha(data), "upload_blob digest of 1 MiB")
        self.s["big"] = d
        got = self.c.download_blob("blobs/big", d)
        eq(got.data.read() == data, True, "1 MiB blob downloaded intact")
        # Blobs belong to repositories: another repository does not serve it.
        e = raises(ResourceNotFoundError, self.c.download_blob, "sample-oci-image", d)
        eq(error_code(e), "BLOB_UNKNOWN", "blob of another repository")

    def huge_blob(self):
        # 1.1.0b2 sends the whole blob in one PATCH, and every request goes
        # out without a token first (the challenge policy caches none), so
        # the registry answers 401 to a 16 MiB body. ACR takes the body
        # before answering, and the SDK then retries with a token; a server
        # that answers and hangs up mid-body breaks the upload ("EOF
        # occurred in violation of protocol").
        data = os.urandom(16 << 20)
        d = self.c.upload_blob("blobs/huge", io.BytesIO(data))
        eq(d, sha(data), "upload_blob digest of 16 MiB")
        eq(self.c.download_blob("blobs/huge", d).data.read() == data, True, "16 MiB blob downloaded intact")

    def manifest_stream(self):
        # upload_manifest also takes a stream: these exact bytes, with an
        # annotation the OCIManifest model would reorder, and no tag.
        c = self.c
        cd = c.upload_blob("stream/m", io.BytesIO(b"{}"))
        body = json.dumps({"schemaVersion": 2, "mediaType": rawreg.OCI_MANIFEST,
                           "config": {"mediaType": rawreg.OCI_CONFIG, "digest": cd, "size": 2},
                           "layers": [], "annotations": {"org.example": "stream"}}).encode()
        d = c.upload_manifest("stream/m", io.BytesIO(body))
        eq(d, sha(body), "upload_manifest digest of a stream")
        res = c.download_manifest("stream/m", d)
        eq(res.digest, d, "download_manifest digest")
        eq(res.manifest.config.digest, cd, "config digest")
        eq(c.get_manifest_properties("stream/m", d).digest, d, "manifest properties")
        self.s["untagged"] = d

    def untagged_no_tags(self):
        # ACR leaves "tags" out of an untagged manifest's properties (J
        # recording_should_list_registry_manifests_by_pages.json), which the
        # SDK surfaces as tags None.
        d = self.s["untagged"]
        eq(self.c.get_manifest_properties("stream/m", d).tags, None, "get_manifest_properties tags")
        eq([m.tags for m in self.c.list_manifest_properties("stream/m")], [None], "list_manifest_properties tags")

    def manifest_blob_unknown(self):
        m = OCIManifest(config=Descriptor(media_type=rawreg.OCI_CONFIG, digest=sha(b"absent"), size=6),
                        layers=[], schema_version=2)
        e = raises(HttpResponseError, self.c.upload_manifest, "stream/m", m, tag="broken")
        eq((e.status_code, error_code(e)), (400, "MANIFEST_BLOB_UNKNOWN"), "manifest over a missing blob")

    # -- listing
    def populate(self):
        """list/a: three manifests m0, m1, m2 pushed in this order and tagged
        b2, c3 and a1, so that name order (a1, b2, c3) and time order
        (b2, c3, a1) differ."""
        c, repo = self.c, "list/a"
        digests = []
        for i, tag in enumerate(("b2", "c3", "a1")):
            d, m = oci_manifest(c, repo, f"m{i}", tag)
            digests.append(d)
            time.sleep(0.02)
        for r in ("list/b", "list/c", "list/d"):
            oci_manifest(c, r, r, "v1")
        self.s["list"] = digests
        return f"{len(digests)} manifests"

    def list_repository_names(self):
        names = list(self.c.list_repository_names())
        want = {"sample-oci-image", "stream/m", "list/a", "list/b", "list/c", "list/d"}
        assert want <= set(names), f"missing {sorted(want - set(names))} in {names}"
        # blobs/big holds only blobs: a repository exists from its first
        # manifest, as in the reference registry.
        assert "blobs/big" not in names, f"blobs/big, which holds only blobs, is listed: {names}"
        eq(names, sorted(names), "catalog order")
        self.s["names"] = names
        return f"{len(names)} repositories"

    def list_repository_pages(self):
        names = self.s["names"]
        pages = [list(p) for p in self.c.list_repository_names(results_per_page=2).by_page()]
        eq([len(p) for p in pages[:-1]], [2] * (len(pages) - 1), "page sizes")
        eq(sum(pages, []), names, "pages joined")
        # Continuation: stop after the first page, resume from its token.
        it = self.c.list_repository_names(results_per_page=2).by_page()
        first = list(next(it))
        token = it.continuation_token
        assert token, "no continuation token after page 1"
        rest = [n for p in self.c.list_repository_names(results_per_page=2).by_page(continuation_token=token)
                for n in p]
        eq(first + rest, names, "first page + pages resumed from its continuation token")
        return f"{len(pages)} pages, token {token}"

    def list_manifests(self):
        c, d = self.c, self.s["list"]
        got = list(c.list_manifest_properties("list/a"))
        eq([m.digest for m in got], sorted(d), "default order (by digest)")
        desc = [m.digest for m in c.list_manifest_properties(
            "list/a", order_by=ArtifactManifestOrder.LAST_UPDATED_ON_DESCENDING)]
        eq(desc, d[::-1], "LAST_UPDATED_ON_DESCENDING")
        asc = [m.digest for m in c.list_manifest_properties(
            "list/a", order_by=ArtifactManifestOrder.LAST_UPDATED_ON_ASCENDING)]
        eq(asc, d, "LAST_UPDATED_ON_ASCENDING")
        eq(sorted(m.digest for m in c.list_manifest_properties("list/a", order_by="timedesc")), sorted(d),
           "order_by as a string")
        m1 = next(m for m in got if m.digest == d[0])
        eq(m1.tags, ["b2"], "tags of m0")
        eq((m1.repository_name, attrs(m1)), ("list/a", ALL_TRUE), "repository_name and flags")
        assert m1.size_in_bytes and m1.size_in_bytes > 0, f"size_in_bytes {m1.size_in_bytes}"
        assert m1.created_on and m1.last_updated_on, "times missing"
        pages = [[m.digest for m in p] for p in c.list_manifest_properties(
            "list/a", results_per_page=1, order_by=ArtifactManifestOrder.LAST_UPDATED_ON_DESCENDING).by_page()]
        eq(pages, [[x] for x in d[::-1]], "one manifest per page, newest first")

    def list_manifests_order_none(self):
        # ArtifactManifestOrder.NONE is sent as orderby=none.
        got = [m.digest for m in self.c.list_manifest_properties("list/a", order_by=ArtifactManifestOrder.NONE)]
        eq(sorted(got), sorted(self.s["list"]), "manifests listed with orderby=none")

    def list_tags(self):
        c, d = self.c, self.s["list"]
        got = list(c.list_tag_properties("list/a"))
        eq([t.name for t in got], ["a1", "b2", "c3"], "default order (by name)")
        eq({t.name: t.digest for t in got}, {"b2": d[0], "c3": d[1], "a1": d[2]}, "tag digests")
        eq([attrs(t) for t in got], [ALL_TRUE] * 3, "tag flags")
        desc = [t.name for t in c.list_tag_properties("list/a", order_by=ArtifactTagOrder.LAST_UPDATED_ON_DESCENDING)]
        eq(desc, ["a1", "c3", "b2"], "LAST_UPDATED_ON_DESCENDING")
        asc = [t.name for t in c.list_tag_properties("list/a", order_by=ArtifactTagOrder.LAST_UPDATED_ON_ASCENDING)]
        eq(asc, ["b2", "c3", "a1"], "LAST_UPDATED_ON_ASCENDING")
        pages = [[t.name for t in p] for p in c.list_tag_properties("list/a", results_per_page=2).by_page()]
        eq(pages, [["a1", "b2"], ["c3"]], "pages of 2")
        it = c.list_tag_properties("list/a", results_per_page=1).by_page()
        first = [t.name for t in next(it)]
        rest = [t.name for p in c.list_tag_properties("list/a", results_per_page=1).by_page(
            continuation_token=it.continuation_token) for t in p]
        eq(first + rest, ["a1", "b2", "c3"], "continuation token")

    # -- properties
    def get_repository_properties(self):
        p = self.c.get_repository_properties("list/a")
        eq((p.name, p.manifest_count, p.tag_count), ("list/a", 3, 3), "name, manifest_count, tag_count")
        eq(attrs(p), ALL_TRUE, "flags")
        assert p.created_on <= p.last_updated_on, f"created {p.created_on} after updated {p.last_updated_on}"

    def update_repository_properties(self):
        c = self.c
        p = c.update_repository_properties("list/b", can_delete=False)
        eq(attrs(p), (False, True, True, True), "after can_delete=False")
        eq(attrs(c.get_repository_properties("list/b")), (False, True, True, True), "read back")
        # The positional form: a RepositoryProperties object.
        p = c.update_repository_properties("list/b", RepositoryProperties(can_delete=True, can_write=False))
        eq(attrs(p), (True, False, True, True), "after RepositoryProperties(can_delete=True, can_write=False)")
        p = c.update_repository_properties("list/b", can_write=True, can_list=False)
        eq(attrs(p), (True, True, True, False), "after can_write=True, can_list=False")
        p = c.update_repository_properties("list/b", can_list=True)
        eq(attrs(p), ALL_TRUE, "restored")

    def get_manifest_properties(self):
        c, d = self.c, self.s["list"]
        by_digest = c.get_manifest_properties("list/a", d[1])
        eq((by_digest.digest, by_digest.tags, by_digest.repository_name), (d[1], ["c3"], "list/a"),
           "by digest: digest, tags, repository")
        by_tag = c.get_manifest_properties("list/a", "c3")
        eq((by_tag.digest, by_tag.tags, by_tag.size_in_bytes), (d[1], ["c3"], by_digest.size_in_bytes), "by tag")
        eq(by_tag.fully_qualified_reference, f"{self.host}/list/a@{d[1].split(':')[1]}", "fully_qualified_reference")

    def update_manifest_properties(self):
        c, d = self.c, self.s["list"]
        p = c.update_manifest_properties("list/a", d[2], can_write=False, can_delete=False)
        eq((p.digest, attrs(p)), (d[2], (False, False, True, True)), "by digest")
        eq(attrs(c.get_manifest_properties("list/a", d[2])), (False, False, True, True), "read back")
        props = c.get_manifest_properties("list/a", "a1")
        props.can_write, props.can_delete, props.can_list = True, True, False
        p = c.update_manifest_properties("list/a", "a1", props)
        eq((p.digest, attrs(p)), (d[2], (True, True, True, False)), "by tag with an ArtifactManifestProperties")
        p = c.update_manifest_properties("list/a", "a1", can_list=True)
        eq(attrs(p), ALL_TRUE, "restored")

    def get_tag_properties(self):
        t = self.c.get_tag_properties("list/a", "a1")
        eq((t.name, t.digest, attrs(t)), ("a1", self.s["list"][2], ALL_TRUE), "name, digest, flags")
        assert t.created_on <= t.last_updated_on, "created after updated"

    def update_tag_properties(self):
        c = self.c
        t = c.update_tag_properties("list/a", "a1", can_read=False)
        eq((t.name, attrs(t)), ("a1", (True, True, False, True)), "after can_read=False")
        t2 = c.get_tag_properties("list/a", "a1")
        t2.can_read = True
        t = c.update_tag_properties("list/a", "a1", t2)
        eq(attrs(t), ALL_TRUE, "restored with an ArtifactTagProperties")

    # -- Docker v2: pushed raw (the SDK uploads OCI only), read through the SDK
    def docker_v2(self):
        reg = rawreg.Registry(self.a.url, self.a.user, self.a.password)
        d, body = reg.docker_image("docker/app", "v1", "app")
        m = self.c.get_manifest_properties("docker/app", "v1")
        eq((m.digest, m.tags), (d, ["v1"]), "digest and tags")
        eq((m.architecture, m.operating_system), (ArtifactArchitecture.AMD64, ArtifactOperatingSystem.LINUX),
           "architecture and os from the image config")
        listed = list(self.c.list_manifest_properties("docker/app"))
        eq([(x.digest, x.architecture) for x in listed], [(d, ArtifactArchitecture.AMD64)], "listed")
        self.c.delete_manifest("docker/app", "v1")  # by tag: the SDK resolves it to the digest
        raises(ResourceNotFoundError, self.c.get_manifest_properties, "docker/app", d)

    # -- locks
    def lock_tag_delete(self):
        c, d = self.c, self.s["list"]
        c.update_tag_properties("list/a", "c3", can_delete=False)
        note = refused(c.delete_tag, "list/a", "c3")
        eq(c.get_tag_properties("list/a", "c3").digest, d[1], "tag survived")
        return note

    def lock_tag_write(self):
        c, d = self.c, self.s["list"]
        c.update_tag_properties("list/a", "c3", can_delete=True, can_write=False)
        other = c.download_manifest("list/a", d[0]).manifest
        note = refused(c.upload_manifest, "list/a", other, tag="c3")
        refused(c.delete_tag, "list/a", "c3")
        eq(c.get_tag_properties("list/a", "c3").digest, d[1], "tag still points at m1")
        t = c.update_tag_properties("list/a", "c3", can_write=True)
        eq(attrs(t), ALL_TRUE, "unlocked")
        return note

    def lock_manifest(self):
        c, d = self.c, self.s["list"]
        c.update_manifest_properties("list/a", d[1], can_delete=False)
        note = refused(c.delete_manifest, "list/a", d[1])
        c.update_manifest_properties("list/a", d[1], can_delete=True, can_write=False)
        refused(c.delete_manifest, "list/a", d[1])
        eq(c.get_manifest_properties("list/a", d[1]).digest, d[1], "manifest survived")
        eq(attrs(c.update_manifest_properties("list/a", d[1], can_write=True)), ALL_TRUE, "unlocked")
        return note

    def lock_repository(self):
        c = self.c
        c.update_repository_properties("list/c", can_delete=False)
        note = refused(c.delete_repository, "list/c")
        assert "list/c" in list(c.list_repository_names()), "list/c was deleted"
        c.update_repository_properties("list/c", can_delete=True, can_write=False)
        m = c.download_manifest("list/c", "v1").manifest
        refused(c.upload_manifest, "list/c", m, tag="v2")
        refused(c.delete_repository, "list/c")
        eq([t.name for t in c.list_tag_properties("list/c")], ["v1"], "tags of the locked repository")
        eq(attrs(c.update_repository_properties("list/c", can_write=True)), ALL_TRUE, "unlocked")
        eq(c.upload_manifest("list/c", m, tag="v2"), c.get_tag_properties("list/c", "v1").digest,
           "push after unlock")
        return note

    def lock_list_read(self):
        # "--list-enabled: whether this item shows in list operation results",
        # "--read-enabled: whether read operation is allowed" (az acr
        # repository update -h).
        c, d = self.c, self.s["list"]
        c.update_tag_properties("list/a", "b2", can_list=False)
        eq([t.name for t in c.list_tag_properties("list/a")], ["a1", "c3"], "tags listed without b2")
        eq(c.get_tag_properties("list/a", "b2").can_list, False, "b2 still readable by name")
        c.update_tag_properties("list/a", "b2", can_list=True)
        c.update_manifest_properties("list/a", d[0], can_list=False)
        eq(sorted(m.digest for m in c.list_manifest_properties("list/a")), sorted(d[1:]), "manifests listed without m0")
        c.update_manifest_properties("list/a", d[0], can_list=True, can_read=False)
        note = refused(c.download_manifest, "list/a", d[0])
        eq(attrs(c.update_manifest_properties("list/a", d[0], can_read=True)), ALL_TRUE, "unlocked")
        eq(c.download_manifest("list/a", "b2").digest, d[0], "readable again")
        return "read refused: " + note

    # -- deletes
    def delete_tag(self):
        c = self.c
        c.delete_tag("list/a", "c3")
        raises(ResourceNotFoundError, c.get_tag_properties, "list/a", "c3")
        eq(c.get_manifest_properties("list/a", self.s["list"][1]).digest, self.s["list"][1], "m1 still there")
        c.delete_tag("list/a", "c3")  # a missing tag: 404, which the SDK accepts
        e = raises(ResourceNotFoundError, c.get_tag_properties, "list/a", "nope")
        eq(error_code(e), "TAG_UNKNOWN", "code")

    def delete_manifest(self):
        c, d = self.c, self.s["list"]
        c.delete_manifest("list/a", d[1])
        raises(ResourceNotFoundError, c.get_manifest_properties, "list/a", d[1])
        raises(ResourceNotFoundError, c.download_manifest, "list/a", d[1])
        c.delete_manifest("list/a", d[1])  # already gone: 404, accepted
        c.delete_manifest("list/a", "a1")  # by tag
        raises(ResourceNotFoundError, c.get_tag_properties, "list/a", "a1")
        eq([m.digest for m in c.list_manifest_properties("list/a")], [d[0]], "left in list/a")

    def delete_blob(self):
        c, d = self.c, self.s["big"]
        c.delete_blob("blobs/big", d)
        e = raises(ResourceNotFoundError, c.download_blob, "blobs/big", d)
        eq(e.status_code, 404, "status")
        # A second delete: ACR answers 404 BLOB_UNKNOWN (J recording_deleteblob_
        # should_succeed_when_trying_to_delete_a_nonexistent_blob), which
        # 1.1.0b2 raises.
        e = raises(ResourceNotFoundError, c.delete_blob, "blobs/big", d)
        eq(error_code(e), "BLOB_UNKNOWN", "code")

    def delete_repository(self):
        c = self.c
        c.delete_repository("list/d")
        assert "list/d" not in list(c.list_repository_names()), "list/d still listed"
        e = raises(ResourceNotFoundError, c.get_repository_properties, "list/d")
        eq(error_code(e), "NAME_UNKNOWN", "code")
        c.delete_repository("list/d")  # missing: 404, accepted

    def not_found(self):
        c = self.c
        e = raises(ResourceNotFoundError, c.download_manifest, "list/a", "no-such-tag")
        eq(error_code(e), "MANIFEST_UNKNOWN", "download_manifest of a missing tag")
        e = raises(ResourceNotFoundError, c.update_tag_properties, "list/a", "no-such-tag", can_list=False)
        eq(error_code(e), "TAG_UNKNOWN", "update_tag_properties of a missing tag")
        raises(ResourceNotFoundError, c.get_manifest_properties, "list/a", "no-such-tag")
        raises(ResourceNotFoundError, c.update_repository_properties, "no/such/repo", can_list=False)
        raises(ResourceNotFoundError, c.list_tag_properties("no/such/repo").__iter__().__next__)

    def wrong_token(self):
        bad = ContainerRegistryClient(self.a.url, StaticTokenCredential("not-the-token"))
        raises(ClientAuthenticationError, lambda: list(bad.list_repository_names()))
        bad.close()

    def context_manager(self):
        with ContainerRegistryClient(self.a.url, StaticTokenCredential(self.a.token)) as c:
            assert "list/a" in list(c.list_repository_names())
        c.close()

    # -- README samples on repository operations
    def readme_list_repositories(self):
        names = list(self.c.list_repository_names())
        assert "sample-oci-image" in names, names

    def readme_set_artifact_properties(self):
        c = self.c
        oci_manifest(c, "library/hello-world", "hello", "latest")
        t = c.update_tag_properties("library/hello-world", "latest", can_write=False, can_delete=False)
        eq(attrs(t), (False, False, True, True), "latest locked")
        t = c.update_tag_properties("library/hello-world", "latest", can_write=True, can_delete=True)
        eq(attrs(t), ALL_TRUE, "latest unlocked")

    def readme_delete_images(self):
        c = self.c
        pushed = []
        for i in range(5):
            d, _ = oci_manifest(c, "readme/delete", f"img{i}", f"v{i}")
            pushed.append(d)
            time.sleep(0.02)
        # The sample: keep the newest three of every repository (here one).
        for m in list(c.list_manifest_properties(
                "readme/delete", order_by=ArtifactManifestOrder.LAST_UPDATED_ON_DESCENDING))[3:]:
            for tag in m.tags or []:
                c.delete_tag("readme/delete", tag)
            c.delete_manifest("readme/delete", m.digest)
        left = [m.digest for m in c.list_manifest_properties(
            "readme/delete", order_by=ArtifactManifestOrder.LAST_UPDATED_ON_DESCENDING)]
        eq(left, pushed[:1:-1], "newest three kept")
        eq([t.name for t in c.list_tag_properties("readme/delete")], ["v2", "v3", "v4"], "their tags")

    def readme_delete_blob(self):
        c, r = self.c, self.s["readme"]
        res = c.download_manifest(r["repo"], r["tag"])
        for layer in res.manifest.layers:
            c.delete_blob(r["repo"], layer.digest)
        raises(ResourceNotFoundError, c.download_blob, r["repo"], r["layer"][0])
        eq(c.download_blob(r["repo"], r["config"][0]).data.read(), r["config"][1], "config blob kept")

    def readme_delete_manifest(self):
        c, r = self.c, self.s["readme"]
        res = c.download_manifest(r["repo"], r["tag"])
        c.delete_manifest(r["repo"], res.digest)
        raises(ResourceNotFoundError, c.download_manifest, r["repo"], r["tag"])
        eq(list(c.list_manifest_properties(r["repo"])), [], "manifests left")

    def readme_national_cloud(self):
        # The audience decides the scope asked of the credential; the
        # registry's exchange takes the token whatever its audience.
        cred = StaticTokenCredential(self.a.token)
        china = "https://management.chinacloudapi.cn"
        with ContainerRegistryClient(self.a.url, cred, audience=china) as c:
            assert "list/a" in list(c.list_repository_names())
        eq(cred.scopes, [(china + "/.default",)], "scopes asked")

    def api_version(self):
        with ContainerRegistryClient(self.a.url, StaticTokenCredential(self.a.token),
                                     api_version="2019-08-15-preview") as c:
            eq(c.get_repository_properties("list/a").name, "list/a", "with api-version=2019-08-15-preview")

    # -- the aio client
    def aio(self):
        return asyncio.run(self._aio())

    async def _aio(self):
        cred = AsyncStaticTokenCredential(self.a.token)
        async with AsyncContainerRegistryClient(self.a.url, cred) as c:
            names = [n async for n in c.list_repository_names()]
            eq(names, sorted(names), "catalog order")
            assert "readme/delete" in names
            pages = []
            async for p in c.list_repository_names(results_per_page=3).by_page():
                pages.append([n async for n in p])
            eq(sum(pages, []), names, "pages joined")
            p = await c.get_repository_properties("readme/delete")
            eq((p.name, p.manifest_count, p.tag_count), ("readme/delete", 3, 3), "repository properties")
            p = await c.update_repository_properties("readme/delete", can_list=False)
            eq(attrs(p), (True, True, True, False), "update_repository_properties")
            await c.update_repository_properties("readme/delete", can_list=True)
            ms = [m async for m in c.list_manifest_properties(
                "readme/delete", order_by=ArtifactManifestOrder.LAST_UPDATED_ON_ASCENDING)]
            tags = [t async for t in c.list_tag_properties(
                "readme/delete", order_by=ArtifactTagOrder.LAST_UPDATED_ON_DESCENDING)]
            eq([t.name for t in tags], ["v4", "v3", "v2"], "tags newest first")
            eq([m.tags for m in ms], [["v2"], ["v3"], ["v4"]], "manifests oldest first")
            m = await c.get_manifest_properties("readme/delete", "v3")
            eq(m.digest, ms[1].digest, "get_manifest_properties by tag")
            m = await c.update_manifest_properties("readme/delete", m.digest, can_read=False)
            eq(attrs(m), (True, True, False, True), "update_manifest_properties")
            await c.update_manifest_properties("readme/delete", m.digest, can_read=True)
            t = await c.get_tag_properties("readme/delete", "v4")
            eq(t.digest, ms[2].digest, "get_tag_properties")
            # README "Set artifact properties asynchronously".
            t = await c.update_tag_properties("readme/delete", "v4", can_write=False, can_delete=False)
            eq(attrs(t), (False, False, True, True), "update_tag_properties")
            try:
                await c.delete_tag("readme/delete", "v4")
                raise AssertionError("delete of a locked tag went through")
            except HttpResponseError as e:
                eq(e.status_code, LOCKED, "locked tag delete")
            await c.update_tag_properties("readme/delete", "v4", can_write=True, can_delete=True)
            # README "Delete images asynchronously", keeping the newest two.
            async for m in c.list_manifest_properties(
                    "readme/delete", order_by=ArtifactManifestOrder.LAST_UPDATED_ON_DESCENDING):
                if m.digest == ms[0].digest:
                    for tag in m.tags:
                        await c.delete_tag("readme/delete", tag)
                    await c.delete_manifest("readme/delete", m.digest)
            left = [m.digest async for m in c.list_manifest_properties("readme/delete")]
            eq(sorted(left), sorted(x.digest for x in ms[1:]), "after the async delete")
            await c.delete_repository("readme/delete")
            try:
                await c.get_repository_properties("readme/delete")
                raise AssertionError("readme/delete survived")
            except ResourceNotFoundError:
                pass
        await c.close()
        return "13 methods"

    # -- anonymous pull (second server)
    def anon_seed(self):
        a = ContainerRegistryClient(self.a.anon_url, StaticTokenCredential(self.a.token))
        d, m = oci_manifest(a, "library/hello-world", "hello", "latest")
        a.upload_manifest("library/hello-world", m, tag="v1")
        self.s["anon"] = dict(digest=d, layer=m.layers[0].digest, client=a)
        # The authenticated client downloads through the storage redirect too.
        blob = a.download_blob("library/hello-world", m.layers[0].digest)
        eq(blob.data.read(), b"layer hello\n", "layer downloaded through the 307 to storage")

    def anon_reads(self):
        s = self.s["anon"]
        anon = ContainerRegistryClient(self.a.anon_url)  # no credential
        eq(list(anon.list_repository_names()), ["library/hello-world"], "catalog")
        p = anon.get_repository_properties("library/hello-world")
        eq((p.name, p.manifest_count, p.tag_count), ("library/hello-world", 1, 2), "repository properties")
        # README "List tags with anonymous access".
        tags = list(anon.list_tag_properties("library/hello-world"))
        eq([(t.name, t.digest) for t in tags], [("latest", s["digest"]), ("v1", s["digest"])], "tags")
        eq(anon.get_tag_properties("library/hello-world", "latest").digest, s["digest"], "tag properties")
        m = anon.get_manifest_properties("library/hello-world", "latest")
        eq((m.digest, sorted(m.tags)), (s["digest"], ["latest", "v1"]), "manifest properties")
        eq([x.digest for x in anon.list_manifest_properties("library/hello-world")], [s["digest"]], "manifests")
        res = anon.download_manifest("library/hello-world", "latest")
        eq(res.digest, s["digest"], "download_manifest")
        eq(anon.download_blob("library/hello-world", s["layer"]).data.read(), b"layer hello\n",
           "download_blob (through the storage redirect)")
        self.s["anon"]["anon"] = anon

    def anon_writes(self):
        anon, s = self.s["anon"]["anon"], self.s["anon"]
        repo = "library/hello-world"
        for what, fn, args in (
                ("update_repository_properties", anon.update_repository_properties, (repo,)),
                ("update_tag_properties", anon.update_tag_properties, (repo, "latest")),
                ("update_manifest_properties", anon.update_manifest_properties, (repo, s["digest"])),
                ("delete_tag", anon.delete_tag, (repo, "v1")),
                ("delete_manifest", anon.delete_manifest, (repo, s["digest"])),
                ("delete_repository", anon.delete_repository, (repo,)),
                ("delete_blob", anon.delete_blob, (repo, s["layer"])),
                ("upload_blob", anon.upload_blob, (repo, io.BytesIO(b"nope"))),
        ):
            kwargs = {"can_delete": False} if what.startswith("update") else {}
            e = raises(ClientAuthenticationError, fn, *args, **kwargs)
            eq(e.status_code, 401, what)
        e = raises(ClientAuthenticationError, anon.upload_manifest, repo,
                   anon.download_manifest(repo, "latest").manifest, tag="v2")
        eq(e.status_code, 401, "upload_manifest")
        # Nothing changed.
        eq(sorted(t.name for t in anon.list_tag_properties(repo)), ["latest", "v1"], "tags after refusals")
        eq(attrs(anon.get_repository_properties(repo)), ALL_TRUE, "flags after refusals")
        return "9 writes refused with 401"

    def anon_disabled(self):
        anon = ContainerRegistryClient(self.a.url)  # the first server has no --anonymous-pull
        raises(ClientAuthenticationError, lambda: list(anon.list_repository_names()))
        raises(ClientAuthenticationError, anon.get_repository_properties, "list/a")

    def anon_aio(self):
        async def run():
            async with AsyncContainerRegistryClient(self.a.anon_url) as c:
                # README "List tags with anonymous access asynchronously".
                tags = [t.name async for t in c.list_tag_properties("library/hello-world")]
                eq(tags, ["latest", "v1"], "tags")
                try:
                    await c.delete_tag("library/hello-world", "v1")
                    raise AssertionError("anonymous delete went through")
                except ClientAuthenticationError as e:
                    eq(e.status_code, 401, "anonymous delete")
        asyncio.run(run())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--anon-url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    args = ap.parse_args()
    for var in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        if not os.environ.get(var):
            sys.exit(f"{var} must name the server's certificate")
    k = Checks(args)
    print("== azure-containerregistry (Python) against acrctl serve", flush=True)
    for name, fn in (
            ("surface: every public method is covered", k.surface),
            ("README upload image (upload_blob, upload_manifest)", k.readme_upload),
            ("README download image (download_manifest, download_blob)", k.readme_download),
            ("upload_blob/download_blob 1 MiB", k.big_blob),
            ("upload_blob 16 MiB in one PATCH, sent without a token first", k.huge_blob),
            ("upload_manifest from a stream, untagged", k.manifest_stream),
            ("untagged manifest: tags absent (None), as ACR sends", k.untagged_no_tags),
            ("upload_manifest over a missing blob", k.manifest_blob_unknown),
            ("populate list/a..list/d", k.populate),
            ("list_repository_names", k.list_repository_names),
            ("list_repository_names by_page(results_per_page=2) + continuation", k.list_repository_pages),
            ("list_manifest_properties (order_by, paging)", k.list_manifests),
            ("list_manifest_properties order_by=NONE", k.list_manifests_order_none),
            ("list_tag_properties (order_by, paging, continuation)", k.list_tags),
            ("get_repository_properties", k.get_repository_properties),
            ("update_repository_properties", k.update_repository_properties),
            ("get_manifest_properties", k.get_manifest_properties),
            ("update_manifest_properties", k.update_manifest_properties),
            ("get_tag_properties", k.get_tag_properties),
            ("update_tag_properties", k.update_tag_properties),
            ("Docker v2 image: properties, arch/os, delete_manifest by tag", k.docker_v2),
            ("lock: tag can_delete=False refuses delete_tag", k.lock_tag_delete),
            ("lock: tag can_write=False refuses overwrite and delete, then unlock", k.lock_tag_write),
            ("lock: manifest can_delete/can_write=False refuse delete_manifest", k.lock_manifest),
            ("lock: repository can_delete/can_write=False refuse delete and push", k.lock_repository),
            ("lock: can_list=False hides from lists, can_read=False refuses download", k.lock_list_read),
            ("delete_tag", k.delete_tag),
            ("delete_manifest (digest, tag, missing)", k.delete_manifest),
            ("delete_blob", k.delete_blob),
            ("delete_repository", k.delete_repository),
            ("not found errors", k.not_found),
            ("wrong Entra ID token is refused", k.wrong_token),
            ("client as a context manager, close()", k.context_manager),
            ("README list repositories", k.readme_list_repositories),
            ("README set artifact properties", k.readme_set_artifact_properties),
            ("README delete images (keep newest 3)", k.readme_delete_images),
            ("README delete blob (the layers of a downloaded manifest)", k.readme_delete_blob),
            ("README delete manifest (by the digest download_manifest gave)", k.readme_delete_manifest),
            ("README national cloud (audience)", k.readme_national_cloud),
            ("api_version 2019-08-15-preview", k.api_version),
            ("aio client: every method + README async samples", k.aio),
            ("anonymous: seed with credentials, download via storage redirect", k.anon_seed),
            ("anonymous: catalog, properties, tags, manifest and blob", k.anon_reads),
            ("anonymous: writes refused with ClientAuthenticationError 401", k.anon_writes),
            ("anonymous refused where --anonymous-pull is off", k.anon_disabled),
            ("anonymous aio: list tags, delete refused", k.anon_aio),
    ):
        step(name, fn)
    k.c.close()
    if failures:
        print(f"python sdk: {len(failures)} steps failed", flush=True)
        sys.exit(1)
    print("python sdk: all passed", flush=True)


if __name__ == "__main__":
    main()
