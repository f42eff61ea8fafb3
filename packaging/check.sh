#!/usr/bin/env bash
# CI's check of what packaging/build.sh makes (it runs it): each Debian package's contents,
# its desktop entry and AppStream metainfo validated, the sizes of the binaries inside, the
# archives' contents; then, as root, the three packages installed with apt and used as a
# person would: the installed server with its unit, the installed terminal client chatting
# through it, and the installed window opened by a clicked invite (xdg-open under Xvfb), a
# second click handed to the same window. Removed afterwards. Every wait is bounded.
# Arguments go to build.sh; without --linux-only, the Windows archive is checked too, and its
# programs smoke-tested under Wine (packaging/wine-smoke.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

root=no
[ "$(id -u)" = 0 ] && root=yes
apt_install() {
    if [ "$root" = yes ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    else
        echo "error: needs $*; run as root, or install them" >&2
        exit 1
    fi
}
command -v cargo-deb >/dev/null 2>&1 || cargo install --quiet --locked cargo-deb
missing=()
for tool in rsvg-convert:librsvg2-bin desktop-file-validate:desktop-file-utils \
    appstreamcli:appstream xdg-mime:xdg-utils Xvfb:xvfb python3:python3; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
windows=yes
[[ " $* " == *" --linux-only "* ]] && windows=no
if [ "$windows" = yes ]; then
    rustup target list --installed | grep -qx x86_64-pc-windows-gnu \
        || rustup target add x86_64-pc-windows-gnu
    for tool in x86_64-w64-mingw32-gcc:gcc-mingw-w64-x86-64 wine:wine64 zip:zip unzip:unzip; do
        command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
    done
fi
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

bash packaging/build.sh "$@"
dist=target/dist
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
fail() { echo "error: $*" >&2; exit 1; }

# Every path a package must hold.
has() {
    local deb="$1"; shift
    local contents
    contents="$(dpkg-deb -c "$deb" | awk '{print $6}')"
    for path in "$@"; do
        grep -qx "$path" <<<"$contents" || fail "$deb lacks $path"
    done
}
server_deb="$(ls $dist/udprelay-server_*.deb)"
cli_deb="$(ls $dist/udprelay_*.deb)"
gui_deb="$(ls $dist/udprelay-gui_*.deb)"
has "$server_deb" ./usr/bin/udprelay-server ./usr/lib/systemd/system/udprelay-server.service \
    ./etc/udprelay/server.toml ./usr/share/man/man1/udprelay-server.1.gz \
    ./usr/share/bash-completion/completions/udprelay-server \
    ./usr/share/zsh/vendor-completions/_udprelay-server \
    ./usr/share/fish/vendor_completions.d/udprelay-server.fish
# The configuration is a conffile: an upgrade keeps the operator's edits.
dpkg-deb -I "$server_deb" conffiles | grep -qx /etc/udprelay/server.toml
has "$cli_deb" ./usr/bin/udprelay ./usr/share/man/man1/udprelay.1.gz \
    ./usr/share/bash-completion/completions/udprelay ./usr/share/zsh/vendor-completions/_udprelay \
    ./usr/share/fish/vendor_completions.d/udprelay.fish
id=invalid.example.udprelay
icons=()
for size in 16 32 48 64 128 256; do icons+=("./usr/share/icons/hicolor/${size}x${size}/apps/$id.png"); done
has "$gui_deb" ./usr/bin/udprelay-gui ./usr/share/man/man1/udprelay-gui.1.gz \
    "./usr/share/applications/$id.desktop" "./usr/share/metainfo/$id.metainfo.xml" \
    "./usr/share/icons/hicolor/scalable/apps/$id.svg" "${icons[@]}" \
    ./usr/share/doc/udprelay-gui/NotoColorEmoji-OFL.txt
desktop-file-validate "gui-client/packaging/$id.desktop"
appstreamcli validate --no-net "gui-client/packaging/$id.metainfo.xml"

# Sizes of the binaries as installed (stripped), against what docs/performance.md promises.
unpacked="$(mktemp -d)"
for deb in "$server_deb" "$cli_deb" "$gui_deb"; do dpkg-deb -x "$deb" "$unpacked"; done
size_ok() {
    local bytes
    bytes="$(stat -c %s "$unpacked/usr/bin/$1")"
    echo "$1: $bytes bytes installed (limit $2 MB)"
    [ "$bytes" -le $(($2 * 1000 * 1000)) ] || fail "$1 is over $2 MB"
}
size_ok udprelay-server 8
size_ok udprelay 8
size_ok udprelay-gui 40
rm -rf "$unpacked"

linux="udprelay-$version-x86_64-linux"
listing="$(tar -tzf "$dist/$linux.tar.gz")"
for path in udprelay-server udprelay udprelay-gui README.md LICENSE LICENSE-NotoColorEmoji-OFL.txt; do
    grep -qx "$linux/$path" <<<"$listing" || fail "$linux.tar.gz lacks $path"
done
# The archive's window registers itself for links, as whoever unpacked it would ask it to.
unpacked="$(mktemp -d)"
tar -C "$unpacked" -xzf "$dist/$linux.tar.gz"
(
    export HOME="$unpacked/home" XDG_DATA_HOME="$unpacked/home/data" XDG_CONFIG_HOME="$unpacked/home/config"
    "$unpacked/$linux/udprelay-gui" --register-links
    entry="$XDG_DATA_HOME/applications/$id.desktop"
    desktop-file-validate "$entry"
    grep -qx "Exec=\"$unpacked/$linux/udprelay-gui\" %u" "$entry" || fail "$entry: $(grep Exec= "$entry")"
    [ "$(xdg-mime query default x-scheme-handler/udprelay)" = "$id.desktop" ] \
        || fail "after --register-links, xdg-mime names '$(xdg-mime query default x-scheme-handler/udprelay)'"
)
rm -rf "$unpacked"
echo "packages and archives: contents, desktop entry and metainfo ok; the archive's window registered for links"

if [ "$windows" = yes ]; then
    win="udprelay-$version-x86_64-windows"
    listing="$(unzip -Z1 "$dist/$win.zip")"
    for path in udprelay-server.exe udprelay.exe udprelay-gui.exe README.md LICENSE \
        LICENSE-NotoColorEmoji-OFL.txt; do
        grep -qx "$win/$path" <<<"$listing" || fail "$win.zip lacks $path"
    done
    bash packaging/wine-smoke.sh
fi

if [ "$root" = no ]; then
    echo "not root: packages checked, not installed"
    exit 0
fi

echo "== installed with apt"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$server_deb" "./$cli_deb" "./$gui_deb" >/dev/null
scratch="$(mktemp -d)"
cleanup() {
    pkill -x udprelay-gui 2>/dev/null || true
    [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
    [ -n "${xvfb_pid:-}" ] && kill "$xvfb_pid" 2>/dev/null || true
    rm -rf "$scratch"
}
trap cleanup EXIT
for bin in udprelay-server udprelay udprelay-gui; do
    "/usr/bin/$bin" --version
    "/usr/bin/$bin" --help >/dev/null
done
/usr/bin/udprelay-server --config /etc/udprelay/server.toml --check-config
man -w udprelay >/dev/null 2>&1 || test -f /usr/share/man/man1/udprelay.1.gz
if command -v systemd-analyze >/dev/null 2>&1; then
    systemd-analyze verify /usr/lib/systemd/system/udprelay-server.service
fi

# The installed server, and the installed terminal client chatting through it from a pipe.
/usr/bin/udprelay-server --host 127.0.0.1 --port 0 >"$scratch/server.out" 2>&1 &
server_pid=$!
for _ in $(seq 50); do grep -q ':[0-9]' "$scratch/server.out" 2>/dev/null && break; sleep 0.1; done
port="$(head -1 "$scratch/server.out" | sed 's/.*://')"
udp() { python3 packaging/udp.py 127.0.0.1 "$port" "$@"; }
group="$(udp create)"
printf 'join %s\nhello from the package\n' "$group" \
    | HOME="$scratch" timeout 20 /usr/bin/udprelay --host 127.0.0.1 --port "$port" --name deb \
        >"$scratch/cli.out"
grep -qx "\[server\] OK JOINED $group" "$scratch/cli.out" || fail "the client did not join: $(cat "$scratch/cli.out")"
echo "installed terminal client joined $group through the installed server"

# The link handler, and the window opened by a link, under Xvfb.
[ "$(xdg-mime query default x-scheme-handler/udprelay)" = "$id.desktop" ] \
    || fail "xdg-mime names '$(xdg-mime query default x-scheme-handler/udprelay)' for udprelay://"
Xvfb :77 -screen 0 1024x768x24 >/dev/null 2>&1 &
xvfb_pid=$!
export DISPLAY=:77 HOME="$scratch" XDG_DATA_HOME="$scratch/data" XDG_CONFIG_HOME="$scratch/config"
sleep 1
link="udprelay://127.0.0.1:$port/$group"
xdg-open "$link" & # the window it starts keeps running; the checks below wait for it
members() { udp members "$group"; }
for _ in $(seq 100); do [ "$(members)" = 1 ] && break; sleep 0.2; done
[ "$(members)" = 1 ] || fail "the window did not join $group from the link ($(members) members)"
echo "xdg-open $link: the window joined"
# A second click: handed to the open window, which is in the group already; one window.
timeout 20 /usr/bin/udprelay-gui "$link" || fail "the second launch did not exit 0"
sleep 1
[ "$(pgrep -xc udprelay-gui)" = 1 ] || fail "$(pgrep -xc udprelay-gui) windows after a second launch"
[ "$(members)" = 1 ] || fail "$(members) members after a second launch"
echo "a second launch handed its link to the open window: one window, one membership"
cleanup
trap - EXIT
DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq udprelay-gui udprelay udprelay-server >/dev/null
echo "installed, used and removed the three packages"
