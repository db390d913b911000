#!/usr/bin/env bash
# Runs the OCI distribution-spec conformance suite against Docket:
#   1. every workflow (push, pull, discovery, management, sha512, referrers, subject) against
#      the proxy of a fresh `docket dev` cluster, with the suite's defaults;
#   2. the read-only (pull) subset against the agent, on content pushed through the proxy.
# Prints the counts from each junit.xml and fails if a report is missing (the suite exits 0 on
# a setup error) or any test failed, errored or was skipped. Everything it starts is stopped on
# exit, pass or fail. KEEP=1 keeps the scratch dir (logs, reports).
set -euo pipefail

cd "$(dirname "$0")/.."
SUITE_VERSION=v0.0.0-20260831232431-97274622c111
BIN=${BIN:-bin/docket}

make -s build BIN="$BIN"

suite=$(command -v conformance || true)
if [ -z "$suite" ]; then
	suite="$(go env GOPATH)/bin/conformance"
	if [ ! -x "$suite" ]; then
		echo "conformance: installing the suite ($SUITE_VERSION)"
		go install "github.com/opencontainers/distribution-spec/conformance@$SUITE_VERSION"
	fi
fi

work=$(mktemp -d /tmp/docket-conformance.XXXXXX)
dev_pid=""
cleanup() {
	if [ -n "$dev_pid" ]; then
		kill -TERM "$dev_pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$dev_pid" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$dev_pid" 2>/dev/null || true
	fi
	if [ "${KEEP:-0}" = 1 ]; then echo "conformance: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# Five free ports on 127.0.0.1 (held open together, so they are distinct).
read -r p_proxy p_agent p_origin p_tracker p_index < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(5)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')

"$BIN" dev --data-dir "$work/data" --proxy-port "$p_proxy" --agent-port "$p_agent" \
	--origin-port "$p_origin" --tracker-port "$p_tracker" --build-index-port "$p_index" \
	>"$work/dev.log" 2>&1 &
dev_pid=$!

wait_ready() {
	for _ in $(seq 300); do
		if curl -fsS -o /dev/null "http://$1/v2/" 2>/dev/null; then return 0; fi
		kill -0 "$dev_pid" 2>/dev/null || { echo "conformance: docket dev exited"; cat "$work/dev.log"; return 1; }
		sleep 0.1
	done
	echo "conformance: $1 not ready after 30 s"; cat "$work/dev.log"; return 1
}
wait_ready "127.0.0.1:$p_proxy"
wait_ready "127.0.0.1:$p_agent"

failed=0
# run_suite NAME REGISTRY [VAR=VALUE ...]: runs the suite with the given settings and checks
# its junit.xml.
run_suite() {
	local name=$1 registry=$2
	shift 2
	local out="$work/$name"
	mkdir -p "$out"
	(cd "$out" && env OCI_REGISTRY="$registry" OCI_TLS=disabled OCI_RESULTS_DIR="$out" "$@" \
		"$suite" >"$out/stdout.txt" 2>"$out/stderr.txt") || true
	local junit="$out/junit.xml"
	if [ ! -s "$junit" ]; then
		echo "conformance[$name]: no junit.xml — the suite did not run:"
		cat "$out/stderr.txt" "$out/stdout.txt"
		failed=1
		return
	fi
	local head tests failures errors skipped disabled passed
	head=$(grep -m1 -o '<testsuites[^>]*>' "$junit")
	attr() { sed -n "s/.* $1=\"\\([0-9]*\\)\".*/\\1/p" <<<"$head"; }
	tests=$(attr tests); failures=$(attr failures); errors=$(attr errors)
	skipped=$(attr skipped); disabled=$(attr disabled)
	tests=${tests:-0}; failures=${failures:-0}; errors=${errors:-0}; skipped=${skipped:-0}; disabled=${disabled:-0}
	passed=$((tests - failures - errors - skipped - disabled))
	echo "conformance[$name]: tests=$tests passed=$passed failed=$failures errors=$errors skipped=$skipped disabled=$disabled"
	if [ "$failures" -ne 0 ] || [ "$errors" -ne 0 ] || [ "$skipped" -ne 0 ] || [ "$passed" -le 0 ]; then
		# (|| true: head closing the pipe early must not end the script under pipefail.)
		{ grep -o '<testcase name="[^"]*"[^>]*status="\(failure\|error\|skipped\)"' "$junit" | sed 's/^/  /' | head -50; } || true
		{ grep -E ': (Fail|Error|Skip)' "$out/stdout.txt" -A2 | head -80; } || true
		failed=1
	fi
}

run_suite proxy "127.0.0.1:$p_proxy"

# The read-only (pull) subset against the agent, on content seeded through the proxy: the
# suite's "read-only" branch (manifest and blob HEAD and GET by tag and digest, tag list,
# referrers). The suite cannot write its report when the other branches run with push off (it
# records statuses for test data it never created, or none at all), so OCI_FILTER_TEST keeps
# it to that branch.
seed_env=$(go run ./test/conformance/seed -registry "127.0.0.1:$p_proxy" -repo conformance/pull)
eval "$seed_env"
run_suite agent "127.0.0.1:$p_agent" OCI_FILTER_TEST="OCI Conformance Test/read-only" \
	OCI_REPO1=conformance/pull OCI_REPO2=conformance/pull \
	OCI_API_PUSH=false OCI_API_BLOBS_DELETE=false OCI_API_MANIFESTS_DELETE=false OCI_API_TAGS_DELETE=false \
	OCI_RO_DATA_TAGS="$OCI_RO_DATA_TAGS" OCI_RO_DATA_MANIFESTS="$OCI_RO_DATA_MANIFESTS" \
	OCI_RO_DATA_BLOBS="$OCI_RO_DATA_BLOBS" OCI_RO_DATA_REFERRERS="$OCI_RO_DATA_REFERRERS"

if [ "$failed" -ne 0 ]; then
	echo "conformance: FAILED"
	exit 1
fi
echo "conformance: all passed"
