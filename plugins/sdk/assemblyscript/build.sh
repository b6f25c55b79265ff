#!/usr/bin/env bash
# Builds the plugins that are not Go (`make plugins` runs it after the Go ones): the examples, the
# conformance suite's AssemblyScript fixtures (plugins/conformance/testdata/<name>/, not copied to bin/),
# and the hand-written WAT test fixtures (host/sandbox/testdata/*.wat, the hostile-plugin suite's
# internal/hostile/*.wat, testdata/abi/*.wat; checked, not copied):
#   plugins/examples/<name>/assembly/index.ts  (AssemblyScript)  -> plugins/examples/<name>/<name>.wasm
#   plugins/examples/<name>/<name>.wat         (hand-written WAT) -> plugins/examples/<name>/<name>.wasm
# The .wasm next to each source is committed, so that the tests and `host run` work without Node. This
# script rebuilds each one with the pinned compilers (package-lock.json: assemblyscript, wabt; `npm ci`
# when node_modules is missing) and fails when the committed binary differs from what its source builds
# to; UPDATE=1 rewrites the committed binaries instead. Every binary is then copied to bin/plugins/.
# Without node and npm it says so and copies the committed binaries unchecked.
set -euo pipefail
cd "$(dirname "$0")/../../.."
sdk=plugins/sdk/assemblyscript
out=bin/plugins
mkdir -p "$out"

# The compilers' fixed flags: a build is a function of the source, the SDK and these.
ASFLAGS=(--runtime incremental --exportStart _initialize -O3 --converge)

have_node=1
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	have_node=0
	echo "plugins: no node/npm on the PATH: the committed AssemblyScript and WAT binaries are used, not rebuilt"
elif [ ! -x "$sdk/node_modules/.bin/asc" ] || [ ! -x "$sdk/node_modules/.bin/wat2wasm" ]; then
	echo "plugins: npm ci in $sdk (the pinned assemblyscript and wabt)"
	(cd "$sdk" && npm ci --no-audit --no-fund --loglevel=error)
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
stale=()
for dir in plugins/examples/*/ plugins/conformance/testdata/*/; do
	dir=${dir%/}/
	name=$(basename "$dir")
	committed="$dir$name.wasm"
	if [ -f "${dir}assembly/index.ts" ]; then
		kind=AssemblyScript
		build=("$sdk/node_modules/.bin/asc" "${dir}assembly/index.ts" -o "$tmp/$name.wasm" "${ASFLAGS[@]}")
	elif [ -f "$dir$name.wat" ]; then
		kind=WAT
		build=("$sdk/node_modules/.bin/wat2wasm" "$dir$name.wat" -o "$tmp/$name.wasm")
	else
		continue
	fi
	if [ "$have_node" = 1 ]; then
		"${build[@]}"
		if [ "${UPDATE:-}" = 1 ]; then
			cp "$tmp/$name.wasm" "$committed"
		elif [ ! -f "$committed" ] || ! cmp -s "$tmp/$name.wasm" "$committed"; then
			stale+=("$committed")
			continue
		fi
	elif [ ! -f "$committed" ]; then
		echo "plugins: $committed is missing and there is no node to build it"
		exit 1
	fi
	case "$dir" in
	plugins/examples/*)
		cp "$committed" "$out/$name.wasm"
		echo "$out/$name.wasm $(wc -c < "$out/$name.wasm") bytes ($kind)" ;;
	*) echo "$committed $(wc -c < "$committed") bytes ($kind, checked)" ;;
	esac
done
# The WAT test fixtures: <name>.wat -> <name>.wasm beside it.
for wat in host/sandbox/testdata/*.wat internal/hostile/*.wat testdata/abi/*.wat; do
	[ -f "$wat" ] || continue
	committed="${wat%.wat}.wasm"
	if [ "$have_node" = 1 ]; then
		"$sdk/node_modules/.bin/wat2wasm" "$wat" -o "$tmp/fixture.wasm"
		if [ "${UPDATE:-}" = 1 ]; then
			cp "$tmp/fixture.wasm" "$committed"
		elif [ ! -f "$committed" ] || ! cmp -s "$tmp/fixture.wasm" "$committed"; then
			stale+=("$committed")
		fi
	elif [ ! -f "$committed" ]; then
		echo "plugins: $committed is missing and there is no node to build it"
		exit 1
	fi
done
echo "test fixtures: $(ls host/sandbox/testdata/*.wat internal/hostile/*.wat testdata/abi/*.wat | wc -l) WAT files checked"
if [ ${#stale[@]} -gt 0 ]; then
	echo "plugins: these committed binaries differ from what their sources build to:"
	printf '  %s\n' "${stale[@]}"
	echo "rebuild and commit them with: make plugins UPDATE=1"
	exit 1
fi
