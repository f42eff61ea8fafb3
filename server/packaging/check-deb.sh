#!/usr/bin/env bash
# CI's check of the Debian package: builds it, checks its contents, installs it with dpkg,
# runs what it installed (and verifies the unit as installed, man page and all), removes it.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v cargo-deb >/dev/null 2>&1; then
    cargo install --quiet --locked cargo-deb
fi
bash server/packaging/build-deb.sh
deb="$(ls -t target/debian/udprelay-server_*.deb | head -1)"
contents="$(dpkg-deb -c "$deb" | awk '{print $6}')"
for path in ./usr/bin/udprelay-server \
    ./usr/lib/systemd/system/udprelay-server.service \
    ./etc/udprelay/server.toml \
    ./usr/share/man/man1/udprelay-server.1.gz \
    ./usr/share/bash-completion/completions/udprelay-server \
    ./usr/share/zsh/vendor-completions/_udprelay-server \
    ./usr/share/fish/vendor_completions.d/udprelay-server.fish; do
    if ! grep -qx "$path" <<<"$contents"; then
        echo "error: $deb lacks $path" >&2
        exit 1
    fi
done
# The configuration is a conffile: an upgrade keeps the operator's edits.
dpkg-deb -I "$deb" conffiles | grep -qx /etc/udprelay/server.toml
if [ "$(id -u)" = 0 ]; then
    dpkg -i "$deb" >/dev/null
    /usr/bin/udprelay-server --version
    /usr/bin/udprelay-server --config /etc/udprelay/server.toml --check-config
    man -w udprelay-server >/dev/null 2>&1 || test -f /usr/share/man/man1/udprelay-server.1.gz
    if command -v systemd-analyze >/dev/null 2>&1; then
        systemd-analyze verify /usr/lib/systemd/system/udprelay-server.service
    fi
    dpkg -r udprelay-server >/dev/null
    echo "installed, ran and removed $deb"
else
    echo "not root: $deb checked, not installed"
fi
