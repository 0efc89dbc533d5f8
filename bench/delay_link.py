#!/usr/bin/python3
"""bench/delay_link.py: a link with a delay, for kernels without netem (sch_netem).

Creates the network namespace NS and two TUN devices: HOST in this namespace
(NET.1, point to point to NET.2) and PEER moved into NS (NET.2). This process forwards every IP
packet between them, those from HOST to PEER after DELAY_MS, those back at once, so a round
trip between the two namespaces takes DELAY_MS longer: what `tc qdisc add dev HOST root netem
delay DELAY_MS` does on a veth pair. TCP runs end to end over it (the kernel's own Nagle,
delayed ACK and congestion control), unlike a TCP proxy. Packets are held in order, never
dropped; the MTU is 9000.

Usage: bench/delay_link.py NS NET DELAY_MS   (root; e.g. ntb1 10.213.7 1)
Prints "ready" once the link carries packets; runs until its standard input closes or it gets
SIGTERM, then deletes NS (and with it PEER; HOST goes with this process's descriptor).
"""
import fcntl
import heapq
import os
import select
import signal
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000


def tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def sh(*cmd):
    subprocess.run(cmd, check=True)


def main():
    ns, net, delay = sys.argv[1], sys.argv[2], float(sys.argv[3]) / 1000
    tag = ns[-8:]
    host, peer = f"dlh{tag}", f"dlp{tag}"
    sh("ip", "netns", "add", ns)
    try:
        a, b = tun(host), tun(peer)
        sh("ip", "link", "set", peer, "netns", ns)
        sh("ip", "addr", "add", f"{net}.1", "peer", f"{net}.2", "dev", host)
        sh("ip", "link", "set", host, "mtu", "9000", "up")
        sh("ip", "-n", ns, "addr", "add", f"{net}.2", "peer", f"{net}.1", "dev", peer)
        sh("ip", "-n", ns, "link", "set", peer, "mtu", "9000", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        print("ready", flush=True)
        held, seq = [], 0  # (due, seq, packet): from HOST to PEER
        fds = [a, b, sys.stdin.fileno()]
        while True:
            now = time.monotonic()
            while held and held[0][0] <= now:
                os.write(b, heapq.heappop(held)[2])
            timeout = max(0.0, held[0][0] - now) if held else None
            r, _, _ = select.select(fds, [], [], timeout)
            for fd in r:
                if fd == fds[2]:
                    if not os.read(fd, 4096):
                        return
                    continue
                for _ in range(64):
                    try:
                        pkt = os.read(fd, 65536)
                    except BlockingIOError:
                        break
                    if fd == a:
                        seq += 1
                        heapq.heappush(held, (time.monotonic() + delay, seq, pkt))
                    else:
                        os.write(a, pkt)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


main()
