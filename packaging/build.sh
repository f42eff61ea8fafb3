#!/usr/bin/env bash
# Makes what a user installs, into target/dist/:
#   udprelay-server_<version>_amd64.deb   the server, its systemd unit and configuration
#   udprelay_<version>_amd64.deb          the terminal client
#   udprelay-gui_<version>_amd64.deb      the window, its menu entry, icons and link handler
#   udprelay-<version>-x86_64-linux.tar.gz    the three binaries, README and licences
#   udprelay-<version>-x86_64-windows.zip     the same for Windows (not with --linux-only)
# Each binary is built once, in the `packaged` profile (release, optimised across crates,
# stripped: Cargo.toml). Man pages and completions are made from each binary's own flags.
#
# Needs cargo-deb (`cargo install cargo-deb --locked`) and rsvg-convert (Debian:
# librsvg2-bin); for Windows, the x86_64-pc-windows-gnu target (`rustup target add
# x86_64-pc-windows-gnu`), mingw-w64 (gcc-mingw-w64-x86-64) and zip.
set -euo pipefail
cd "$(dirname "$0")/.."

windows=yes
for arg in "$@"; do
    case "$arg" in
        --linux-only) windows=no ;;
        *) echo "usage: bash packaging/build.sh [--linux-only]" >&2; exit 2 ;;
    esac
done

version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
dist=target/dist
# cargo-deb reads the assets' target/release/ paths as this profile's folder.
built=target/packaged
gen="$built/packaging"
rm -rf "$dist"
mkdir -p "$dist" "$gen"

echo "== build of the server, the terminal client and the window"
cargo build --profile packaged --locked -p udprelay-server -p udprelay-cli -p udprelay-gui

for bin in udprelay-server udprelay udprelay-gui; do
    "$built/$bin" --generate man | gzip -9n > "$gen/$bin.1.gz"
done
for bin in udprelay-server udprelay; do
    "$built/$bin" --generate bash > "$gen/$bin.bash"
    "$built/$bin" --generate zsh > "$gen/_$bin"
    "$built/$bin" --generate fish > "$gen/$bin.fish"
done
icon=gui-client/packaging/icons/invalid.example.udprelay.svg
for size in 16 32 48 64 128 256; do
    mkdir -p "$gen/icons/${size}x${size}"
    rsvg-convert -w "$size" -h "$size" "$icon" -o "$gen/icons/${size}x${size}/invalid.example.udprelay.png"
done

echo "== Debian packages"
for crate in udprelay-server udprelay-cli udprelay-gui; do
    cargo deb --locked --no-build --profile packaged -p "$crate" --output "$dist/"
done

# An archive's folder: the binaries, README, the licence and the emoji font's.
stage() {
    local dir="$1"
    rm -rf "$dir"
    mkdir -p "$dir"
    cp README.md LICENSE "$dir/"
    cp gui-client/fonts/NotoColorEmoji-OFL.txt "$dir/LICENSE-NotoColorEmoji-OFL.txt"
}

echo "== Linux archive"
linux="udprelay-$version-x86_64-linux"
stage "$built/$linux"
for bin in udprelay-server udprelay udprelay-gui; do cp "$built/$bin" "$built/$linux/"; done
tar -C "$built" -czf "$dist/$linux.tar.gz" --owner=0 --group=0 "$linux"

if [ "$windows" = yes ]; then
    echo "== Windows build and archive"
    triple=x86_64-pc-windows-gnu
    cargo build --profile packaged --locked --target "$triple" \
        -p udprelay-server -p udprelay-cli -p udprelay-gui
    win="udprelay-$version-x86_64-windows"
    stage "target/$triple/packaged/$win"
    for bin in udprelay-server udprelay udprelay-gui; do
        cp "target/$triple/packaged/$bin.exe" "target/$triple/packaged/$win/"
    done
    (cd "target/$triple/packaged" && zip -qr "../../../$dist/$win.zip" "$win")
fi

ls -l "$dist"
