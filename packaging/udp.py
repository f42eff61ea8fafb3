#!/usr/bin/env python3
"""A few words of the protocol (docs/protocol.md) for packaging/check.sh, from a socket of
its own: `udp.py HOST PORT create` prints a new group's id; `udp.py HOST PORT members ID`
joins, prints how many members the group has besides this socket, and leaves."""
import socket
import sys


def ask(sock, server, datagram):
    sock.sendto(datagram.encode(), server)
    return sock.recv(2048).decode()


def main():
    host, port, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    server = (host, port)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(2)
    if what == 'create':
        print(ask(sock, server, '!CREATE').split()[-1])  # OK CREATED <id>
    elif what == 'members':
        group = sys.argv[4]
        joined = ask(sock, server, f'!JOIN {group}')
        if not joined.startswith('OK JOINED'):
            sys.exit(f'!JOIN {group}: {joined}')
        print(int(ask(sock, server, '!WHO').split()[-1]) - 1)  # OK WHO <id> <count>
        left = ask(sock, server, f'!LEAVE {group}')
        if not left.startswith('OK LEFT'):
            sys.exit(f'!LEAVE {group}: {left}')
    else:
        sys.exit(f'unknown: {what}')


if __name__ == '__main__':
    main()
