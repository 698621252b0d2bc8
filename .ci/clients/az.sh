#!/usr/bin/env bash
# shellcheck disable=SC2016 # single-quoted jq filters: $s and $host are jq variables
# The Azure CLI's registry data-plane commands (Debian's azure-cli 2.45),
# unchanged, against `acrctl serve --tls-self-signed --user`: `az acr
# repository list|show|show-tags|show-manifests|update|untag|delete` and `az
# acr manifest list|list-metadata|show|show-metadata|update-metadata|
# list-referrers|delete`, with --username/--password, lock flags, --orderby
# and --top, every output checked with jq against what was pushed. Then soft
# delete, against a second server started with --soft-delete 7: deletes by
# az, `az acr repository list-deleted` and `az acr manifest restore` (by tag,
# by digest, a tag in use, --force, a deleted repository), each restored
# manifest's bytes hashed against its digest, and the answers of the two
# listings that `az acr manifest list-deleted` and `list-deleted-tags` read,
# which cannot run as they are (they read the retention days from Azure
# Resource Manager): checked raw with curl and jq, and read by az's own code
# with only that lookup stubbed (python/az_soft_delete.py).
#
# How az finds a local registry: with no Azure login, az builds the login
# server as NAME + the cloud's ACR suffix (azure/cli/command_modules/acr/
# _docker_utils.py, _get_credentials), and fully qualified names such as
# 127.0.0.1:PORT/repo:tag are split at the first dot into registry "127"
# and suffix ".0.0.1:PORT" (manifest.py, _parse_fqdn). So a cloud whose ACR
# suffix is ".0.0.1:PORT" and the registry name "127" give https://
# 127.0.0.1:PORT in both forms, with a certificate valid for 127.0.0.1 and
# no name resolution. (A ".localhost:PORT" suffix would need *.localhost to
# resolve, which glibc with "hosts: files dns" does not do, and a
# certificate for it; "localhost" with suffix ":PORT" works for -n but not
# in fully qualified names, which need a dot.) The cloud's other endpoints point at https://127.0.0.1:1, which
# refuses at once; giving all four that `az cloud register` requires stops
# it from fetching them from a metadata endpoint.
#
# az runs with its own config directory, without telemetry, surveys or
# extension installs, with a proxy on a closed port for anything but
# 127.0.0.1 (so a stray request fails at once instead of hanging), and under
# `timeout`. When strace exists, one command is traced to prove az connects
# to nothing but the registry.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$ROOT"

need_debian() { # PACKAGE...: install the ones dpkg does not have
	local p missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	log "installing ${missing[*]} with apt"
	# Without package lists, or with stale ones, install fails: update, retry.
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; }
}
need_debian azure-cli jq
command -v az >/dev/null || die "az is missing after installing azure-cli"

init_work acrgo-az
go build -o "$TOOLS/acrctl" ./cmd/acrctl
start_server acrctl "$WORK/srv" data auth tls
PORT=${SERVER_HOST##*:}
export REQUESTS_CA_BUNDLE=$SERVER_CERT SSL_CERT_FILE=$SERVER_CERT

# Seed the registry with raw pushes (az cannot push); seed.json says what.
/usr/bin/python3 "$ROOT/.ci/clients/python/rawreg.py" seed-az "$SERVER_URL" "$CI_USER" "$CI_PASS" "$WORK/seed.json" ||
	die "seeding the registry failed"

export AZURE_CONFIG_DIR=$WORK/azure AZURE_CORE_COLLECT_TELEMETRY=no AZURE_CORE_SURVEY_MESSAGE=no \
	AZURE_CORE_NO_COLOR=yes AZURE_CORE_OUTPUT=json AZURE_EXTENSION_USE_DYNAMIC_INSTALL=no \
	AZURE_CORE_DISABLE_CONFIRM_PROMPT=yes
export HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 \
	http_proxy=http://127.0.0.1:9 NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
mkdir -p "$AZURE_CONFIG_DIR"
NOWHERE=https://127.0.0.1:1
timeout 60 az cloud register -n acrgo-local --endpoint-resource-manager $NOWHERE \
	--endpoint-active-directory $NOWHERE --endpoint-active-directory-resource-id $NOWHERE \
	--endpoint-active-directory-graph-resource-id $NOWHERE \
	--suffix-acr-login-server-endpoint ".0.0.1:$PORT" --only-show-errors >&2 || die "az cloud register failed"
timeout 60 az cloud set -n acrgo-local --only-show-errors >&2 || die "az cloud set failed"

REG=127
FQ=127.0.0.1:$PORT
CRED=(-u "$CI_USER" -p "$CI_PASS")
SEED=$WORK/seed.json
AZ=(az) # the soft-delete checks run some commands through python/az_soft_delete.py
failures=0

# expect DESCRIPTION JQ-FILTER AZ-ARGS...: az must succeed, and the filter,
# given the seed ($SEED) as $s and the registry host as $host, must be true
# on its JSON output (null when az printed nothing, as it does for a None
# result).
expect() {
	local what=$1 filter=$2
	shift 2
	if ! timeout 120 "${AZ[@]}" "$@" --only-show-errors >"$WORK/out" 2>"$WORK/err"; then
		echo "  FAIL $what: az ${*:1:3} exited non-zero"
		sed 's/^/       /' "$WORK/err" | tail -n 6
		failures=$((failures + 1))
	elif ! jq -n -e --slurpfile seed "$SEED" --slurpfile out "$WORK/out" --arg host "$FQ" \
		"\$seed[0] as \$s | (\$out | if length > 1 then error(\"several JSON values\") else .[0] end) | $filter" \
		>/dev/null 2>"$WORK/jqerr"; then
		echo "  FAIL $what: output does not satisfy: $filter"
		head -c 1500 "$WORK/out" | sed 's/^/       /'
		echo
		sed 's/^/       /' "$WORK/jqerr"
		failures=$((failures + 1))
	else
		echo "  ok   $what"
	fi
}

# refuse DESCRIPTION REGEX AZ-ARGS...: az must fail with an error matching REGEX.
refuse() {
	local what=$1 re=$2
	shift 2
	if timeout 120 az "$@" --only-show-errors >"$WORK/out" 2>"$WORK/err"; then
		echo "  FAIL $what: az succeeded, want an error matching /$re/"
		head -c 500 "$WORK/out" | sed 's/^/       /'
		failures=$((failures + 1))
	elif ! grep -Eq "$re" "$WORK/err"; then
		echo "  FAIL $what: error does not match /$re/"
		sed 's/^/       /' "$WORK/err" | tail -n 6
		failures=$((failures + 1))
	else
		echo "  ok   $what ($(grep -Eo "$re" "$WORK/err" | head -n1))"
	fi
}

# Digests of az/app's manifests (pushed in the order m1..m4), and the seed's pieces.
m() { jq -r --arg n "$1" '.app[] | select(.name == $n) | .digest' "$WORK/seed.json"; }
M2=$(m m2) M3=$(m m3) M4=$(m m4)
REFS_SUBJECT=$(jq -r .refs.subject "$WORK/seed.json")
DOCKER=$(jq -r .docker.digest "$WORK/seed.json")
LOCKED='REGISTRY_DISALLOWED_OPERATION|disallowed'

echo "== az $(az version --query '"azure-cli"' -o tsv 2>/dev/null) against acrctl serve at $FQ (registry name $REG, cloud suffix .0.0.1:$PORT)"

# strace needs ptrace, which some containers forbid: then the check is skipped.
if command -v strace >/dev/null && strace -f -qq -o /dev/null true 2>/dev/null; then
	if strace -f -qq -e trace=connect -o "$WORK/strace" timeout 120 az acr repository list -n $REG "${CRED[@]}" \
		--top 1 --only-show-errors >/dev/null 2>&1; then
		others=$(grep -E 'connect\(.*AF_INET6?,' "$WORK/strace" | grep -v "htons($PORT), sin_addr=inet_addr(\"127.0.0.1\")" |
			sed 's/^[0-9]* *//' | sort -u || true)
		if [[ -z $others ]]; then echo "  ok   az connects only to $FQ (strace)"; else
			echo "  FAIL az connects elsewhere:"
			while IFS= read -r line; do echo "       $line"; done <<<"$others"
			failures=$((failures + 1))
		fi
	else
		echo "  FAIL az acr repository list under strace failed"
		failures=$((failures + 1))
	fi
else
	echo "  --   strace unavailable: not proving that az connects only to $FQ"
fi

echo "== az acr repository"
expect "repository list: every repository, by name, across two pages of 100" \
	'. == $s.repos' acr repository list -n $REG "${CRED[@]}"
expect "repository list --top 3" '. == $s.repos[:3]' acr repository list -n $REG "${CRED[@]}" --top 3
expect "repository show --repository" \
	'.imageName == "az/app" and .registry == $host and .manifestCount == 4 and .tagCount == 4
	 and .changeableAttributes == {deleteEnabled: true, writeEnabled: true, readEnabled: true, listEnabled: true}
	 and (.createdTime | type) == "string" and .createdTime <= .lastUpdateTime' \
	acr repository show -n $REG "${CRED[@]}" --repository az/app
expect "repository show --image repo:tag (tag attributes)" \
	'.name == "v2b" and .digest == ($s.app[1].digest) and .changeableAttributes.writeEnabled == true' \
	acr repository show -n $REG "${CRED[@]}" --image az/app:v2b
expect "repository show --image repo@digest (manifest attributes)" \
	'.digest == $s.app[1].digest and (.tags | sort) == ["v2", "v2b"] and .mediaType == "application/vnd.oci.image.manifest.v1+json"
	 and .architecture == "arm64" and .os == "linux"' \
	acr repository show -n $REG "${CRED[@]}" --image "az/app@$M2"
expect "repository show-tags (by name)" '. == ["v1", "v2", "v2b", "v3"]' \
	acr repository show-tags -n $REG "${CRED[@]}" --repository az/app
expect "repository show-tags --orderby time_desc" '. == ["v3", "v2b", "v2", "v1"]' \
	acr repository show-tags -n $REG "${CRED[@]}" --repository az/app --orderby time_desc
expect "repository show-tags --orderby time_asc --top 2" '. == ["v1", "v2"]' \
	acr repository show-tags -n $REG "${CRED[@]}" --repository az/app --orderby time_asc --top 2
expect "repository show-tags --detail" \
	'map({(.name): .digest}) | add == {v1: $s.app[0].digest, v2: $s.app[1].digest, v2b: $s.app[1].digest, v3: $s.app[2].digest}' \
	acr repository show-tags -n $REG "${CRED[@]}" --repository az/app --detail
expect "repository show-tags: 105 tags across two pages" '. == $s.many' \
	acr repository show-tags -n $REG "${CRED[@]}" --repository az/many
expect "repository show-tags --top 102: a full page and 2 more" '. == $s.many[:102]' \
	acr repository show-tags -n $REG "${CRED[@]}" --repository az/many --top 102
expect "repository show-manifests --orderby time_desc" \
	'map(.digest) == ([$s.app[].digest] | reverse) and .[0].tags == [] and (.[2].tags | sort) == ["v2", "v2b"]
	 and all(.[]; (.timestamp | type) == "string")' \
	acr repository show-manifests -n $REG "${CRED[@]}" --repository az/app --orderby time_desc
expect "repository show-manifests --top 2 --orderby time_asc --detail" \
	'map(.digest) == [$s.app[0].digest, $s.app[1].digest] and .[0].tags == ["v1"] and .[0].imageSize > 0' \
	acr repository show-manifests -n $REG "${CRED[@]}" --repository az/app --top 2 --orderby time_asc --detail

echo "== az acr manifest"
expect "manifest list-metadata (registry + name)" \
	'(map(.digest) | sort) == ([$s.app[].digest] | sort) and length == 4' \
	acr manifest list-metadata -r $REG "${CRED[@]}" -n az/app
expect "manifest list-metadata FQDN --orderby time_desc" 'map(.digest) == ([$s.app[].digest] | reverse)' \
	acr manifest list-metadata "${CRED[@]}" "$FQ/az/app" --orderby time_desc
expect "manifest list-metadata --top 1 --orderby time_asc" 'map(.digest) == [$s.app[0].digest]' \
	acr manifest list-metadata -r $REG "${CRED[@]}" -n az/app --top 1 --orderby time_asc
expect "manifest list (each manifest's content)" \
	'sort == ([$s.app[].raw | fromjson] | sort)' \
	acr manifest list -r $REG "${CRED[@]}" -n az/app
expect "manifest show repo:tag" '. == ($s.app[0].raw | fromjson)' acr manifest show -r $REG "${CRED[@]}" -n az/app:v1
expect "manifest show FQDN@digest" '. == ($s.app[3].raw | fromjson)' acr manifest show "${CRED[@]}" "$FQ/az/app@$M4"
expect "manifest show of a Docker v2 image" \
	'. == ($s.docker.raw | fromjson) and .mediaType == "application/vnd.docker.distribution.manifest.v2+json"' \
	acr manifest show "${CRED[@]}" "$FQ/az/docker:latest"
# raw_ok DESCRIPTION REF DIGEST: the bytes of az acr manifest show --raw REF
# hash to DIGEST.
raw_ok() {
	local what=$1 ref=$2 want=$3 got
	got=sha256:$(timeout 120 az acr manifest show "${CRED[@]}" "$ref" --raw --only-show-errors 2>"$WORK/err" | sha256sum | cut -d' ' -f1)
	if [[ $got == "$want" ]]; then echo "  ok   $what"; else
		echo "  FAIL $what: --raw output hashes to $got, want $want"
		sed 's/^/       /' "$WORK/err" | tail -n 6
		failures=$((failures + 1))
	fi
}
raw_ok "manifest show --raw: bytes hash to the digest" "$FQ/az/app@$M3" "$M3"
expect "manifest show-metadata repo:tag" '.name == "v3" and .digest == $s.app[2].digest' \
	acr manifest show-metadata -r $REG "${CRED[@]}" -n az/app:v3
expect "manifest show-metadata FQDN@digest of a Docker v2 image" \
	'.digest == $s.docker.digest and .architecture == "amd64" and .os == "linux" and .tags == ["latest"]
	 and .mediaType == "application/vnd.docker.distribution.manifest.v2+json"
	 and .configMediaType == "application/vnd.docker.container.image.v1+json"' \
	acr manifest show-metadata "${CRED[@]}" "$FQ/az/docker@$DOCKER"
expect "manifest list-referrers" \
	'.manifests | length == 1 and .[0].digest == $s.refs.referrer and .[0].artifactType == $s.refs.artifactType' \
	acr manifest list-referrers -r $REG "${CRED[@]}" -n az/refs:subject
expect "manifest list-referrers --artifact-type (no match)" '.manifests == []' \
	acr manifest list-referrers -r $REG "${CRED[@]}" -n "az/refs@$REFS_SUBJECT" --artifact-type application/x-other

echo "== locks"
expect "repository update --image tag --write-enabled false" \
	'.name == "v1" and .changeableAttributes == {deleteEnabled: true, writeEnabled: false, readEnabled: true, listEnabled: true}' \
	acr repository update -n $REG "${CRED[@]}" --image az/app:v1 --write-enabled false
refuse "repository untag of a write-locked tag is refused" "$LOCKED" \
	acr repository untag -n $REG "${CRED[@]}" --image az/app:v1
expect "the locked tag is still there" '.digest == $s.app[0].digest' \
	acr repository show -n $REG "${CRED[@]}" --image az/app:v1
expect "repository update --image tag --write-enabled true" '.changeableAttributes.writeEnabled == true' \
	acr repository update -n $REG "${CRED[@]}" --image az/app:v1 --write-enabled true
expect "manifest update-metadata --delete-enabled false" \
	'.digest == $s.app[1].digest and .changeableAttributes.deleteEnabled == false and .changeableAttributes.writeEnabled == true' \
	acr manifest update-metadata -r $REG "${CRED[@]}" -n "az/app@$M2" --delete-enabled false
refuse "manifest delete of a delete-locked manifest is refused" "$LOCKED" \
	acr manifest delete -r $REG "${CRED[@]}" -n "az/app@$M2" --yes
refuse "repository delete --image of a delete-locked manifest is refused" "$LOCKED" \
	acr repository delete -n $REG "${CRED[@]}" --image "az/app@$M2" --yes
expect "manifest update-metadata FQDN --delete-enabled true --list-enabled false" \
	'.changeableAttributes == {deleteEnabled: true, writeEnabled: true, readEnabled: true, listEnabled: false}' \
	acr manifest update-metadata "${CRED[@]}" "$FQ/az/app@$M2" --delete-enabled true --list-enabled false
expect "manifest update-metadata with no flag shows the attributes" '.changeableAttributes.listEnabled == false' \
	acr manifest update-metadata -r $REG "${CRED[@]}" -n "az/app@$M2"
expect "manifest update-metadata --list-enabled true" '.changeableAttributes.listEnabled == true' \
	acr manifest update-metadata -r $REG "${CRED[@]}" -n "az/app@$M2" --list-enabled true
expect "repository update --repository --delete-enabled false" \
	'.imageName == "az/gone" and .changeableAttributes.deleteEnabled == false' \
	acr repository update -n $REG "${CRED[@]}" --repository az/gone --delete-enabled false
refuse "repository delete of a delete-locked repository is refused" "$LOCKED" \
	acr repository delete -n $REG "${CRED[@]}" --repository az/gone --yes
expect "repository update --repository --delete-enabled true" '.changeableAttributes.deleteEnabled == true' \
	acr repository update -n $REG "${CRED[@]}" --repository az/gone --delete-enabled true

echo "== deletes"
expect "repository untag (v2b)" '. == null' acr repository untag -n $REG "${CRED[@]}" --image az/app:v2b
expect "untagged: v2b gone, v2 kept" '. == ["v1", "v2", "v3"]' \
	acr repository show-tags -n $REG "${CRED[@]}" --repository az/app
expect "repository delete --image repo:tag deletes the manifest" '. == null' \
	acr repository delete -n $REG "${CRED[@]}" --image az/app:v3 --yes
expect "manifest delete repo:tag" '. == null' acr manifest delete -r $REG "${CRED[@]}" -n az/app:v2 --yes
expect "manifest delete FQDN@digest" '. == null' acr manifest delete "${CRED[@]}" "$FQ/az/app@$M4" --yes
expect "left in az/app: m1 and its tag" 'map(.digest) == [$s.app[0].digest] and .[0].tags == ["v1"]' \
	acr manifest list-metadata -r $REG "${CRED[@]}" -n az/app
expect "repository delete --repository" \
	'.manifestsDeleted == [$s.gone.digest] and .tagsDeleted == ["v1"]' \
	acr repository delete -n $REG "${CRED[@]}" --repository az/gone --yes
expect "deleted repository is not listed" 'index("az/gone") == null and length == ($s.repos | length) - 1' \
	acr repository list -n $REG "${CRED[@]}"

echo "== errors"
refuse "repository show of a missing repository" 'az/nope.*(is )?not found|NAME_UNKNOWN' \
	acr repository show -n $REG "${CRED[@]}" --repository az/nope
refuse "manifest show of a missing tag" 'not found|MANIFEST_UNKNOWN' \
	acr manifest show -r $REG "${CRED[@]}" -n az/app:nope
refuse "wrong password" 'access token|401|[Uu]nauthorized' \
	acr repository list -n $REG -u "$CI_USER" -p wrong
refuse "FQDN of another registry suffix" 'does not match the configured' \
	acr manifest show "${CRED[@]}" "myregistry.azurecr.io/az/app:v1"

echo "== soft delete (acrctl serve --soft-delete 7)"
LOG1=$SERVER_LOG
start_server acrctl "$WORK/soft" data auth tls -- --soft-delete 7
PORT=${SERVER_HOST##*:} FQ=127.0.0.1:${SERVER_HOST##*:} SEED=$WORK/soft.json
export REQUESTS_CA_BUNDLE=$SERVER_CERT SSL_CERT_FILE=$SERVER_CERT
/usr/bin/python3 "$ROOT/.ci/clients/python/rawreg.py" seed-soft "$SERVER_URL" "$CI_USER" "$CI_PASS" "$SEED" ||
	die "seeding the soft-delete registry failed"
timeout 60 az cloud register -n acrgo-soft --endpoint-resource-manager $NOWHERE \
	--endpoint-active-directory $NOWHERE --endpoint-active-directory-resource-id $NOWHERE \
	--endpoint-active-directory-graph-resource-id $NOWHERE \
	--suffix-acr-login-server-endpoint ".0.0.1:$PORT" --only-show-errors >&2 || die "az cloud register failed"
timeout 60 az cloud set -n acrgo-soft --only-show-errors >&2 || die "az cloud set failed"
s() { jq -r --argjson i "$1" '.soft[$i].digest' "$SEED"; }
S1=$(s 0) S3=$(s 2) S5=$(s 4)

# What az deletes: tag v2b (m2 keeps v2), m1 with its tag v1, the untagged
# m3, tag v4 (m4 stays), and the whole of az/softgone.
expect "repository untag az/soft:v2b" '. == null' acr repository untag -n $REG "${CRED[@]}" --image az/soft:v2b
expect "manifest delete az/soft:v1" '. == null' acr manifest delete -r $REG "${CRED[@]}" -n az/soft:v1 --yes
expect "manifest delete az/soft@m3 (untagged)" '. == null' acr manifest delete -r $REG "${CRED[@]}" -n "az/soft@$S3" --yes
expect "repository untag az/soft:v4" '. == null' acr repository untag -n $REG "${CRED[@]}" --image az/soft:v4
expect "repository delete az/softgone" '.manifestsDeleted == [$s.gone.digest] and .tagsDeleted == ["v1"]' \
	acr repository delete -n $REG "${CRED[@]}" --repository az/softgone --yes
expect "deleted content is invisible: az/soft lists m2 (v2), m4 and m5, untagged" \
	'(map(.digest) | sort) == ([$s.soft[1,3,4].digest] | sort)
	 and (map(select(.digest == $s.soft[1].digest))[0].tags == ["v2"]) and ([.[].tags // [] | .[]] == ["v2"])' \
	acr manifest list-metadata -r $REG "${CRED[@]}" -n az/soft
expect "repository list: az/softgone is gone" 'index("az/softgone") == null and index("az/soft") != null' \
	acr repository list -n $REG "${CRED[@]}"
expect "repository list-deleted: the repositories with deleted content" '. == ["az/soft", "az/softgone"]' \
	acr repository list-deleted -n $REG "${CRED[@]}"

# wire DESCRIPTION PATH JQ-FILTER: GET PATH with Basic credentials; the
# filter, given the seed as $s and the previous command's output as $az,
# must be true on the answer.
wire() {
	local what=$1 path=$2 filter=$3
	cp "$WORK/out" "$WORK/az.json"
	if ! curl -sS --fail-with-body --cacert "$SERVER_CERT" -u "$CI_USER:$CI_PASS" "$SERVER_URL$path" >"$WORK/wire" 2>"$WORK/err"; then
		echo "  FAIL $what: GET $path failed"
		sed 's/^/       /' "$WORK/err" "$WORK/wire" | tail -n 6
		failures=$((failures + 1))
	elif ! jq -n -e --slurpfile seed "$SEED" --slurpfile az "$WORK/az.json" --slurpfile w "$WORK/wire" \
		"\$seed[0] as \$s | \$az[0] as \$az | \$w[0] | $filter" >/dev/null 2>"$WORK/jqerr"; then
		echo "  FAIL $what: GET $path does not satisfy: $filter"
		head -c 1500 "$WORK/wire" | sed 's/^/       /'
		echo
		sed 's/^/       /' "$WORK/jqerr"
		failures=$((failures + 1))
	else
		echo "  ok   $what"
	fi
}

# az acr manifest list-deleted and list-deleted-tags, run by az's code with
# ARM's retention days stubbed as 7; az reads result['deletedAt'] of each
# entry, x['tag'] and x['digest'] of deleted tags, and computes expiresAfter
# as deletedAt's date plus the days, which must equal the registry's own
# expiresAfter.
AZ=(env AZ_RETENTION_DAYS=7 /usr/bin/python3 "$ROOT/.ci/clients/python/az_soft_delete.py")
expect "manifest list-deleted (az's code; ARM stubbed): m1 with its tag v1, and m3" \
	'(map(.digest) | sort) == ([$s.soft[0,2].digest] | sort)
	 and (map(select(.digest == $s.soft[0].digest))[0].tags == ["v1"])
	 and all(.[]; (.deletedAt | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T")) and .expiresAfter > .deletedAt)' \
	acr manifest list-deleted -r $REG "${CRED[@]}" -n az/soft
wire "GET _deleted/az/soft/_manifests carries what az reads (manifests[].deletedAt, digest), az's expiresAfter is the registry's" \
	/acr/v1/_deleted/az/soft/_manifests \
	'.imageName == "az/soft" and (.manifests | length) == 2
	 and all(.manifests[]; (.digest | type) == "string" and (.deletedAt | type) == "string")
	 and ([.manifests[] | {digest, deletedAt, expiresAfter}] | sort) == ([$az[] | {digest, deletedAt, expiresAfter}] | sort)'
expect "manifest list-deleted-tags (az's code; ARM stubbed): v1 -> m1, v2b -> m2, v4 -> m4" \
	'([.[] | {tag, digest}] | sort) == ([{tag: "v1", digest: $s.soft[0].digest}, {tag: "v2b", digest: $s.soft[1].digest},
	   {tag: "v4", digest: $s.soft[3].digest}] | sort) and all(.[]; .expiresAfter > .deletedAt)' \
	acr manifest list-deleted-tags -r $REG "${CRED[@]}" -n az/soft
wire "GET _deleted/az/soft/_tags carries what az reads (tags[].tag, digest, deletedAt), az's expiresAfter is the registry's" \
	/acr/v1/_deleted/az/soft/_tags \
	'.imageName == "az/soft" and (.tags | length) == 3
	 and all(.tags[]; (.tag | type) == "string" and (.digest | type) == "string" and (.deletedAt | type) == "string")
	 and ([.tags[] | {tag, digest, deletedAt, expiresAfter}] | sort) == ([$az[] | {tag, digest, deletedAt, expiresAfter}] | sort)'
expect "manifest list-deleted-tags az/soft:v4 (az filters by tag)" 'map(.tag) == ["v4"] and .[0].digest == $s.soft[3].digest' \
	acr manifest list-deleted-tags -r $REG "${CRED[@]}" -n az/soft:v4
AZ=(az)

# Restores: by tag (az finds the digest in the deleted tags), a tag of a
# manifest that was never deleted, an untagged manifest by digest, a tag in
# use (refused, then --force), and a deleted repository.
expect "manifest restore az/soft:v1: m1 with v1" '.manifest.digest == $s.soft[0].digest' \
	acr manifest restore -r $REG "${CRED[@]}" -n az/soft:v1 --yes
expect "az/soft:v1 points at m1 again" '.digest == $s.soft[0].digest and .name == "v1"' \
	acr repository show -n $REG "${CRED[@]}" --image az/soft:v1
raw_ok "the restored az/soft:v1 reads back byte-identical (hashes to m1)" "$FQ/az/soft:v1" "$S1"
expect "manifest restore az/soft:v2b (m2 was never deleted: the tag alone)" '.manifest.digest == $s.soft[1].digest' \
	acr manifest restore -r $REG "${CRED[@]}" -n az/soft:v2b --yes
expect "az/soft tags after: v1 v2 v2b" '. == ["v1", "v2", "v2b"]' \
	acr repository show-tags -n $REG "${CRED[@]}" --repository az/soft
expect "manifest restore --digest of the untagged m3" '.manifest.digest == $s.soft[2].digest' \
	acr manifest restore -r $REG "${CRED[@]}" -n az/soft --digest "$S3" --yes
raw_ok "the restored m3 reads back byte-identical" "$FQ/az/soft@$S3" "$S3"
/usr/bin/python3 "$ROOT/.ci/clients/python/rawreg.py" tag "$SERVER_URL" "$CI_USER" "$CI_PASS" az/soft v4 "$S5" ||
	die "tagging m5 v4 failed"
# az prints the message of the registry's error body, not its code.
refuse "manifest restore az/soft:v4 while v4 points at m5 is refused" "points at $S5|in use|conflict" \
	acr manifest restore -r $REG "${CRED[@]}" -n az/soft:v4 --yes
expect "v4 still points at m5" '.digest == $s.soft[4].digest' \
	acr repository show -n $REG "${CRED[@]}" --image az/soft:v4
expect "manifest restore az/soft:v4 --force moves v4 back to m4" '.manifest.digest == $s.soft[3].digest' \
	acr manifest restore -r $REG "${CRED[@]}" -n az/soft:v4 --force --yes
expect "v4 points at m4 again" '.digest == $s.soft[3].digest' \
	acr repository show -n $REG "${CRED[@]}" --image az/soft:v4
expect "manifest restore az/softgone:v1 brings the deleted repository back" '.manifest.digest == $s.gone.digest' \
	acr manifest restore -r $REG "${CRED[@]}" -n az/softgone:v1 --yes
expect "repository show-tags az/softgone: v1 again" '. == ["v1"]' \
	acr repository show-tags -n $REG "${CRED[@]}" --repository az/softgone
refuse "manifest restore of a digest never deleted" 'no deleted manifest|not exist|not found' \
	acr manifest restore -r $REG "${CRED[@]}" -n az/soft --digest "sha256:$(printf '%064d' 0)" --yes
expect "repository list-deleted: az/softgone has nothing deleted left" 'index("az/softgone") == null' \
	acr repository list-deleted -n $REG "${CRED[@]}"

if ((failures)); then
	log "server logs: $LOG1 $SERVER_LOG"
	die "az: $failures checks failed"
fi
echo "az: all passed"
