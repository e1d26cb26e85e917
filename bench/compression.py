"""What compression costs and saves on a 1,000-row list: the bytes sent and
the service's CPU time per request, uncompressed, gzip and br.

Starts BINARY on a fresh SQLite file (port 0, its log in a temporary
directory), creates 1,000 points through the API, then sends COUNT
`GET …?limit=1000` requests for each Accept-Encoding over one keep-alive
connection, reading the raw bytes (nothing is decoded, so the client's work
does not depend on the coding). CPU time is the service process's user +
system time from /proc, before and after each series.

    cargo build --release
    python3 bench/compression.py target/release/integration-points [COUNT]
"""

import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time

COLLECTION = "/rest/v1/service/integration_points"
CODINGS = [("none", None), ("gzip", "gzip"), ("br", "br")]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU time of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def ready(port):
    """Whether the service answers /health/ready with 200 (it listens before
    its database is migrated)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/health/ready")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def start(binary, scratch):
    """The service on a new SQLite file; returns the process and its port."""
    log_path = os.path.join(scratch, "service.log")
    log = open(log_path, "w")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "APP__SERVER__PORT": "0",
        "APP__DATABASE__URL": f"sqlite://{scratch}/bench.db?mode=rwc",
        "APP__LOG__FORMAT": "json",
        "APP__LOG__LEVEL": "warn,integration_points=info",
    }
    process = subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=log)
    for _ in range(200):
        time.sleep(0.05)
        with open(log_path) as lines:
            found = re.search(r'"address":"127\.0\.0\.1:(\d+)"', lines.read())
        if found and ready(int(found.group(1))):
            return process, int(found.group(1))
    process.kill()
    sys.exit(f"the service did not start; see {log_path}")


def main():
    binary = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    with tempfile.TemporaryDirectory() as scratch:
        process, port = start(binary, scratch)
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port)
            for n in range(1000):
                body = json.dumps({
                    "code": f"bench-{n:04}",
                    "type": ["public", "telegram", "webhook"][n % 3],
                    "url": f"https://hooks.example.com/{n}",
                    "recv_svcscriptcode": "ws_hook",
                    "send_svcscriptcode": "send_to_web",
                    "opts": {"title": f"Point {n}"},
                })
                connection.request("POST", COLLECTION, body,
                                   {"Content-Type": "application/json"})
                reply = connection.getresponse()
                reply.read()
                assert reply.status == 200, reply.status
            print(f"| Accept-Encoding | bytes sent | service CPU per request | wall time per request |")
            print(f"|---|---:|---:|---:|")
            for name, coding in CODINGS:
                headers = {"Accept-Encoding": coding} if coding else {}
                # Warm-up: the first requests pay for caches and allocations.
                for _ in range(20):
                    connection.request("GET", f"{COLLECTION}?limit=1000", headers=headers)
                    connection.getresponse().read()
                cpu_before, wall_before = cpu_seconds(process.pid), time.monotonic()
                size = 0
                for _ in range(count):
                    connection.request("GET", f"{COLLECTION}?limit=1000", headers=headers)
                    reply = connection.getresponse()
                    size = len(reply.read())
                    assert reply.status == 200, reply.status
                    assert reply.getheader("Content-Encoding") == coding, reply.getheader("Content-Encoding")
                cpu = (cpu_seconds(process.pid) - cpu_before) / count
                wall = (time.monotonic() - wall_before) / count
                print(f"| {name} | {size:,} | {cpu * 1000:.2f} ms | {wall * 1000:.2f} ms |")
        finally:
            process.terminate()
            process.wait(timeout=15)


if __name__ == "__main__":
    main()
