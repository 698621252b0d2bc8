// Microsoft's JavaScript SDK, @azure/container-registry, run unchanged against
// `acrctl serve`: every public method of ContainerRegistryClient,
// ContainerRepository, RegistryArtifact and ContainerRegistryContentClient,
// the seed README's samples in their JavaScript form, anonymous pull and the
// lock flags. Each step checks what came back (digests, sizes, tags, order,
// flags), not only that nothing was thrown, and prints one line:
// "  ok   STEP" or "  FAIL STEP: reason", then "N passed, N failed"; it
// exits 1 when any step failed.
//
// Environment (set by ../js.sh):
//   SERVER_URL   https URL of a registry started with --aad-token $AAD_TOKEN
//                and --storage-addr (blob GETs redirect to storage, as ACR's do)
//   STORAGE_URL  https URL of that storage listener
//   ANON_URL     https URL of a second registry, with --anonymous-pull and
//                --aad-token $AAD_TOKEN
//   AAD_TOKEN    the Entra ID token both accept at /oauth2/exchange
//   NODE_EXTRA_CA_CERTS  the servers' self-signed certificate (both serve one)
//   WORK_DIR     scratch directory for the README's download sample
//
// The expected error codes are ACR's: 405 REGISTRY_DISALLOWED_OPERATION for a
// lock (Azure/acr-cli#70 quotes the service's body), 401 UNAUTHORIZED for an
// anonymous write, and the 404 codes and messages recorded in
// shared/docs/acr-recordings.

import {
  ContainerRegistryClient,
  ContainerRegistryContentClient,
  KnownArtifactArchitecture,
  KnownArtifactOperatingSystem,
  KnownContainerRegistryAudience,
  KnownManifestMediaType,
} from "@azure/container-registry";
import { isRestError } from "@azure/core-rest-pipeline";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";

const SERVER_URL = need("SERVER_URL");
const STORAGE_URL = need("STORAGE_URL");
const ANON_URL = need("ANON_URL");
const AAD_TOKEN = need("AAD_TOKEN");
const WORK_DIR = mkdtempSync(join(process.env.WORK_DIR || tmpdir(), "js-check-"));
const HOST = new URL(SERVER_URL).host;

const OCI_MANIFEST = KnownManifestMediaType.OciImageManifest;
const DOCKER_MANIFEST = KnownManifestMediaType.DockerManifest;
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";
const DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
const DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const LOCKED = "REGISTRY_DISALLOWED_OPERATION";

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`check.mjs: ${name} is not set (run it through .ci/clients/js.sh)`);
    process.exit(2);
  }
  return v;
}

// ---- step runner and assertions ---------------------------------------------

let failures = 0;
let passed = 0;

async function step(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`  ok   ${name}`);
  } catch (e) {
    failures++;
    let reason = e instanceof Error ? e.message : String(e);
    if (isRestError(e)) reason = `RestError ${e.statusCode} ${errorCode(e) ?? ""} ${reason}`;
    console.log(`  FAIL ${name}: ${reason.replace(/\s+/g, " ").slice(0, 600)}`);
  }
}

function show(v) {
  return JSON.stringify(v, (_, x) => (x instanceof Date ? x.toISOString() : x));
}

function eq(got, want, what) {
  if (show(got) !== show(want)) {
    throw new Error(`${what}: got ${show(got)}, want ${show(want)}`);
  }
}

function truthy(cond, what) {
  if (!cond) throw new Error(what);
}

function sha256(buf) {
  return `sha256:${createHash("sha256").update(buf).digest("hex")}`;
}

async function readAll(stream) {
  const parts = [];
  for await (const p of stream) parts.push(Buffer.isBuffer(p) ? p : Buffer.from(p));
  return Buffer.concat(parts);
}

async function collect(iter) {
  const out = [];
  for await (const x of iter) out.push(x);
  return out;
}

// ociError is the first entry of a RestError's OCI {"errors":[...]} body. The
// SDK leaves RestError.code unset for these bodies: it puts the parsed body in
// details, or, for the streamed operations (getBlob), only the raw text in
// message.
function ociError(e) {
  if (e?.details?.errors) return e.details.errors[0];
  try {
    return JSON.parse(e?.message)?.errors?.[0];
  } catch {
    return undefined;
  }
}

function errorCode(e) {
  return ociError(e)?.code;
}

// refused runs fn and requires it to fail with a RestError of this status
// (and OCI code, when given); it returns the error.
async function refused(fn, status, code, what = "call") {
  let result;
  try {
    result = await fn();
  } catch (e) {
    if (!isRestError(e)) {
      throw new Error(`${what}: want RestError ${status} ${code ?? ""}, got ${e?.name}: ${e?.message}`);
    }
    if (e.statusCode !== status || (code !== undefined && errorCode(e) !== code)) {
      throw new Error(
        `${what}: want ${status} ${code ?? ""}, got ${e.statusCode} ${errorCode(e) ?? ""} (${String(e.message).slice(0, 300)})`,
      );
    }
    return e;
  }
  throw new Error(`${what}: want RestError ${status} ${code ?? ""}, but it succeeded (${show(result)?.slice(0, 200)})`);
}

// ---- credentials and clients -------------------------------------------------

// A static TokenCredential: the registry accepts AAD_TOKEN at /oauth2/exchange.
// It records the scopes the SDK asks for, to check the audience option.
function staticCredential(token = AAD_TOKEN) {
  const cred = {
    scopes: [],
    async getToken(scopes) {
      cred.scopes.push(...[].concat(scopes));
      return { token, expiresOnTimestamp: Date.now() + 60 * 60 * 1000 };
    },
  };
  return cred;
}

// A pipeline policy (the SDK's documented additionalPolicies option) that
// records every request after redirects: method, URL, status, whether it
// carried Authorization.
function recorder() {
  const log = [];
  return {
    log,
    option: {
      additionalPolicies: [
        {
          position: "perRetry",
          policy: {
            name: "acrgoRecorder",
            async sendRequest(req, next) {
              const res = await next(req);
              log.push({ method: req.method, url: req.url, status: res.status, auth: req.headers.has("authorization") });
              return res;
            },
          },
        },
      ],
    },
  };
}

const cred = staticCredential();
const client = new ContainerRegistryClient(SERVER_URL, cred);
const rec = recorder();
const content = (repo, c = cred, opts = {}) => new ContainerRegistryContentClient(SERVER_URL, repo, c, opts);

// ---- image building ----------------------------------------------------------

let serial = 0;

// pushImage uploads a config (with this platform) and one layer and sets an
// OCI or Docker v2 manifest, by tag or by digest. It returns what a reader
// should get back.
async function pushImage(cc, { arch = "amd64", os = "linux", tag, docker = false, layer } = {}) {
  serial++;
  const config = Buffer.from(
    JSON.stringify({ architecture: arch, os, config: { Labels: { n: String(serial) } }, rootfs: { type: "layers", diff_ids: [] } }),
  );
  const layerBytes = layer ?? Buffer.from(`layer ${serial} ${randomBytes(8).toString("hex")}\n`);
  const c = await cc.uploadBlob(config);
  const l = await cc.uploadBlob(layerBytes);
  eq(c, { digest: sha256(config), sizeInBytes: config.length }, "uploadBlob(config)");
  eq(l, { digest: sha256(layerBytes), sizeInBytes: layerBytes.length }, "uploadBlob(layer)");
  const manifest = {
    schemaVersion: 2,
    mediaType: docker ? DOCKER_MANIFEST : OCI_MANIFEST,
    config: { mediaType: docker ? DOCKER_CONFIG : OCI_CONFIG, digest: c.digest, size: config.length },
    layers: [{ mediaType: docker ? DOCKER_LAYER : OCI_LAYER, digest: l.digest, size: layerBytes.length }],
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const res = await cc.setManifest(manifest, { tag, mediaType: manifest.mediaType });
  eq(res.digest, sha256(bytes), "setManifest digest");
  return {
    digest: res.digest,
    manifest,
    bytes,
    config,
    layer: layerBytes,
    size: config.length + layerBytes.length,
    arch,
    os,
    mediaType: manifest.mediaType,
  };
}

// Distinct server timestamps for the order checks.
const tick = () => sleep(15);

function pages(list, n) {
  const out = [];
  for (let i = 0; i < list.length; i += n) out.push(list.slice(i, i + n));
  return out;
}

// byPages lists an iterator's pages and checks the continuation tokens: set on
// every page but the last, and the last one unset.
async function byPages(iterable, settings) {
  const got = [];
  const tokens = [];
  for await (const page of iterable.byPage(settings)) {
    got.push([...page]);
    tokens.push(page.continuationToken);
  }
  tokens.forEach((t, i) => {
    const last = i === tokens.length - 1;
    truthy(last ? !t : typeof t === "string" && t.length > 0, `page ${i + 1} of ${tokens.length}: continuationToken ${show(t)}`);
  });
  return { got, tokens };
}

// Repositories this run created and not deleted, to check the catalog.
const repos = new Set();

// =============================================================================

console.log("== authenticate the client (README) and the audience option");

await step("README: client with audience AzureResourceManagerPublicCloud lists the empty registry", async () => {
  const c = staticCredential();
  const cl = new ContainerRegistryClient(SERVER_URL, c, {
    audience: KnownContainerRegistryAudience.AzureResourceManagerPublicCloud,
  });
  eq(cl.endpoint, SERVER_URL, "endpoint");
  eq(await collect(cl.listRepositoryNames()), [], "repositories of a fresh registry");
  eq([...new Set(c.scopes)], ["https://management.azure.com/.default"], "scopes asked of the credential");
});

await step("default audience asks for https://containerregistry.azure.net/.default", async () => {
  eq(await collect(client.listRepositoryNames()), [], "repositories");
  eq([...new Set(cred.scopes)], ["https://containerregistry.azure.net/.default"], "scopes asked of the credential");
});

await step("README national cloud: audience AzureResourceManagerChina, serviceVersion 2021-07-01", async () => {
  const c = staticCredential();
  const cl = new ContainerRegistryClient(SERVER_URL, c, {
    audience: KnownContainerRegistryAudience.AzureResourceManagerChina,
    serviceVersion: "2021-07-01",
  });
  eq(await collect(cl.listRepositoryNames()), [], "repositories");
  eq([...new Set(c.scopes)], ["https://management.chinacloudapi.cn/.default"], "scopes asked of the credential");
});

await step("an Entra ID token the registry does not know is refused with 401 at /oauth2/exchange", async () => {
  const cl = new ContainerRegistryClient(SERVER_URL, staticCredential("not-the-token"));
  const e = await refused(() => collect(cl.listRepositoryNames()), 401, undefined, "listRepositoryNames");
  // ACR answers a bad exchange with an empty 401 (recordings, G
  // Test_authenticationClient_ExchangeAADAccessTokenForACRRefreshToken_fail.json).
  eq(new URL(e.response?.request?.url ?? "http:/none").pathname, "/oauth2/exchange", "refused request");
});

await step("no credential on a registry without anonymous pull is refused with 401", async () => {
  const cl = new ContainerRegistryClient(SERVER_URL, {
    audience: KnownContainerRegistryAudience.AzureResourceManagerPublicCloud,
  });
  await refused(() => collect(cl.listRepositoryNames()), 401, undefined, "listRepositoryNames");
});

// =============================================================================

console.log("== blob and manifest samples (README), ContainerRegistryContentClient");

const SAMPLE_REPO = "sample-oci-image";
const SAMPLE_TAG = "demo";
const sample = content(SAMPLE_REPO, cred, rec.option);
let sampleManifest;
let sampleDigest;

await step("README create content client: endpoint and repositoryName", async () => {
  eq(sample.endpoint, SERVER_URL, "endpoint");
  eq(sample.repositoryName, SAMPLE_REPO, "repositoryName");
});

await step("README upload images: uploadBlob config and layer, setManifest with tag", async () => {
  const config = Buffer.from("Sample config");
  const uc = await sample.uploadBlob(config);
  eq(uc, { digest: sha256(config), sizeInBytes: config.length }, "uploadBlob(config)");
  const layer = Buffer.from("Sample layer");
  const ul = await sample.uploadBlob(layer);
  eq(ul, { digest: sha256(layer), sizeInBytes: layer.length }, "uploadBlob(layer)");
  sampleManifest = {
    schemaVersion: 2,
    config: { digest: uc.digest, size: uc.sizeInBytes, mediaType: OCI_CONFIG },
    layers: [{ digest: ul.digest, size: ul.sizeInBytes, mediaType: OCI_LAYER }],
  };
  const res = await sample.setManifest(sampleManifest, { tag: SAMPLE_TAG });
  sampleDigest = sha256(Buffer.from(JSON.stringify(sampleManifest)));
  eq(res.digest, sampleDigest, "setManifest digest");
  repos.add(SAMPLE_REPO);
});

await step("README download images: getManifest, downloadBlob of config and layers to files", async () => {
  const dir = join(WORK_DIR, "download");
  mkdirSync(dir, { recursive: true });
  const result = await sample.getManifest(SAMPLE_TAG);
  eq(result.digest, sampleDigest, "getManifest digest");
  eq(result.mediaType, OCI_MANIFEST, "getManifest mediaType");
  eq(result.manifest, sampleManifest, "getManifest manifest");
  eq(result.content.toString(), JSON.stringify(sampleManifest), "getManifest content bytes");
  writeFileSync(join(dir, "manifest.json"), result.content);
  const config = await sample.downloadBlob(result.manifest.config.digest);
  eq(config.digest, sampleManifest.config.digest, "downloadBlob(config) digest");
  await pipeline(config.content, createWriteStream(join(dir, "config.json")));
  eq(readFileSync(join(dir, "config.json"), "utf8"), "Sample config", "config.json");
  for (const layer of result.manifest.layers) {
    const file = join(dir, layer.digest.split(":")[1]);
    await pipeline((await sample.downloadBlob(layer.digest)).content, createWriteStream(file));
    eq(readFileSync(file, "utf8"), "Sample layer", `layer ${layer.digest}`);
  }
  eq(readFileSync(join(dir, "manifest.json"), "utf8"), JSON.stringify(sampleManifest), "manifest.json");
});

await step("downloadBlob follows the registry's 307 to storage without the registry token", async () => {
  const storage = new URL(STORAGE_URL).origin;
  const blobGets = rec.log.filter((r) => r.method === "GET" && r.url.includes("/blobs/"));
  const redirects = blobGets.filter((r) => r.status === 307 && r.url.startsWith(SERVER_URL));
  const fetched = blobGets.filter((r) => new URL(r.url).origin === storage);
  eq(redirects.length, 2, "307 answers from the registry to the two downloadBlob calls");
  eq(fetched.map((r) => [r.status, r.auth]), [[200, false], [200, false]], "storage GETs [status, had Authorization]");
});

await step("README delete blob: deleteBlob of each layer, then downloadBlob gets 404 BLOB_UNKNOWN", async () => {
  const result = await sample.getManifest(SAMPLE_TAG);
  for (const layer of result.manifest.layers) {
    await sample.deleteBlob(layer.digest);
    await refused(() => sample.downloadBlob(layer.digest), 404, "BLOB_UNKNOWN", `downloadBlob(${layer.digest}) after deleteBlob`);
  }
});

await step("README delete manifest: getManifest(tag), deleteManifest(digest), then both are 404", async () => {
  const result = await sample.getManifest(SAMPLE_TAG);
  await sample.deleteManifest(result.digest);
  await refused(() => sample.getManifest(SAMPLE_TAG), 404, "MANIFEST_UNKNOWN", "getManifest(tag)");
  await refused(() => sample.getManifest(result.digest), 404, "MANIFEST_UNKNOWN", "getManifest(digest)");
});

await step("deleteBlob of a blob that never existed resolves (ACR answers 404 BLOB_UNKNOWN)", async () => {
  await sample.deleteBlob(sha256(Buffer.from("never uploaded")));
});

await step("deleteRepository removes the emptied sample repository from the catalog", async () => {
  await client.deleteRepository(SAMPLE_REPO);
  repos.delete(SAMPLE_REPO);
  eq(await collect(client.listRepositoryNames()), [], "repositories");
});

// =============================================================================

console.log("== ContainerRegistryContentClient in detail");

const IMG_REPO = "js/images";
const img = content(IMG_REPO, cred, rec.option);
repos.add(IMG_REPO);

await step("uploadBlob of a 9 MiB stream goes in 4 MiB chunks; downloadBlob returns the same bytes", async () => {
  const big = randomBytes(9 * 1024 * 1024 + 321);
  const parts = [];
  for (let i = 0; i < big.length; i += 1000003) parts.push(big.subarray(i, i + 1000003));
  const before = rec.log.length;
  const up = await img.uploadBlob(Readable.from(parts));
  eq(up, { digest: sha256(big), sizeInBytes: big.length }, "uploadBlob result");
  const patches = rec.log.slice(before).filter((r) => r.method === "PATCH" && r.status === 202);
  eq(patches.length, 3, "PATCH requests (4 MiB chunks)");
  const down = await img.downloadBlob(up.digest);
  eq(down.digest, up.digest, "downloadBlob digest");
  const got = await readAll(down.content);
  eq([got.length, sha256(got)], [big.length, up.digest], "downloaded [size, digest]");
});

await step("uploadBlob of an empty blob; downloadBlob returns 0 bytes", async () => {
  const empty = Buffer.alloc(0);
  const up = await img.uploadBlob(empty);
  eq(up, { digest: sha256(empty), sizeInBytes: 0 }, "uploadBlob result");
  const got = await readAll((await img.downloadBlob(up.digest)).content);
  eq(got.length, 0, "downloaded size");
});

// The image repository: four manifests pushed in this order; three tags whose
// time order (t-c, t-a, t-b) differs from their name order.
const images = [];

await step("setManifest OCI image manifests with tags and by digest; getManifest returns them byte for byte", async () => {
  images.push({ ...(await pushImage(img, { arch: "amd64", tag: "t-c" })), tags: ["t-c"] });
  await tick();
  images.push({ ...(await pushImage(img, { arch: "arm64", tag: "t-a" })), tags: ["t-a"] });
  await tick();
  images.push({ ...(await pushImage(img, { arch: "amd64", os: "windows", tag: "t-b" })), tags: ["t-b"] });
  await tick();
  images.push({ ...(await pushImage(img, { arch: "riscv64" })), tags: [] });
  for (const im of images) {
    for (const ref of [...im.tags, im.digest]) {
      const got = await img.getManifest(ref);
      eq([got.digest, got.mediaType], [im.digest, OCI_MANIFEST], `getManifest(${ref}) [digest, mediaType]`);
      truthy(got.content.equals(im.bytes), `getManifest(${ref}) content differs from what was set`);
      eq(got.manifest, im.manifest, `getManifest(${ref}) manifest`);
    }
  }
});

const DOCKER_REPO = "js/docker";
let dockerImage;

await step("setManifest Docker v2 (mediaType DockerManifest) with tag; getManifest and properties", async () => {
  const cc = content(DOCKER_REPO);
  dockerImage = await pushImage(cc, {
    arch: KnownArtifactArchitecture.Arm64,
    os: KnownArtifactOperatingSystem.Linux,
    tag: "latest",
    docker: true,
  });
  repos.add(DOCKER_REPO);
  const got = await cc.getManifest("latest");
  eq([got.digest, got.mediaType], [dockerImage.digest, DOCKER_MANIFEST], "getManifest [digest, mediaType]");
  truthy(got.content.equals(dockerImage.bytes), "getManifest content differs from what was set");
  const p = await client.getArtifact(DOCKER_REPO, "latest").getManifestProperties();
  eq(
    [p.digest, p.sizeInBytes, p.architecture, p.operatingSystem, p.tags],
    [dockerImage.digest, dockerImage.size, "arm64", "linux", ["latest"]],
    "properties [digest, sizeInBytes, architecture, operatingSystem, tags]",
  );
});

const MULTI_REPO = "js/multi";
let index;
let children;

await step("setManifest OCI index (mediaType option); relatedArtifacts lists its platforms", async () => {
  const cc = content(MULTI_REPO);
  children = [await pushImage(cc, { arch: "amd64" }), await pushImage(cc, { arch: "arm64" })];
  repos.add(MULTI_REPO);
  index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: children.map((c) => ({
      mediaType: OCI_MANIFEST,
      digest: c.digest,
      size: c.bytes.length,
      platform: { architecture: c.arch, os: c.os },
    })),
  };
  const res = await cc.setManifest(index, { mediaType: OCI_INDEX, tag: "multi" });
  eq(res.digest, sha256(Buffer.from(JSON.stringify(index))), "setManifest digest");
  const got = await cc.getManifest("multi");
  eq([got.digest, got.mediaType, got.manifest], [res.digest, OCI_INDEX, index], "getManifest [digest, mediaType, manifest]");
  const p = await client.getArtifact(MULTI_REPO, "multi").getManifestProperties();
  eq(
    p.relatedArtifacts,
    children.map((c) => ({ digest: c.digest, architecture: c.arch, operatingSystem: c.os })),
    "relatedArtifacts",
  );
  eq(p.tags, ["multi"], "tags");
});

const RAW_REPO = "js/raw";

await step("setManifest of a Buffer (no tag) and of a stream (tag): bytes kept as sent", async () => {
  const cc = content(RAW_REPO);
  const base = await pushImage(cc, { arch: "s390x" });
  repos.add(RAW_REPO);
  // Indented JSON: the digest is of these bytes, not of a re-encoding.
  const pretty = Buffer.from(JSON.stringify(base.manifest, null, 3) + "\n");
  const byBuffer = await cc.setManifest(pretty);
  eq(byBuffer.digest, sha256(pretty), "setManifest(Buffer) digest");
  const got = await cc.getManifest(byBuffer.digest);
  truthy(got.content.equals(pretty), "getManifest(digest) did not return the Buffer's bytes");
  const tabbed = Buffer.from(JSON.stringify(base.manifest, null, "\t"));
  const byStream = await cc.setManifest(Readable.from([tabbed.subarray(0, 10), tabbed.subarray(10)]), { tag: "streamed" });
  eq(byStream.digest, sha256(tabbed), "setManifest(stream) digest");
  const got2 = await cc.getManifest("streamed");
  eq(got2.digest, sha256(tabbed), "getManifest(streamed) digest");
  truthy(got2.content.equals(tabbed), "getManifest(streamed) did not return the stream's bytes");
});

await step("getManifest of a missing tag is 404 MANIFEST_UNKNOWN", async () => {
  await refused(() => img.getManifest("no-such-tag"), 404, "MANIFEST_UNKNOWN", "getManifest");
});

// =============================================================================

console.log("== ContainerRegistryClient, ContainerRepository, RegistryArtifact");

// Extra repositories so that the catalog has several pages.
await step("listRepositoryNames lists every repository in name order", async () => {
  for (const r of ["js/pages/a", "js/pages/b"]) {
    await pushImage(content(r));
    repos.add(r);
  }
  eq(await collect(client.listRepositoryNames()), [...repos].sort(), "repositories");
});

await step("listRepositoryNames byPage maxPageSize 2, then resumed from a continuationToken", async () => {
  const want = [...repos].sort();
  const { got, tokens } = await byPages(client.listRepositoryNames(), { maxPageSize: 2 });
  eq(got, pages(want, 2), "pages of 2");
  // The token is the Link header's target, in ACR's form (recordings: P
  // test_list_repository_names_by_page, last=library%2Fbusybox&n=2&orderby=).
  eq(tokens[0], `/acr/v1/_catalog?last=${encodeURIComponent(want[1])}&n=2&orderby=`, "first continuationToken");
  const resumed = await byPages(client.listRepositoryNames(), { maxPageSize: 2, continuationToken: tokens[0] });
  eq(resumed.got, pages(want, 2).slice(1), "pages after the first page's continuationToken");
});

await step("getRepository: name, registryEndpoint, getProperties counts and flags", async () => {
  const repo = client.getRepository(IMG_REPO);
  eq([repo.name, repo.registryEndpoint], [IMG_REPO, SERVER_URL], "[name, registryEndpoint]");
  const p = await repo.getProperties();
  eq(
    [p.name, p.registryLoginServer, p.manifestCount, p.tagCount],
    [IMG_REPO, HOST, images.length, 3],
    "[name, registryLoginServer, manifestCount, tagCount]",
  );
  eq([p.canDelete, p.canWrite, p.canList, p.canRead], [true, true, true, true], "[canDelete, canWrite, canList, canRead]");
  truthy(p.createdOn instanceof Date && p.lastUpdatedOn instanceof Date, "createdOn/lastUpdatedOn are not dates");
  truthy(p.createdOn <= p.lastUpdatedOn, `createdOn ${show(p.createdOn)} after lastUpdatedOn ${show(p.lastUpdatedOn)}`);
});

await step("ContainerRepository.updateProperties sets and clears the flags", async () => {
  const repo = client.getRepository(IMG_REPO);
  const u = await repo.updateProperties({ canDelete: false, canWrite: false, canList: true, canRead: true });
  eq([u.name, u.canDelete, u.canWrite, u.canList, u.canRead], [IMG_REPO, false, false, true, true], "update result");
  const p = await repo.getProperties();
  eq([p.canDelete, p.canWrite, p.canList, p.canRead], [false, false, true, true], "getProperties after update");
  const r = await repo.updateProperties({ canDelete: true, canWrite: true });
  eq([r.canDelete, r.canWrite, r.canList, r.canRead], [true, true, true, true], "after clearing");
});

function wantManifest(im, repo = IMG_REPO) {
  return {
    repositoryName: repo,
    registryLoginServer: HOST,
    digest: im.digest,
    sizeInBytes: im.size,
    architecture: im.arch,
    operatingSystem: im.os,
    tags: [...im.tags].sort(),
    flags: [true, true, true, true],
  };
}

function gotManifest(p) {
  return {
    repositoryName: p.repositoryName,
    registryLoginServer: p.registryLoginServer,
    digest: p.digest,
    sizeInBytes: p.sizeInBytes,
    architecture: p.architecture,
    operatingSystem: p.operatingSystem,
    tags: [...p.tags].sort(),
    flags: [p.canDelete, p.canWrite, p.canList, p.canRead],
  };
}

await step("listManifestProperties: default order is by digest, with sizes, platforms and tags", async () => {
  const got = await collect(client.getRepository(IMG_REPO).listManifestProperties());
  const want = [...images].sort((a, b) => (a.digest < b.digest ? -1 : 1));
  eq(got.map(gotManifest), want.map((im) => wantManifest(im)), "manifests");
  for (const p of got) truthy(p.createdOn instanceof Date && p.lastUpdatedOn instanceof Date, "createdOn/lastUpdatedOn");
});

await step("listManifestProperties order LastUpdatedOnAscending and LastUpdatedOnDescending", async () => {
  const repo = client.getRepository(IMG_REPO);
  const asc = await collect(repo.listManifestProperties({ order: "LastUpdatedOnAscending" }));
  const desc = await collect(repo.listManifestProperties({ order: "LastUpdatedOnDescending" }));
  const pushed = images.map((im) => im.digest);
  eq(asc.map((p) => p.digest), pushed, "ascending");
  eq(desc.map((p) => p.digest), [...pushed].reverse(), "descending");
  for (let i = 1; i < asc.length; i++) {
    truthy(asc[i - 1].lastUpdatedOn <= asc[i].lastUpdatedOn, `ascending lastUpdatedOn out of order at ${i}`);
  }
});

await step("listManifestProperties byPage maxPageSize 1: continuationToken in ACR's Link form", async () => {
  // J recording_should_list_registry_manifests_by_pages.json:
  // /acr/v1/library%2Fhello-world/_manifests?last=sha256%3A085e…&n=1&orderby=
  const want = images.map((im) => im.digest).sort();
  const { got, tokens } = await byPages(client.getRepository(IMG_REPO).listManifestProperties(), { maxPageSize: 1 });
  eq(got.map((p) => p.map((m) => m.digest)), pages(want, 1), "pages of 1");
  eq(
    tokens[0],
    `/acr/v1/${encodeURIComponent(IMG_REPO)}/_manifests?last=${encodeURIComponent(want[0])}&n=1&orderby=`,
    "first continuationToken",
  );
});

await step("listManifestProperties byPage maxPageSize 1 (descending), then resumed", async () => {
  const repo = client.getRepository(IMG_REPO);
  const want = images.map((im) => im.digest).reverse();
  const { got, tokens } = await byPages(repo.listManifestProperties({ order: "LastUpdatedOnDescending" }), { maxPageSize: 1 });
  eq(got.map((p) => p.map((m) => m.digest)), pages(want, 1), "pages of 1");
  const resumed = await byPages(repo.listManifestProperties({ order: "LastUpdatedOnDescending" }), {
    maxPageSize: 1,
    continuationToken: tokens[1],
  });
  eq(resumed.got.map((p) => p.map((m) => m.digest)), pages(want, 1).slice(2), "pages after the second page's token");
});

await step("getArtifact by tag and by digest: fullyQualifiedReference and getManifestProperties", async () => {
  const im = images[1];
  const host = new URL(SERVER_URL).hostname;
  const byTag = client.getArtifact(IMG_REPO, "t-a");
  eq(
    [byTag.registryEndpoint, byTag.repositoryName, byTag.fullyQualifiedReference],
    [SERVER_URL, IMG_REPO, `${host}/${IMG_REPO}:t-a`],
    "[registryEndpoint, repositoryName, fullyQualifiedReference] by tag",
  );
  eq(gotManifest(await byTag.getManifestProperties()), wantManifest(im), "getManifestProperties by tag");
  const byDigest = client.getRepository(IMG_REPO).getArtifact(im.digest);
  eq(byDigest.fullyQualifiedReference, `${host}/${IMG_REPO}@${im.digest}`, "fullyQualifiedReference by digest");
  eq(gotManifest(await byDigest.getManifestProperties()), wantManifest(im), "getManifestProperties by digest");
});

await step("RegistryArtifact.updateManifestProperties sets and clears the flags", async () => {
  const a = client.getArtifact(IMG_REPO, images[3].digest);
  const u = await a.updateManifestProperties({ canDelete: false, canWrite: false, canList: false, canRead: true });
  eq([u.digest, u.canDelete, u.canWrite, u.canList, u.canRead], [images[3].digest, false, false, false, true], "update result");
  const p = await a.getManifestProperties();
  eq([p.canDelete, p.canWrite, p.canList, p.canRead], [false, false, false, true], "getManifestProperties after update");
  const r = await a.updateManifestProperties({ canDelete: true, canWrite: true, canList: true });
  eq([r.canDelete, r.canWrite, r.canList, r.canRead], [true, true, true, true], "after clearing");
});

function gotTag(t) {
  return [t.registryLoginServer, t.repositoryName, t.name, t.digest, t.canDelete, t.canWrite, t.canList, t.canRead];
}

await step("RegistryArtifact.getTagProperties", async () => {
  const t = await client.getArtifact(IMG_REPO, "t-b").getTagProperties("t-b");
  eq(gotTag(t), [HOST, IMG_REPO, "t-b", images[2].digest, true, true, true, true], "tag properties");
  truthy(t.createdOn instanceof Date && t.createdOn <= t.lastUpdatedOn, "createdOn/lastUpdatedOn");
  await refused(() => client.getArtifact(IMG_REPO, "t-b").getTagProperties("no-such-tag"), 404, "TAG_UNKNOWN", "missing tag");
});

// In this SDK version, RegistryArtifact.listTagProperties lists the tags of
// the whole repository (it sends no digest filter).
const tagOrder = ["t-c", "t-a", "t-b"];
const tagDigest = (t) => images[["t-c", "t-a", "t-b"].indexOf(t)]?.digest;

await step("listTagProperties: default order is by name, with digests and flags", async () => {
  const got = await collect(client.getArtifact(IMG_REPO, "t-a").listTagProperties());
  eq(
    got.map(gotTag),
    [...tagOrder].sort().map((t) => [HOST, IMG_REPO, t, tagDigest(t), true, true, true, true]),
    "tags",
  );
});

await step("listTagProperties order LastUpdatedOnAscending and LastUpdatedOnDescending", async () => {
  const a = client.getArtifact(IMG_REPO, "t-a");
  eq((await collect(a.listTagProperties({ order: "LastUpdatedOnAscending" }))).map((t) => t.name), tagOrder, "ascending");
  eq(
    (await collect(a.listTagProperties({ order: "LastUpdatedOnDescending" }))).map((t) => t.name),
    [...tagOrder].reverse(),
    "descending",
  );
});

await step("listTagProperties byPage maxPageSize 2 (ascending), then resumed", async () => {
  const a = client.getArtifact(IMG_REPO, "t-a");
  const { got, tokens } = await byPages(a.listTagProperties({ order: "LastUpdatedOnAscending" }), { maxPageSize: 2 });
  eq(got.map((p) => p.map((t) => t.name)), pages(tagOrder, 2), "pages of 2");
  // By name, the token has ACR's form (G TestClient_NewListTagsPager.json:
  // /acr/v1/alpine/_tags?last=3.15.6&n=1&orderby=).
  const byName = await byPages(a.listTagProperties(), { maxPageSize: 1 });
  eq(byName.got.map((p) => p.map((t) => t.name)), pages([...tagOrder].sort(), 1), "pages of 1 by name");
  eq(byName.tokens[0], `/acr/v1/${encodeURIComponent(IMG_REPO)}/_tags?last=t-a&n=1&orderby=`, "first continuationToken by name");
  const resumed = await byPages(a.listTagProperties({ order: "LastUpdatedOnAscending" }), {
    maxPageSize: 2,
    continuationToken: tokens[0],
  });
  eq(resumed.got.map((p) => p.map((t) => t.name)), pages(tagOrder, 2).slice(1), "pages after the first token");
});

// =============================================================================

console.log("== lock flags: refusals and unlocking");

const LOCK_REPO = "js/locks";
const lc = content(LOCK_REPO);
let lockA;
let lockB;

await step("README set artifact properties: updateTagProperties canWrite=false canDelete=false", async () => {
  lockA = await pushImage(lc, { tag: "latest" });
  lockB = await pushImage(lc, { tag: "other" });
  repos.add(LOCK_REPO);
  const image = client.getArtifact(LOCK_REPO, "latest");
  const u = await image.updateTagProperties("latest", { canWrite: false, canDelete: false });
  eq([u.name, u.digest, u.canWrite, u.canDelete, u.canList, u.canRead], ["latest", lockA.digest, false, false, true, true], "update result");
  const t = await image.getTagProperties("latest");
  eq([t.canWrite, t.canDelete], [false, false], "getTagProperties after update");
});

await step("tag with writeEnabled=false: deleteTag refused 405 REGISTRY_DISALLOWED_OPERATION", async () => {
  await refused(() => client.getArtifact(LOCK_REPO, "latest").deleteTag("latest"), 405, LOCKED, "deleteTag");
  eq((await client.getArtifact(LOCK_REPO, "latest").getTagProperties("latest")).digest, lockA.digest, "tag after refusal");
});

await step("tag with writeEnabled=false: setManifest over it refused 405 REGISTRY_DISALLOWED_OPERATION", async () => {
  await refused(() => lc.setManifest(lockB.manifest, { tag: "latest" }), 405, LOCKED, "setManifest");
  eq((await lc.getManifest("latest")).digest, lockA.digest, "tag after refusal");
});

await step("tag with only deleteEnabled=false: deleteTag refused 405, overwrite allowed", async () => {
  const a = client.getArtifact(LOCK_REPO, "latest");
  const u = await a.updateTagProperties("latest", { canWrite: true, canDelete: false });
  eq([u.canWrite, u.canDelete], [true, false], "update result");
  await refused(() => a.deleteTag("latest"), 405, LOCKED, "deleteTag");
  const res = await lc.setManifest(lockB.manifest, { tag: "latest" });
  eq(res.digest, lockB.digest, "overwrite digest");
  eq((await a.getTagProperties("latest")).digest, lockB.digest, "tag after overwrite");
});

await step("unlocked tag: updateTagProperties canDelete=true, then deleteTag succeeds", async () => {
  const a = client.getArtifact(LOCK_REPO, "latest");
  await a.updateTagProperties("latest", { canDelete: true });
  await a.deleteTag("latest");
  await refused(() => a.getTagProperties("latest"), 404, "TAG_UNKNOWN", "getTagProperties after deleteTag");
});

await step("manifest with writeEnabled=false: delete and deleteManifest refused 405", async () => {
  const a = client.getArtifact(LOCK_REPO, lockA.digest);
  const u = await a.updateManifestProperties({ canWrite: false });
  eq([u.canWrite, u.canDelete], [false, true], "update result");
  await refused(() => a.delete(), 405, LOCKED, "RegistryArtifact.delete");
  await refused(() => lc.deleteManifest(lockA.digest), 405, LOCKED, "deleteManifest");
  eq((await lc.getManifest(lockA.digest)).digest, lockA.digest, "manifest after refusals");
});

await step("manifest with only deleteEnabled=false: delete refused 405; unlocked, delete succeeds", async () => {
  const a = client.getArtifact(LOCK_REPO, lockA.digest);
  const u = await a.updateManifestProperties({ canWrite: true, canDelete: false });
  eq([u.canWrite, u.canDelete], [true, false], "update result");
  await refused(() => lc.deleteManifest(lockA.digest), 405, LOCKED, "deleteManifest");
  await a.updateManifestProperties({ canDelete: true });
  await a.delete();
  await refused(() => a.getManifestProperties(), 404, "MANIFEST_UNKNOWN", "getManifestProperties after delete");
});

await step("repository with writeEnabled=false: setManifest of a new tag refused 405", async () => {
  const repo = client.getRepository(LOCK_REPO);
  await repo.updateProperties({ canWrite: false });
  try {
    await refused(() => lc.setManifest(lockB.manifest, { tag: "new-tag" }), 405, LOCKED, "setManifest");
    await refused(() => client.getArtifact(LOCK_REPO, "new-tag").getTagProperties("new-tag"), 404, "TAG_UNKNOWN", "new tag");
  } finally {
    await repo.updateProperties({ canWrite: true });
  }
});

await step("repository with deleteEnabled=false: deleteRepository refused 405; unlocked, it succeeds", async () => {
  const repo = client.getRepository(LOCK_REPO);
  const u = await repo.updateProperties({ canDelete: false });
  eq([u.canDelete, u.canWrite], [false, true], "update result");
  await refused(() => client.deleteRepository(LOCK_REPO), 405, LOCKED, "deleteRepository");
  await refused(() => repo.delete(), 405, LOCKED, "ContainerRepository.delete");
  eq((await repo.getProperties()).tagCount, 1, "tagCount after refusals");
  await repo.updateProperties({ canDelete: true });
  await repo.delete();
  repos.delete(LOCK_REPO);
  await refused(() => repo.getProperties(), 404, "NAME_UNKNOWN", "getProperties after delete");
});

// =============================================================================

console.log("== deletes");

await step("RegistryArtifact.deleteTag removes the tag and keeps the manifest", async () => {
  const a = client.getArtifact(IMG_REPO, "t-c");
  await a.deleteTag("t-c");
  await refused(() => a.getTagProperties("t-c"), 404, "TAG_UNKNOWN", "getTagProperties");
  const p = await client.getArtifact(IMG_REPO, images[0].digest).getManifestProperties();
  eq(p.tags, [], "manifest tags after deleteTag");
  images[0].tags = [];
  eq((await collect(a.listTagProperties())).map((t) => t.name), ["t-a", "t-b"], "tags left");
});

await step("deleteTag of a missing tag resolves (the SDK accepts ACR's 404)", async () => {
  await client.getArtifact(IMG_REPO, "t-a").deleteTag("no-such-tag");
});

await step("RegistryArtifact.delete by tag removes the manifest and its tag", async () => {
  const a = client.getArtifact(IMG_REPO, "t-b");
  await a.delete();
  await refused(() => client.getArtifact(IMG_REPO, images[2].digest).getManifestProperties(), 404, "MANIFEST_UNKNOWN", "manifest");
  await refused(() => a.getTagProperties("t-b"), 404, "TAG_UNKNOWN", "tag");
  images.splice(2, 1);
  const p = await client.getRepository(IMG_REPO).getProperties();
  eq([p.manifestCount, p.tagCount], [images.length, 1], "[manifestCount, tagCount]");
});

await step("ContainerRegistryClient.deleteRepository and ContainerRepository.delete", async () => {
  for (const r of ["js/pages/a", "js/pages/b"]) {
    if (r.endsWith("a")) await client.deleteRepository(r);
    else await client.getRepository(r).delete();
    repos.delete(r);
    await refused(() => client.getRepository(r).getProperties(), 404, "NAME_UNKNOWN", `getProperties(${r})`);
  }
  eq(await collect(client.listRepositoryNames()), [...repos].sort(), "repositories left");
});

await step("deleteRepository of a missing repository resolves (the SDK accepts ACR's 404)", async () => {
  await client.deleteRepository("js/no-such-repository");
});

await step("404 errors carry ACR's recorded codes and messages", async () => {
  // shared/docs/acr-recordings/README.md, "Other error bodies".
  const cases = [
    [() => client.getRepository("wrong-name").getProperties(), "NAME_UNKNOWN", 'repository "wrong-name" is not found'],
    [() => client.getArtifact(IMG_REPO, "t-a").getTagProperties("wrong-tag"), "TAG_UNKNOWN", "the specified tag does not exist"],
    [() => img.getManifest("wrong-tag"), "MANIFEST_UNKNOWN", 'manifest tagged by "wrong-tag" is not found'],
    [() => img.downloadBlob(sha256(Buffer.from("wrong blob"))), "BLOB_UNKNOWN", "blob unknown to registry"],
  ];
  const bad = [];
  for (const [fn, code, message] of cases) {
    try {
      const got = ociError(await refused(fn, 404, code, code))?.message;
      if (got !== message) bad.push(`${code}: got ${show(got)}, want ${show(message)}`);
    } catch (e) {
      bad.push(e.message);
    }
  }
  truthy(bad.length === 0, bad.join("; "));
});

await step("README delete images: keep the 3 newest manifests of every repository", async () => {
  const CLEAN_REPO = "js/cleanup";
  const cc = content(CLEAN_REPO);
  for (let i = 1; i <= 5; i++) {
    await pushImage(cc, { tag: `c${i}` });
    await tick();
  }
  repos.add(CLEAN_REPO);
  // What should stay: per repository, the 3 newest by lastUpdatedOn.
  const want = {};
  for (const name of repos) {
    const all = await collect(client.getRepository(name).listManifestProperties({ order: "LastUpdatedOnAscending" }));
    want[name] = all.slice(-3).map((m) => m.digest).reverse();
  }
  // The sample itself.
  const deleted = [];
  for await (const repositoryName of client.listRepositoryNames()) {
    const repository = client.getRepository(repositoryName);
    const imageManifests = repository.listManifestProperties({ order: "LastUpdatedOnDescending" });
    let n = 0;
    for await (const imageManifest of imageManifests) {
      if (n++ < 3) continue;
      const image = repository.getArtifact(imageManifest.digest);
      for (const tagName of imageManifest.tags) {
        deleted.push(`${imageManifest.repositoryName}:${tagName}`);
        await image.deleteTag(tagName);
      }
      await image.delete();
    }
  }
  const got = {};
  for (const name of repos) {
    got[name] = (await collect(client.getRepository(name).listManifestProperties({ order: "LastUpdatedOnDescending" }))).map(
      (m) => m.digest,
    );
  }
  eq(got, want, "manifests left per repository");
  eq(deleted.filter((d) => d.startsWith(CLEAN_REPO)).sort(), [`${CLEAN_REPO}:c1`, `${CLEAN_REPO}:c2`], "tags deleted in js/cleanup");
  const tags = (await collect(client.getArtifact(CLEAN_REPO, "c5").listTagProperties())).map((t) => t.name);
  eq(tags, ["c3", "c4", "c5"], "tags left in js/cleanup");
});

// =============================================================================

console.log("== anonymous pull (a registry started with --anonymous-pull)");

const ANON_REPO = "library/hello-world";
const anon = new ContainerRegistryClient(ANON_URL, {
  audience: KnownContainerRegistryAudience.AzureResourceManagerPublicCloud,
});
let hello;
let helloArm;

await step("seed the anonymous-pull registry with an authenticated client", async () => {
  const cc = new ContainerRegistryContentClient(ANON_URL, ANON_REPO, cred);
  hello = await pushImage(cc, { tag: "latest" });
  await tick();
  const res = await cc.setManifest(hello.manifest, { tag: "v1" });
  eq(res.digest, hello.digest, "second tag");
  helloArm = await pushImage(cc, { arch: "arm64", tag: "arm" });
  await pushImage(new ContainerRegistryContentClient(ANON_URL, "library/busybox", cred), { tag: "latest" });
});

await step("README list tags with anonymous access", async () => {
  const image = anon.getArtifact(ANON_REPO, "latest");
  eq(image.fullyQualifiedReference, `${new URL(ANON_URL).hostname}/${ANON_REPO}:latest`, "fullyQualifiedReference");
  const tags = await collect(image.listTagProperties());
  eq(
    tags.map((t) => [t.repositoryName, t.name, t.digest]),
    [
      [ANON_REPO, "arm", helloArm.digest],
      [ANON_REPO, "latest", hello.digest],
      [ANON_REPO, "v1", hello.digest],
    ],
    "tags",
  );
});

await step("anonymous listRepositoryNames (and byPage maxPageSize 1)", async () => {
  eq(await collect(anon.listRepositoryNames()), ["library/busybox", ANON_REPO], "repositories");
  const { got } = await byPages(anon.listRepositoryNames(), { maxPageSize: 1 });
  eq(got, [["library/busybox"], [ANON_REPO]], "pages");
});

await step("anonymous getProperties, getManifestProperties, getTagProperties, listManifestProperties", async () => {
  const p = await anon.getRepository(ANON_REPO).getProperties();
  eq([p.name, p.manifestCount, p.tagCount, p.canDelete], [ANON_REPO, 2, 3, true], "[name, manifestCount, tagCount, canDelete]");
  const m = await anon.getArtifact(ANON_REPO, "v1").getManifestProperties();
  eq([m.digest, m.sizeInBytes, [...m.tags].sort()], [hello.digest, hello.size, ["latest", "v1"]], "manifest");
  const t = await anon.getArtifact(ANON_REPO, "v1").getTagProperties("v1");
  eq([t.name, t.digest], ["v1", hello.digest], "tag");
  const list = await collect(anon.getRepository(ANON_REPO).listManifestProperties({ order: "LastUpdatedOnAscending" }));
  eq(list.map((x) => x.digest), [hello.digest, helloArm.digest], "manifests");
});

await step("anonymous content client (no credential): getManifest and downloadBlob", async () => {
  const cc = new ContainerRegistryContentClient(ANON_URL, ANON_REPO, undefined);
  const got = await cc.getManifest("latest");
  eq([got.digest, got.mediaType], [hello.digest, OCI_MANIFEST], "[digest, mediaType]");
  truthy(got.content.equals(hello.bytes), "manifest bytes differ");
  const blob = await readAll((await cc.downloadBlob(hello.manifest.layers[0].digest)).content);
  truthy(blob.equals(hello.layer), "layer bytes differ");
});

await step("anonymous writes are refused with 401 UNAUTHORIZED and change nothing", async () => {
  const repo = anon.getRepository(ANON_REPO);
  const a = anon.getArtifact(ANON_REPO, "latest");
  const cc = new ContainerRegistryContentClient(ANON_URL, ANON_REPO, undefined);
  const writes = [
    ["ContainerRepository.updateProperties", () => repo.updateProperties({ canDelete: false })],
    ["updateTagProperties", () => a.updateTagProperties("latest", { canWrite: false })],
    ["updateManifestProperties", () => a.updateManifestProperties({ canWrite: false })],
    ["deleteTag", () => a.deleteTag("v1")],
    ["RegistryArtifact.delete", () => anon.getArtifact(ANON_REPO, helloArm.digest).delete()],
    ["deleteRepository", () => anon.deleteRepository("library/busybox")],
    ["ContainerRepository.delete", () => repo.delete()],
    ["uploadBlob", () => cc.uploadBlob(Buffer.from("anonymous"))],
    ["setManifest", () => cc.setManifest(hello.manifest, { tag: "anon" })],
    ["deleteManifest", () => cc.deleteManifest(helloArm.digest)],
    ["deleteBlob", () => cc.deleteBlob(hello.manifest.layers[0].digest)],
  ];
  // As recorded (J recording_should_throw_error_setting_properties_with_anonymous_access.json),
  // /oauth2/token hands out a token and the retried call itself is refused,
  // with error="insufficient_scope" in its challenge.
  for (const [what, fn] of writes) {
    const e = await refused(fn, 401, "UNAUTHORIZED", what);
    const url = new URL(e.response?.request?.url ?? "http:/none");
    truthy(url.pathname !== "/oauth2/token", `${what}: refused by ${url.pathname}, want the operation itself refused`);
    const challenge = e.response?.headers?.get("www-authenticate") ?? "";
    truthy(challenge.includes('error="insufficient_scope"'), `${what}: challenge ${show(challenge)} lacks error="insufficient_scope"`);
  }
  const p = await repo.getProperties();
  eq([p.manifestCount, p.tagCount, p.canDelete, p.canWrite], [2, 3, true, true], "repository after refusals");
  const t = await a.getTagProperties("latest");
  eq([t.canWrite, t.canDelete], [true, true], "tag after refusals");
  eq(await collect(anon.listRepositoryNames()), ["library/busybox", ANON_REPO], "repositories after refusals");
  const blob = await readAll((await cc.downloadBlob(hello.manifest.layers[0].digest)).content);
  truthy(blob.equals(hello.layer), "layer bytes after refusals");
});

rmSync(WORK_DIR, { recursive: true, force: true });
console.log(`${passed} passed, ${failures} failed`);
process.exitCode = failures ? 1 : 0;
