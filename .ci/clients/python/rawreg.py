"""Raw registry HTTP for the Python client checks: what Microsoft's clients
cannot do themselves.

azure-containerregistry 1.1.0b2 uploads OCI image manifests only, and the Azure
CLI cannot push at all, so the checks push Docker v2 images, referrers and
seed content with these few calls, made with `requests` and Basic credentials
(which ACR and `acrctl serve --user` accept on every data-plane request).

As a program it seeds the registries that .ci/clients/az.sh drives:

    rawreg.py seed-az URL USER PASSWORD OUT.json
    rawreg.py seed-soft URL USER PASSWORD OUT.json

and writes what it pushed (digests, tags, push order) to OUT.json, from which
the az checks compute what each command should print; and it puts a tag on
a manifest that is in the registry already:

    rawreg.py tag URL USER PASSWORD REPO TAG DIGEST
"""

import hashlib
import json
import sys
import time
from urllib.parse import urljoin

import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical(obj):
    """The bytes pushed for a manifest: compact JSON, keys in the given order."""
    return json.dumps(obj, separators=(",", ":")).encode()


class Registry:
    """A registry at base (https://host:port) reached with Basic credentials.
    Server certificates are verified against REQUESTS_CA_BUNDLE."""

    def __init__(self, base, user, password, timeout=30):
        self.base = base.rstrip("/")
        self.session = requests.Session()
        self.session.auth = (user, password)
        self.timeout = timeout

    def _do(self, method, path_or_url, want, **kw):
        url = urljoin(self.base + "/", path_or_url)
        r = self.session.request(method, url, timeout=self.timeout, **kw)
        if r.status_code not in want:
            raise RuntimeError(f"{method} {url}: {r.status_code} {r.text[:300]}")
        return r

    def push_blob(self, repo, data, media_type=OCI_LAYER):
        """Uploads data (POST then PUT with the whole body) and returns its
        descriptor."""
        digest = sha256(data)
        r = self._do("POST", f"/v2/{repo}/blobs/uploads/", (202,))
        loc = r.headers["Location"]
        sep = "&" if "?" in loc else "?"
        r = self._do("PUT", f"{loc}{sep}digest={digest}", (201,), data=data,
                     headers={"Content-Type": "application/octet-stream"})
        got = r.headers.get("Docker-Content-Digest")
        if got != digest:
            raise RuntimeError(f"blob pushed as {digest}, registry says {got}")
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def push_manifest(self, repo, ref, body, media_type):
        """PUTs the manifest bytes under ref (tag or digest) and returns the
        digest, checked against the registry's Docker-Content-Digest."""
        digest = sha256(body)
        r = self._do("PUT", f"/v2/{repo}/manifests/{ref}", (201,), data=body,
                     headers={"Content-Type": media_type})
        got = r.headers.get("Docker-Content-Digest")
        if got != digest:
            raise RuntimeError(f"manifest pushed as {digest}, registry says {got}")
        return digest

    def oci_image(self, repo, ref, name, extra=None):
        """Pushes a one-layer OCI image whose config and layer mention name,
        so every call makes a distinct manifest, under ref (a tag), or by
        digest when ref is None. Returns (digest, bytes)."""
        config = self.push_blob(repo, canonical({"architecture": "arm64", "os": "linux", "name": name}),
                                OCI_CONFIG)
        layer = self.push_blob(repo, f"layer of {name}\n".encode(), OCI_LAYER)
        m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer]}
        m.update(extra or {})
        body = canonical(m)
        return self.push_manifest(repo, ref or sha256(body), body, OCI_MANIFEST), body

    def docker_image(self, repo, ref, name):
        """Pushes a one-layer Docker v2 (schema 2) image for linux/amd64.
        Returns (digest, bytes)."""
        config = self.push_blob(repo, canonical({"architecture": "amd64", "os": "linux",
                                                 "config": {"Cmd": [name]}, "rootfs": {"type": "layers"}}),
                                DOCKER_CONFIG)
        layer = self.push_blob(repo, f"docker layer of {name}\n".encode(), DOCKER_LAYER)
        body = canonical({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST, "config": config, "layers": [layer]})
        return self.push_manifest(repo, ref, body, DOCKER_MANIFEST), body

    def referrer(self, repo, subject_digest, subject_size, artifact_type):
        """Pushes an OCI artifact whose subject is the given manifest (no tag).
        Returns its digest."""
        empty = self.push_blob(repo, b"{}", OCI_EMPTY)
        body = canonical({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
                          "config": empty, "layers": [empty],
                          "subject": {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": subject_size}})
        return self.push_manifest(repo, sha256(body), body, OCI_MANIFEST)


def seed_az(url, user, password, out):
    """The content .ci/clients/az.sh reads: see the file's comments there."""
    reg = Registry(url, user, password)
    seed = {"app": [], "repos": []}
    # az/app: four manifests pushed in this order (v2 carries two tags, the
    # last one none), a few milliseconds apart so time ordering is defined.
    for name, tags in (("m1", ["v1"]), ("m2", ["v2", "v2b"]), ("m3", ["v3"]), ("m4", [])):
        digest, body = reg.oci_image("az/app", tags[0] if tags else None, name)
        for t in tags[1:]:
            time.sleep(0.02)
            reg.push_manifest("az/app", t, body, OCI_MANIFEST)
        seed["app"].append({"name": name, "digest": digest, "tags": tags, "raw": body.decode()})
        time.sleep(0.02)
    # az/docker: a Docker v2 image; az/refs: a subject and one referrer.
    d, body = reg.docker_image("az/docker", "latest", "docker")
    seed["docker"] = {"digest": d, "raw": body.decode()}
    sd, sbody = reg.oci_image("az/refs", "subject", "subject")
    seed["refs"] = {"subject": sd, "referrer": reg.referrer("az/refs", sd, len(sbody), "application/vnd.acrgo.sig"),
                    "artifactType": "application/vnd.acrgo.sig"}
    # az/many: 105 tags on one manifest, more than az's page of 100.
    md, mbody = reg.oci_image("az/many", "t000", "many")
    seed["many"] = ["t%03d" % i for i in range(105)]
    for t in seed["many"][1:]:
        reg.push_manifest("az/many", t, mbody, OCI_MANIFEST)
    # az/gone: deleted whole by `az acr repository delete`.
    gd, _ = reg.oci_image("az/gone", "v1", "gone")
    seed["gone"] = {"digest": gd}
    # az/r000..az/r100: 101 more repositories, so the catalog spans two pages.
    for i in range(101):
        reg.oci_image("az/r%03d" % i, "v1", "repo")
    seed["repos"] = sorted(["az/app", "az/docker", "az/refs", "az/many", "az/gone"] +
                           ["az/r%03d" % i for i in range(101)])
    with open(out, "w") as f:
        json.dump(seed, f, indent=1)


def seed_soft(url, user, password, out):
    """The content of az.sh's soft-delete checks: az/soft holds m1 (v1), m2
    (v2, v2b), m3 (untagged), m4 (v4) and m5 (untagged, later tagged v4 to
    put that tag in use); az/softgone holds one image (v1)."""
    reg = Registry(url, user, password)
    seed = {"soft": []}
    for name, tags in (("m1", ["v1"]), ("m2", ["v2", "v2b"]), ("m3", []), ("m4", ["v4"]), ("m5", [])):
        digest, body = reg.oci_image("az/soft", tags[0] if tags else None, "soft " + name)
        for t in tags[1:]:
            reg.push_manifest("az/soft", t, body, OCI_MANIFEST)
        seed["soft"].append({"name": name, "digest": digest, "tags": tags})
    gd, _ = reg.oci_image("az/softgone", "v1", "softgone")
    seed["gone"] = {"digest": gd}
    with open(out, "w") as f:
        json.dump(seed, f, indent=1)


def tag(url, user, password, repo, tag_name, digest):
    """PUTs the bytes of the manifest digest under tag_name."""
    reg = Registry(url, user, password)
    r = reg._do("GET", f"/v2/{repo}/manifests/{digest}", (200,), headers={"Accept": OCI_MANIFEST})
    reg.push_manifest(repo, tag_name, r.content, r.headers["Content-Type"])


USAGE = """usage: rawreg.py seed-az URL USER PASSWORD OUT.json
       rawreg.py seed-soft URL USER PASSWORD OUT.json
       rawreg.py tag URL USER PASSWORD REPO TAG DIGEST"""

if __name__ == "__main__":
    commands = {"seed-az": (seed_az, 4), "seed-soft": (seed_soft, 4), "tag": (tag, 6)}
    if len(sys.argv) < 2 or sys.argv[1] not in commands or len(sys.argv) - 2 != commands[sys.argv[1]][1]:
        sys.exit(USAGE)
    commands[sys.argv[1]][0](*sys.argv[2:])
