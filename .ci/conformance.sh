#!/usr/bin/env bash
# Run the OCI distribution-spec conformance suite against a freshly started
# server, once per (variant, profile), and judge it by its junit.xml.
#
# Usage: .ci/conformance.sh [--target acrctl|reference] [--variants LIST]
#                           [--profiles LIST] [--results DIR]
#   --target    acrctl (default): `acrctl serve`; reference: distribution v3.1.2
#   --variants  comma list, default memory,data,auth,tls:
#                 memory  --memory
#                 data    --data DIR
#                 auth    --memory --user ci:secret   (OCI_USERNAME/OCI_PASSWORD;
#                         the reference registry uses htpasswd Basic auth)
#                 tls     --data DIR --user ci:secret --tls-self-signed
#                         (the suite trusts the certificate via SSL_CERT_FILE)
#   --profiles  comma list, default 1.1,dev (OCI_VERSION=1.1 / OCI_VERSION=dev)
#   --results   copy each run's junit.xml, results.yaml, report.html and logs here
# Other OCI_* settings in the environment pass through to the suite, e.g.
# OCI_FILTER_TEST="OCI Conformance Test/sha512 blobs" or OCI_LOG=debug.
#
# Exits non-zero when any run has failures or errors. The suite's own exit
# status is ignored on purpose: its `go test` entry point always passes, and
# the binary's status does not tell failures from a broken run; the counts in
# junit.xml are the truth. The reference registry is expected to fail (91 of
# 852 in the 1.1 profile on the filesystem store; no referrers API, no sha512).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

target=acrctl variants=memory,data,auth,tls profiles=1.1,dev results=
while (($#)); do
	case $1 in
	--target) target=$2; shift 2 ;;
	--target=*) target=${1#*=}; shift ;;
	--variants) variants=$2; shift 2 ;;
	--variants=*) variants=${1#*=}; shift ;;
	--profiles) profiles=$2; shift 2 ;;
	--profiles=*) profiles=${1#*=}; shift ;;
	--results) results=$2; shift 2 ;;
	--results=*) results=${1#*=}; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
case $target in
acrctl | reference) ;;
*) die "--target must be acrctl or reference" ;;
esac

need_tools conformance registry
if [[ $target == acrctl ]]; then
	have_acrctl || die "./cmd/acrctl does not exist yet: nothing to test (try --target reference)"
fi
init_work acr-conformance
[[ -z $results ]] || mkdir -p "$results"

# attr NAME FILE: an attribute of the <testsuites> element. The suite marks
# the counts omitempty, so a missing attribute means 0 (e.g. no errors="0").
attr() {
	sed -n '/<testsuites/{s/>.*//;p;q}' "$2" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]\+' || echo 0
}

# failing_tests JUNIT STDERR: "name: first line of its error" for every leaf
# test case whose status is failure or error. The error text comes from the
# suite's "failed test" log lines, which junit.xml only has in system-out.
failing_tests() {
	local junit=$1 errlog=$2
	sed -n 's/.*<testcase name="\([^"]*\)".* status="\(failure\|error\)".*/\1/p' "$junit" |
		sed 's/&amp;/\&/g; s/&lt;/</g; s/&gt;/>/g; s/&#34;/"/g; s/&#39;/'"'"'/g' |
		awk -v errlog="$errlog" '
			BEGIN {
				# slog text lines: ... msg="failed test" name="N" error="E"
				while ((getline line < errlog) > 0) {
					if (line !~ /msg="failed test"/) continue
					if (!match(line, / name="[^"]*"/)) continue
					n = substr(line, RSTART + 7, RLENGTH - 8)
					e = ""
					if (match(line, / error=".*/)) {
						e = substr(line, RSTART + 8)
						sub(/"$/, "", e)
						sub(/\\n.*/, "", e)
						gsub(/\\"/, "\"", e)
					}
					if (!(n in err)) err[n] = e
				}
			}
			{
				e = ($0 in err) ? err[$0] : ""
				if (length(e) > 180) e = substr(e, 1, 177) "..."
				print $0 (e == "" ? "" : ": " e)
			}'
}

failed=0
summary=()
for variant in ${variants//,/ }; do
	case $variant in
	memory) opts=(memory) ;;
	data) opts=(data) ;;
	auth) opts=(memory auth) ;;
	tls) opts=(data auth tls) ;;
	*) die "unknown variant $variant" ;;
	esac
	for profile in ${profiles//,/ }; do
		case $profile in
		1.1 | dev) ;;
		*) die "unknown profile $profile (want 1.1 or dev)" ;;
		esac
		run=$WORK/$target-$variant-$profile
		label="$profile ($variant)"
		if [[ $target == reference ]]; then label="$profile (reference, $variant)"; fi
		# A fresh server per run: the two profiles push overlapping content.
		start_server "$target" "$run/server" "${opts[@]}"
		mkdir -p "$run/results"
		env_vars=(
			OCI_REGISTRY="$SERVER_HOST"
			OCI_TLS=disabled
			OCI_REPO1=conformance/repo1
			OCI_REPO2=conformance/repo2
			OCI_RESULTS_DIR="$run/results"
			OCI_VERSION="$profile"
			OCI_LOG="${OCI_LOG:-warn}"
			# This suite version reads OCI_API_* / OCI_DATA_* (config.go). The
			# old OCI_TEST_PULL/PUSH/CONTENT_DISCOVERY/CONTENT_MANAGEMENT still
			# work but only as deprecated aliases (with misleading warnings);
			# OCI_HIDE_SKIPPED_WORKFLOWS and OCI_DELETE_MANIFEST_BEFORE_BLOBS
			# are ignored. So enable every workflow by its current name.
			OCI_API_PULL=true
			OCI_API_PUSH=true
			OCI_API_TAGS_LIST=true
			OCI_API_REFERRER=true
			OCI_API_TAGS_DELETE=true
			OCI_API_MANIFESTS_DELETE=true
			OCI_API_BLOBS_DELETE=true
			# OCI_DATA_* all default to on except SPARSE (manifests naming
			# blobs that were never pushed), which registries may reject, as
			# ACR and the reference registry do; it stays off.
		)
		if [[ $SERVER_AUTH == 1 ]]; then
			env_vars+=(OCI_USERNAME="$CI_USER" OCI_PASSWORD="$CI_PASS")
		fi
		if [[ $SERVER_TLS == 1 ]]; then
			# OCI_TLS=insecure does NOT skip verification in this version (the
			# value is parsed but unused): trust the certificate instead. Go
			# reads SSL_CERT_FILE on Linux.
			env_vars+=(OCI_TLS=enabled SSL_CERT_FILE="$SERVER_CERT")
		fi
		# Run from the results dir: the suite loads ./oci-conformance.yaml if
		# one is in the working directory.
		(cd "$run/results" && env "${env_vars[@]}" "$TOOLS/conformance" >stdout.txt 2>stderr.txt) || true
		stop_server "$SERVER_PID"
		cp "$run/server/stderr" "$run/results/server.log" 2>/dev/null || true

		junit=$run/results/junit.xml
		if [[ ! -s $junit ]]; then
			log "conformance $label: no junit.xml; suite output:"
			tail -n 20 "$run/results/stdout.txt" "$run/results/stderr.txt" >&2 || true
			summary+=("conformance $label: NO RESULTS")
			failed=1
			continue
		fi
		tests=$(attr tests "$junit") failures=$(attr failures "$junit") errors=$(attr errors "$junit")
		skipped=$(attr skipped "$junit") disabled=$(attr disabled "$junit")
		line="conformance $label: $tests tests, $failures failures"
		((errors == 0)) || line+=", $errors errors"
		line+=" ($skipped skipped, $disabled disabled)"
		echo "$line"
		summary+=("$line")
		if ((failures + errors > 0 || tests == 0)); then
			failed=1
			mapfile -t bad < <(failing_tests "$junit" "$run/results/stderr.txt")
			echo "  ${#bad[@]} failing test cases$( ((${#bad[@]} > 50)) && echo ", first 50"):"
			printf '    %s\n' "${bad[@]:0:50}"
			echo "  details: $run/results/report.html"
		fi
		if [[ -n $results ]]; then
			mkdir -p "$results/$target-$variant-$profile"
			cp "$run/results/"* "$results/$target-$variant-$profile/"
		fi
	done
done

echo
echo "summary ($target):"
printf '  %s\n' "${summary[@]}"
if ((failed)); then
	echo "conformance: FAILED"
	exit 1
fi
echo "conformance: all passed"
