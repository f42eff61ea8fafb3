#!/usr/bin/env bash
# Builds target/debian/udprelay-server_<version>_<arch>.deb: the release binary, the systemd
# unit, the example configuration, the man page and the shell completions (both made from the
# binary's own flags). Needs cargo-deb (`cargo install cargo-deb --locked`).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --locked -p udprelay-server
out=target/release/packaging
mkdir -p "$out"
bin=target/release/udprelay-server
"$bin" --generate man | gzip -9n > "$out/udprelay-server.1.gz"
"$bin" --generate bash > "$out/udprelay-server.bash"
"$bin" --generate zsh > "$out/_udprelay-server"
"$bin" --generate fish > "$out/udprelay-server.fish"
cargo deb --locked -p udprelay-server --no-build
