#!/usr/bin/env python3
"""Change feed benchmarks (BENCHMARKS.md, "Change feed"); standard library only.

  feed.py latency WRITER_URL WATCHER_URL [RATE] [SECONDS]
      Paced PATCHes on WRITER_URL (one replica) at RATE per second while one
      Server-Sent Events watcher follows WATCHER_URL (another replica of the
      same database). Reports the delay from each write's acknowledgement (the
      response read by the writer) to the arrival of its event: p50, p99, max.

  feed.py watchers URL PID [WATCHERS] [WRITES] [RATE]
      WATCHERS event streams on one replica (process PID), then WRITES paced
      PATCHes; waits until every watcher has every event. Reports the service's
      RSS (now and peak) and its CPU time per delivered event (the writes'
      own CPU included, so an upper bound).

Both create their points first (outside the measurement) and stream with
`mask=id` so that the client's own parsing stays cheap.
"""

import asyncio
import json
import os
import sys
import time

POINTS = "/rest/v1/service/integration_points"


def split(url):
    rest = url.split("://", 1)[1]
    host, port = rest.split(":")
    return host, int(port)


class Connection:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, url):
        self.host, self.port = split(url)

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method, path, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        self.writer.write(head.encode() + data)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        headers = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, value = line.decode().split(":", 1)
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        payload = await self.reader.readexactly(length) if length else b""
        return status, headers, payload


def version_of(etag):
    return int(etag.strip('"').rsplit("-", 1)[1])


async def create_points(url, count):
    conn = Connection(url)
    await conn.open()
    ids = []
    stamp = time.time_ns()
    for i in range(count):
        status, _, body = await conn.request("POST", POINTS, {"code": f"bench-{stamp}-{i}"})
        assert status == 200, (status, body)
        ids.append(json.loads(body)["id"])
    conn.writer.close()
    return ids


async def revision(url):
    conn = Connection(url)
    await conn.open()
    status, headers, _ = await conn.request("GET", POINTS + "?limit=1")
    conn.writer.close()
    assert status == 200
    return headers["x-revision"]


async def watch(url, since, on_event, ready):
    """Streams events after `since`, calling on_event(data dict) for each."""
    host, port = split(url)
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        (
            f"GET {POINTS}/changes?since={since}&mask=id HTTP/1.1\r\nHost: {host}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        ).encode()
    )
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    ready()
    # The body is chunked, and a chunk may end inside a line: the lines are
    # cut from the decoded body, never from the raw stream (read that way, a
    # `data:` line split by a chunk's size ended the watcher, silently, after
    # its first few events). Only `data:` lines matter here.
    body = b""
    while True:
        size_line = await reader.readline()
        if not size_line:
            return
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return
        body += await reader.readexactly(size)
        await reader.readexactly(2)
        *lines, body = body.split(b"\n")
        for line in lines:
            if line.startswith(b"data: "):
                if on_event(json.loads(line[6:])) is False:
                    writer.close()
                    return


async def paced_writes(url, ids, rate, count, acked, connections=32):
    queue = asyncio.Queue()
    start = time.monotonic() + 0.2
    for i in range(count):
        queue.put_nowait(i)

    async def worker():
        conn = Connection(url)
        await conn.open()
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                conn.writer.close()
                return
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            point = ids[i % len(ids)]
            status, headers, _ = await conn.request(
                "PATCH", f"{POINTS}/{point}", {"opts": {"comment": f"c{i}"}}
            )
            if status == 200:
                acked[(point, version_of(headers["etag"]))] = time.monotonic()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return time.monotonic() - start


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


async def latency(writer_url, watcher_url, rate=1000, seconds=20):
    rate, seconds = int(rate), int(seconds)
    ids = await create_points(writer_url, 500)
    since = await revision(watcher_url)
    acked, received = {}, {}
    connected = asyncio.Event()

    def on_event(data):
        received[(data["id"], data["version"])] = time.monotonic()

    stream = asyncio.create_task(watch(watcher_url, since, on_event, connected.set))
    await connected.wait()
    count = rate * seconds
    elapsed = await paced_writes(writer_url, ids, rate, count, acked)
    deadline = time.monotonic() + 30
    while len([k for k in acked if k in received]) < len(acked) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    stream.cancel()
    delays = [(received[k] - t) * 1000 for k, t in acked.items() if k in received]
    missing = len(acked) - len(delays)
    print(f"writes acknowledged: {len(acked)} of {count} in {elapsed:.1f} s "
          f"({len(acked) / elapsed:.0f}/s); events matched: {len(delays)}; missing: {missing}")
    print(f"ack -> event on the other replica, ms: p50 {percentile(delays, 0.5):.1f}, "
          f"p99 {percentile(delays, 0.99):.1f}, max {max(delays):.1f}")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kb(pid, key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key):
            return int(line.split()[1])
    return 0


async def watchers(url, pid, count=1000, writes=500, rate=100):
    count, writes, rate = int(count), int(writes), int(rate)
    ids = await create_points(url, 100)
    since = await revision(url)
    received = [0] * count
    done = asyncio.Event()
    connected = 0

    def ready():
        nonlocal connected
        connected += 1

    def counter(n):
        def on_event(_data):
            received[n] += 1
            if all(r >= writes for r in received):
                done.set()
            return received[n] < writes
        return on_event

    streams = [asyncio.create_task(watch(url, since, counter(n), ready)) for n in range(count)]
    while connected < count:
        await asyncio.sleep(0.1)
    await asyncio.sleep(1)
    rss_idle = memory_kb(pid, "VmRSS")
    cpu_before = cpu_seconds(pid)
    started = time.monotonic()
    await paced_writes(url, ids, rate, writes, {}, connections=8)
    try:
        await asyncio.wait_for(done.wait(), timeout=300)
    except asyncio.TimeoutError:
        pass
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(pid) - cpu_before
    delivered = sum(received)
    rss, peak = memory_kb(pid, "VmRSS"), memory_kb(pid, "VmHWM")
    for s in streams:
        s.cancel()
    print(f"{count} watchers x {writes} writes: {delivered} events delivered of {count * writes} "
          f"in {elapsed:.1f} s")
    print(f"service RSS with {count} watchers connected: {rss_idle // 1024} MB idle, "
          f"{rss // 1024} MB after delivery, peak {peak // 1024} MB")
    print(f"service CPU: {cpu:.2f} s, {cpu / max(delivered, 1) * 1e6:.1f} µs per delivered event "
          f"(writes included)")


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    asyncio.run({"latency": latency, "watchers": watchers}[mode](*args))
