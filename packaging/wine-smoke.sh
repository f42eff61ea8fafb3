#!/usr/bin/env bash
# The Windows build's smoke test, under Wine (Debian's wine64), run by packaging/check.sh
# --windows after packaging/build.sh --windows: the Windows server and two Windows terminal
# clients in pipe mode chat through it; the Windows window prints its --help and exits 0, and
# refuses a bad flag with exit 2; `--register-links` registers the scheme in the registry,
# and the command it registers, run with a link as a click runs it, opens the window (on
# Xvfb) in the group; a second launch is handed to it; the window's hand-off tests (its
# named pipe: a stale file, another user's pipe, a client that trickles) run as Windows
# unit tests. Not tested on Windows this way: a real
# desktop, the click itself (Wine 8's ShellExecute does not read HKEY_CURRENT_USER's
# classes), the clipboard, Windows' own network stack (docs/install.md).
#
# Debian's Wine 8.0 lacks bcryptprimitives.dll, whose ProcessPrng Rust's standard library
# imports on Windows, so no Rust .exe starts under it; the stand-in in packaging/wine/ is
# compiled here and put beside the .exe files in a scratch folder, for this test only.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
# The build build.sh --windows made (another folder of .exe files: the first argument).
release="${1:-target/x86_64-pc-windows-gnu/packaged}"
scratch="$(mktemp -d)"
# Every Wine process gets the display: Wine keeps the first one's, for the window later.
export WINEPREFIX="$scratch/prefix" WINEDEBUG=-all DISPLAY=:79
fail() { echo "error: $*" >&2; exit 1; }
cleanup() {
    [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
    wineserver -k 2>/dev/null || true
    [ -n "${xvfb_pid:-}" ] && kill "$xvfb_pid" 2>/dev/null || true
    rm -rf "$scratch"
}
trap cleanup EXIT

cp "$release/udprelay-server.exe" "$release/udprelay.exe" "$release/udprelay-gui.exe" "$scratch/"
x86_64-w64-mingw32-gcc -O2 -shared -o "$scratch/bcryptprimitives.dll" \
    "$repo/packaging/wine/bcryptprimitives.c" -ladvapi32
cd "$scratch"
Xvfb :79 -screen 0 1024x768x24 >/dev/null 2>&1 &
xvfb_pid=$!
sleep 1
timeout 120 wine udprelay.exe --version # the first run makes the Wine prefix

timeout 120 wine udprelay-server.exe --host 127.0.0.1 --port 0 >server.out 2>server.err &
server_pid=$!
for _ in $(seq 300); do grep -q ':[0-9]' server.out 2>/dev/null && break; sleep 0.1; done
port="$(head -1 server.out | sed 's/.*://')"
[ -n "$port" ] || fail "the Windows server did not start: $(cat server.err)"
udp() { python3 "$repo/packaging/udp.py" 127.0.0.1 "$port" "$@"; }
group="$(udp create)"

# Ben joins and listens; ana joins and says hello; each reads from a pipe, as scripts do.
(printf 'join %s\n' "$group"; sleep 8) \
    | timeout 60 wine udprelay.exe --host 127.0.0.1 --port "$port" --name ben >ben.out 2>&1 &
ben=$!
for _ in $(seq 100); do [ "$(udp members "$group")" = 1 ] && break; sleep 0.2; done
(printf 'join %s\n' "$group"; sleep 1; printf 'hello from windows\n'; sleep 1) \
    | timeout 60 wine udprelay.exe --host 127.0.0.1 --port "$port" --name ana >ana.out 2>&1
wait "$ben"
grep -qx "\[server\] OK JOINED $group" ana.out || fail "ana did not join: $(cat ana.out)"
grep -qx "\[payload\] ana: hello from windows" ben.out || fail "ben did not hear ana: $(cat ben.out)"
echo "Wine: two Windows terminal clients chatted through the Windows server"

timeout 60 wine udprelay-gui.exe --help >gui.out 2>&1 || fail "udprelay-gui.exe --help: $(cat gui.out)"
grep -q "^Usage: udprelay-gui" gui.out || fail "no usage from udprelay-gui.exe --help: $(cat gui.out)"
status=0
timeout 60 wine udprelay-gui.exe --no-such-flag >gui.out 2>&1 || status=$?
[ "$status" = 2 ] || fail "udprelay-gui.exe --no-such-flag exited $status, not 2"
echo "Wine: the Windows window printed its help and refused a bad flag"

# Links: registered for this user, as Windows documents URL schemes.
timeout 60 wine udprelay-gui.exe --register-links
classes='HKCU\Software\Classes\udprelay'
registered="$(wine reg query "$classes\shell\open\command" /ve | tr -d '\r' | sed -n 's/.*REG_SZ *//p')"
exe="$(winepath -w "$scratch/udprelay-gui.exe" | tr -d '\r')"
[ "$registered" = "\"$exe\" \"%1\"" ] || fail "registered command: $registered"
wine reg query "$classes" /v "URL Protocol" >/dev/null || fail "no URL Protocol value under $classes"
# What a click runs: the window with the link; it joins the group (ben and ana have left).
link="udprelay://127.0.0.1:$port/$group"
timeout 120 wine udprelay-gui.exe "$link" >window.out 2>&1 &
for _ in $(seq 150); do [ "$(udp members "$group")" = 1 ] && break; sleep 0.4; done
[ "$(udp members "$group")" = 1 ] || fail "the Windows window did not join $group from the link"
timeout 60 wine udprelay-gui.exe "$link" || fail "a second Windows launch did not exit 0"
[ "$(udp members "$group")" = 1 ] || fail "$(udp members "$group") members after a second launch"
echo "Wine: links registered; the window opened by a link joined the group; a second launch was handed over"

# The hand-off's own tests, built for Windows (a debug build of the window's library tests).
tests="$(cd "$repo" && cargo test --target x86_64-pc-windows-gnu -p udprelay-gui --lib --no-run \
    --message-format=json 2>/dev/null \
    | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["lib"]:
        print(m["executable"])')"
[ -n "$tests" ] || fail "the window's library tests did not build for Windows"
cp "$tests" "$scratch/gui-tests.exe"
timeout 300 wine gui-tests.exe instance:: >tests.out 2>&1 || fail "hand-off tests under Wine: $(cat tests.out)"
grep -q "^test result: ok. [1-9]" tests.out || fail "no hand-off tests ran: $(cat tests.out)"
echo "Wine: the window's hand-off tests passed ($(grep -c '^test .* ok$' tests.out) tests over its named pipe)"
