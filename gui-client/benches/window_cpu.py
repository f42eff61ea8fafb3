#!/usr/bin/env python3
"""The real desktop window's CPU and memory under Xvfb: idle with one group, then under a bot
sending 200 messages a second into the selected group, then its memory after 1 000 and after
100 000 messages. Prints figures; run by hand:

    apt-get install -y xvfb            # once
    cargo build --release -p udprelay-server -p udprelay-gui -p udprelay-bench
    python3 gui-client/benches/window_cpu.py
    ENCRYPTED=1 python3 gui-client/benches/window_cpu.py

With ENCRYPTED=1 the group is an encrypted one, joined by its invite, and the bot's messages
are envelopes sealed beforehand by `udprelay-bench seal` (one sender's, in order, each opened
and checked by the window as any member's).

With BACKGROUND=1 the window is in a second group, shown, so the bot's group is in the
background and every message is offered as a desktop notification; with a notification service
then (the tests' own, on a session bus of its own:
`cargo build --release -p udprelay-testkit --features notifications --example
notification_service`), the notifications it was asked to show are counted.

With HISTORY=FILE the window keeps its history there instead of in a scratch store: a copy of
the 1 000 000-message store the search bench leaves with KEEP=FILE shows what memory a large
history costs. With SEARCH=words (xdotool) the window then searches every group for them (Ctrl+F, the words,
Tab Tab Space), and its memory is read again; MEMORY_ONLY=1 stops there.

CPU is read from /proc/<pid>/stat (user + system time of the window's process); memory is its
VmRSS. The window keeps its history in a scratch store, as it would in use.
"""
import base64, os, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER = os.path.join(ROOT, 'target/release/udprelay-server')
GUI = os.path.join(ROOT, 'target/release/udprelay-gui')
BENCH = os.path.join(ROOT, 'target/release/udprelay-bench')
NOTIFICATIONS = os.path.join(ROOT, 'target/release/examples/notification_service')
DISPLAY = ':97'
IDLE_SECONDS, BUSY_SECONDS, RATE = 15, 20, 200


def main():
    scratch = tempfile.mkdtemp(prefix='udprelay-window-cpu-')
    xvfb = subprocess.Popen(['Xvfb', DISPLAY, '-screen', '0', '1280x800x24'], stderr=subprocess.DEVNULL)
    time.sleep(1)
    server = subprocess.Popen([SERVER, '--host', '127.0.0.1', '--port', '0', '--payload-rate', '0'],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = int(server.stdout.readline().rsplit(':', 1)[1])
    relay = ('127.0.0.1', port)
    bot = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bot.settimeout(2)
    bot.sendto(b'!CREATE', relay)
    group = bot.recv(100).split()[-1].decode()
    bot.sendto(f'!JOIN {group}'.encode(), relay)
    bot.recv(100)
    join, payloads = group, None
    if os.environ.get('ENCRYPTED'):
        secret = base64.b32encode(os.urandom(32)).decode().rstrip('=')
        join = f'udprelay://127.0.0.1:{port}/{group}#{secret}'
        sealed = subprocess.run([BENCH, 'seal', join, '--count', '100000'], check=True,
                                stdout=subprocess.PIPE, text=True).stdout
        payloads = [line.encode() for line in sealed.splitlines()]
    env = dict(os.environ, DISPLAY=DISPLAY)
    env.pop('WAYLAND_DISPLAY', None)
    groups = ['--join', join]
    service = None
    if os.environ.get('BACKGROUND'):
        bot.sendto(b'!CREATE', relay)
        shown = bot.recv(100).split()[-1].decode()
        groups += ['--join', shown]  # the last one joined is shown
        service = subprocess.Popen([NOTIFICATIONS], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        env['DBUS_SESSION_BUS_ADDRESS'] = service.stdout.readline().strip()
    window = subprocess.Popen([GUI, '--host', '127.0.0.1', '--port', str(port), *groups,
                               '--history', os.environ.get('HISTORY', os.path.join(scratch, 'history.sqlite3'))],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def cpu_seconds():
            fields = open(f'/proc/{window.pid}/stat').read().rsplit(')', 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')

        def rss_mib():
            for line in open(f'/proc/{window.pid}/status'):
                if line.startswith('VmRSS'):
                    return int(line.split()[1]) / 1024

        time.sleep(4)
        start = cpu_seconds()
        time.sleep(IDLE_SECONDS)
        idle = (cpu_seconds() - start) / IDLE_SECONDS
        idle_rss = rss_mib()
        if os.environ.get('SEARCH'):
            # SEARCH=words: Ctrl+F, the words typed, every group searched; memory then.
            found = subprocess.run(['xdotool', 'search', '--sync', '--pid', str(window.pid)],
                                   env=env, stdout=subprocess.PIPE, text=True, timeout=10)
            win = found.stdout.split()[-1]
            # Tab, Tab, Space: from the field to "Every group", chosen.
            for command in (['windowfocus', '--sync', win], ['key', 'ctrl+f'],
                            ['type', '--delay', '50', os.environ['SEARCH']],
                            ['key', 'Tab'], ['key', 'Tab'], ['key', 'space']):
                subprocess.run(['xdotool', *command], env=env, check=True, timeout=10)
                time.sleep(1)
            time.sleep(3)
            if os.environ.get('SHOT'):
                subprocess.run(['import', '-window', 'root', os.environ['SHOT']], env=env)
            print(f'RSS idle: {idle_rss:.1f} MiB; after searching for {os.environ["SEARCH"]!r}: {rss_mib():.1f} MiB')
        if os.environ.get('MEMORY_ONLY'):
            print(f'idle: {100 * idle:.1f}% of a core, RSS {idle_rss:.1f} MiB')
            return

        bot.setblocking(False)
        sent = 0

        def payload(n):
            if payloads:
                return payloads[n]
            return f'bot: message {n}, with some words to show'.encode()

        def send(count, rate):
            nonlocal sent
            began = time.time()
            for n in range(count):
                bot.sendto(payload(sent), relay)
                sent += 1
                time.sleep(max(0.0, (n + 1) / rate - (time.time() - began)))
            time.sleep(3)

        # Memory after the first 1 000 messages (and after 100 000, at the end).
        send(1000, 2000)
        thousand = rss_mib()

        profile = None
        if os.environ.get('PERF'):
            # PERF=file: where the time goes under load, for `perf report -i file`.
            profile = subprocess.Popen(['perf', 'record', '-g', '-F', '500', '-o', os.environ['PERF'],
                                        '-p', str(window.pid), '--', 'sleep', str(BUSY_SECONDS - 5)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        start, began, first = cpu_seconds(), time.time(), sent
        while time.time() - began < BUSY_SECONDS:
            bot.sendto(payload(sent), relay)
            sent += 1
            try:
                while True:
                    bot.recv(2000)  # the window's heartbeat replies and the like
            except BlockingIOError:
                pass
            time.sleep(max(0.0, (sent - first) / RATE - (time.time() - began)))
        busy = (cpu_seconds() - start) / (time.time() - began)
        if profile:
            profile.wait()
        time.sleep(3)
        after = cpu_seconds()
        time.sleep(IDLE_SECONDS)
        idle_after = (cpu_seconds() - after) / IDLE_SECONDS
        kind = 'encrypted ' if payloads else ''
        if service:
            kind += 'background '
        print(f'idle with one {kind}group:            {100 * idle:5.1f}% of a core, RSS {idle_rss:.1f} MiB')
        print(f'under {RATE} {kind}messages/s ({sent - first} sent): {100 * busy:5.1f}% of a core')
        print(f'idle again afterwards:          {100 * idle_after:5.1f}% of a core')

        send(100_000 - sent, 5000)
        most = rss_mib()
        print(f'RSS after 1 000 messages: {thousand:.1f} MiB; after 100 000: {most:.1f} MiB ({most / thousand:.2f}x)')
        if service:
            service.stdin.close()
            notified = sum(1 for line in service.stdout if line.startswith('notified'))
            print(f'notifications shown: {notified} for {sent} messages in the background group')
    finally:
        window.kill()
        if service:
            service.kill()
        server.kill()
        xvfb.kill()
        subprocess.run(['rm', '-rf', scratch])


if __name__ == '__main__':
    sys.exit(main())
