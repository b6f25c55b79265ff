#!/usr/bin/env bash
# Builds the Rust plugins (`make plugins` runs it after the Go and AssemblyScript ones): every directory of
# plugins/examples/ and plugins/conformance/testdata/ with a Cargo.toml and src/lib.rs:
#   plugins/examples/<name>/src/lib.rs  (Rust, the SDK of plugins/sdk/rust)  -> plugins/examples/<name>/<name>.wasm
# The .wasm next to each source is committed, so that the tests and `host run` work without Rust. This
# script compiles each one with plain rustc (the SDK as an rlib, the plugin as a cdylib for
# wasm32-unknown-unknown, with the flags of [profile.release] in the examples' Cargo.toml) and fails when
# the committed binary differs from what its source builds to; UPDATE=1 rewrites the committed binaries
# instead. The comparison needs the pinned compiler, Debian 12's rustc 1.63.0 (apt-get install rustc cargo
# libstd-rust-dev-wasm32): another rustc with the wasm target builds each plugin to check that the source
# compiles, and the committed binary is kept. When a cargo stands beside the rustc, the SDK's and the
# examples' native tests run too (cargo test --offline). Without a rustc that has the wasm target it says
# so and copies the committed binaries unchecked. Every example binary is then copied to bin/plugins/.
set -euo pipefail
cd "$(dirname "$0")/../../.."
root=$PWD
sdk=plugins/sdk/rust
out=bin/plugins
target=wasm32-unknown-unknown
pinned=1.63.0
mkdir -p "$out"

# The compilers' fixed flags: a build is a function of the source, the SDK, the compiler and these.
# (--remap-path-prefix keeps the checkout's path out of panic locations, so that any checkout builds the
# same bytes.)
FLAGS=(--edition 2021 --target "$target" -C opt-level=3 -C codegen-units=1 -C panic=abort
	--remap-path-prefix "$root/=" --remap-path-prefix "$root=.")

# has_target RUSTC: whether RUSTC has the standard library of the wasm target.
has_target() {
	local dir
	dir=$("$1" --print target-libdir --target "$target" 2>/dev/null) || return 1
	compgen -G "$dir/libstd-*.rlib" >/dev/null
}

rustc_bin=""
version=""
for cand in ${RUSTC:-} rustc /usr/bin/rustc; do
	path=$(command -v "$cand" 2>/dev/null) || continue
	has_target "$path" || continue
	v=$("$path" --version | awk '{print $2}')
	if [ -z "$rustc_bin" ] || { [ "$v" = "$pinned" ] && [ "$version" != "$pinned" ]; }; then
		rustc_bin=$path
		version=$v
	fi
done

compare=0
if [ -z "$rustc_bin" ]; then
	echo "plugins: no rustc with the $target target (Debian: apt-get install rustc cargo libstd-rust-dev-wasm32): the committed Rust binaries are used, not rebuilt"
elif [ "$version" = "$pinned" ]; then
	compare=1
	echo "plugins: rustc $version ($rustc_bin) builds the Rust plugins"
else
	echo "plugins: rustc $version ($rustc_bin) is not the pinned $pinned: the Rust plugins are built to check that they compile; the committed binaries are used, not compared"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -n "$rustc_bin" ]; then
	"$rustc_bin" "${FLAGS[@]}" --crate-name stratbox --crate-type rlib -o "$tmp/libstratbox.rlib" "$sdk/src/lib.rs"
	cargo_bin="$(dirname "$rustc_bin")/cargo"
	if [ -x "$cargo_bin" ]; then
		for manifest in "$sdk/Cargo.toml" plugins/examples/*/Cargo.toml; do
			RUSTC=$rustc_bin RUSTDOC="$(dirname "$rustc_bin")/rustdoc" CARGO_TARGET_DIR="$tmp/cargo" "$cargo_bin" test --offline --quiet --manifest-path "$manifest" >"$tmp/test.log" 2>&1 ||
				{ cat "$tmp/test.log"; echo "plugins: cargo test of $manifest failed"; exit 1; }
		done
		echo "plugins: cargo test of the Rust SDK and examples passed"
	fi
fi

stale=()
for dir in plugins/examples/*/ plugins/conformance/testdata/*/; do
	name=$(basename "$dir")
	[ -f "$dir/Cargo.toml" ] && [ -f "$dir/src/lib.rs" ] || continue
	committed="$dir$name.wasm"
	if [ -n "$rustc_bin" ]; then
		"$rustc_bin" "${FLAGS[@]}" --crate-name "${name//-/_}" --crate-type cdylib -C lto -C strip=symbols \
			--extern "stratbox=$tmp/libstratbox.rlib" -o "$tmp/$name.wasm" "${dir}src/lib.rs"
		if [ "$compare" = 1 ] && [ "${UPDATE:-}" = 1 ]; then
			install -m 644 "$tmp/$name.wasm" "$committed"
		elif [ "$compare" = 1 ] && { [ ! -f "$committed" ] || ! cmp -s "$tmp/$name.wasm" "$committed"; }; then
			stale+=("$committed")
			continue
		fi
	fi
	if [ ! -f "$committed" ]; then
		echo "plugins: $committed is missing and there is no rustc $pinned with the $target target to build it"
		exit 1
	fi
	case "$dir" in
	plugins/examples/*)
		install -m 644 "$committed" "$out/$name.wasm"
		echo "$out/$name.wasm $(wc -c <"$out/$name.wasm") bytes (Rust)" ;;
	*) echo "$committed $(wc -c <"$committed") bytes (Rust, checked)" ;;
	esac
done
if [ ${#stale[@]} -gt 0 ]; then
	echo "plugins: these committed binaries differ from what their sources build to:"
	printf '  %s\n' "${stale[@]}"
	echo "rebuild and commit them with: make plugins UPDATE=1"
	exit 1
fi
