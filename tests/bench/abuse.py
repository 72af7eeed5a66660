#!/usr/bin/env python3
"""Figures for the daemon under abuse (prints, asserts nothing).

  tests/bench/abuse.py [--daemon target/release/agentmuxd] [--idle 20000] [--streams 20]

1. Idle TCP connections without a key: opens N sockets that send nothing, then times
   GET /v1/health on the Unix socket (median of 50) and counts the sockets the daemon still
   holds open; beside the same health median with no flood.
2. Stalled readers: fills the log with history, opens R event streams over the Unix socket
   that never read, and prints the daemon's RSS before, while they are stalled, and after
   they are gone (cut off by the daemon, or closed by the client when it does not cut them).
3. Revocation: opens S SSE streams over TCP with one key, revokes it over the Unix socket and
   times until every stream has ended (median and worst of 5 rounds).
"""

import argparse
import json
import os
import resource
import select
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time

from unixhttp import unix  # beside this script


def health_ms(sock, n=50):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        status, _ = unix(sock, "GET", "/v1/health")
        out.append((time.perf_counter() - t) * 1000)
        assert status == 200
    return statistics.median(out), max(out)


def start(daemon, extra=""):
    d = tempfile.mkdtemp(prefix="amx-abuse")
    with open(os.path.join(d, "config.toml"), "w") as f:
        f.write("[daemon]\nrate_limit_per_sec = 1000000\nrate_limit_burst = 1000000\n" + extra)
    env = dict(os.environ, AGENTMUX_LOG="warn")
    p = subprocess.Popen([daemon, "--data-dir", d, "--listen", "127.0.0.1:0"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    sock = os.path.join(d, "agentmuxd.sock")
    for _ in range(400):
        try:
            if unix(sock, "GET", "/v1/health")[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.025)
    _, info = unix(sock, "GET", "/v1/info")
    host, port = info["tcp_listen"].rsplit(":", 1)
    return p, d, sock, (host, int(port))


def peer_closed(s):
    """The peer closed its end, even with unread data waiting."""
    po = select.poll()
    po.register(s, select.POLLRDHUP)
    return any(ev & (select.POLLRDHUP | select.POLLHUP) for _, ev in po.poll(0))


def still_open(socks):
    """Sockets the peer has not closed (data waiting to be read counts as open)."""
    n = 0
    for s in socks:
        po = select.poll()
        po.register(s, select.POLLIN)
        if not po.poll(0):
            n += 1
            continue
        try:
            if s.recv(1, socket.MSG_PEEK):
                n += 1
        except OSError:
            pass
    return n


def flood(args):
    p, d, sock, addr = start(args.daemon)
    try:
        base, base_max = health_ms(sock)
        socks = []
        for _ in range(args.idle):
            s = socket.socket()
            s.setblocking(True)
            try:
                s.connect(addr)
            except OSError as e:
                print(f"connect failed after {len(socks)}: {e}")
                s.close()
                break
            socks.append(s)
        time.sleep(1)
        during, during_max = health_ms(sock)
        held = still_open(socks)
        print(f"idle sockets opened: {len(socks)}; held open by the daemon: {held}")
        print(f"Unix /v1/health: {base:.2f} ms median (max {base_max:.2f}) with no flood, "
              f"{during:.2f} ms median (max {during_max:.2f}) during it; "
              f"ratio {during / base:.2f}")
        time.sleep(11)
        print(f"held open 11 s later (unauthenticated_timeout_secs = 10): {still_open(socks)}")
        for s in socks:
            s.close()
    finally:
        p.terminate()
        p.wait()
        shutil.rmtree(d, ignore_errors=True)


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def stalled(args):
    extra = "" if args.reference else ("stalled_write_timeout_secs = 5\nmax_streams = 100000\n"
                                       "max_streams_per_key = 100000\n")
    p, d, sock, addr = start(args.daemon, extra)
    try:
        title = "t" * 110
        for i in range(3000):
            status, body = unix(sock, "POST", "/v1/sessions", {"title": f"{title} {i}"})
            assert status == 201, body
        time.sleep(1)
        before = rss_mb(p.pid)
        socks = []
        for _ in range(args.stalled):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(sock)
            s.sendall(b"GET /v1/events HTTP/1.1\r\nhost: x\r\n\r\n")
            socks.append(s)
        time.sleep(3)
        during = rss_mb(p.pid)
        time.sleep(args.wait)
        cut = sum(1 for s in socks if peer_closed(s))
        for s in socks:
            s.close()
        time.sleep(3)
        after = rss_mb(p.pid)
        print(f"{args.stalled} stalled readers of 3,000 events: RSS {before:.1f} MB before, "
              f"{during:.1f} MB while stalled, {after:.1f} MB after they left; "
              f"{cut} cut off by the daemon")
    finally:
        p.terminate()
        p.wait()
        shutil.rmtree(d, ignore_errors=True)


def revoke(args):
    p, d, sock, addr = start(args.daemon)
    try:
        times = []
        for round_ in range(5):
            _, k = unix(sock, "POST", "/v1/keys", {"name": f"r{round_}"})
            secret = k["secret"]
            streams = []
            for _ in range(args.streams):
                s = socket.create_connection(addr)
                s.sendall(f"GET /v1/events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {secret}\r\n\r\n".encode())
                streams.append(s)
            for s in streams:
                s.recv(4096)  # headers and the first heartbeat
            ended, closed = [], []
            lock = threading.Lock()

            def watch(s):
                s.settimeout(30)
                tail = b""
                try:
                    while True:
                        b = s.recv(65536)
                        if not b:
                            break
                        tail = (tail + b)[-64:]
                        if b"0\r\n\r\n" in tail and not any(x[0] is s for x in ended):
                            with lock:
                                ended.append((s, time.perf_counter()))
                except OSError:
                    pass
                with lock:
                    closed.append(time.perf_counter())

            ts = [threading.Thread(target=watch, args=(s,)) for s in streams]
            for t in ts:
                t.start()
            t0 = time.perf_counter()
            unix(sock, "DELETE", f"/v1/keys/{k['key']['id']}")
            for t in ts:
                t.join()
            times.append(((max(t for _, t in ended) - t0) * 1000 if len(ended) == len(streams) else float("nan"),
                          (max(closed) - t0) * 1000))
            for s in streams:
                s.close()
        ends = [a for a, _ in times]
        closes = [b for _, b in times]
        print(f"revocation → all {args.streams} SSE streams of the key ended (error event, last chunk): "
              f"median {statistics.median(ends):.1f} ms, worst {max(ends):.1f} ms; their connections closed: "
              f"median {statistics.median(closes):.1f} ms, worst {max(closes):.1f} ms (5 rounds)")
    finally:
        p.terminate()
        p.wait()
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--daemon", default="target/release/agentmuxd")
    ap.add_argument("--idle", type=int, default=20000)
    ap.add_argument("--streams", type=int, default=20)
    ap.add_argument("--stalled", type=int, default=1000)
    ap.add_argument("--wait", type=int, default=15, help="seconds the stalled readers wait")
    ap.add_argument("--reference", help="an older agentmuxd to measure the stalled readers beside")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    args.idle = min(args.idle, hard - 200)
    daemon, ref = args.daemon, args.reference
    flood(args)
    args.reference = None
    stalled(args)
    if ref:
        args.daemon, args.reference = ref, ref
        print("reference:", end=" ")
        stalled(args)
        args.daemon = daemon
    revoke(args)


if __name__ == "__main__":
    main()
