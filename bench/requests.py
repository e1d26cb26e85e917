"""Sends a fixed number of requests of one workload to the service, over a few
keep-alive connections, for bench/instructions.sh.

The requests are those of bench/lua/<workload>.lua: random existing rows of the
data set bench/sql/load_postgres.sql loads (row n has the id
00000000-0000-0000-0000-<n in hex>, the token_local n in 32 digits and kind
n % 10). A reply that is not a success stops the run with its status.

    python3 bench/requests.py WORKLOAD COUNT [ROWS]
"""

import http.client
import json
import os
import random
import sys
import threading
import urllib.parse

COLLECTION = "/rest/v1/service/integration_points"
TYPES = ["public", "telegram", "webhook", "viber", "whatsapp",
         "vk", "email", "sms", "slack", "messenger"]
CONNECTIONS = 4


def request(workload, rows, rnd, serial):
    """The method, target and body of one request of `workload`."""
    n = rnd.randint(1, rows)
    point = f"{COLLECTION}/00000000-0000-0000-0000-{n:012x}"
    if workload == "get_by_id":
        return "GET", point, None
    if workload == "lookup":
        return "LOOKUP", COLLECTION, json.dumps(f"{n:032d}")
    if workload == "list_filter":
        query = urllib.parse.urlencode({
            "filter": json.dumps({"type": rnd.choice(TYPES)}, separators=(",", ":")),
            "order": '["code"]',
            "limit": "100",
        })
        return "GET", f"{COLLECTION}?{query}", None
    if workload == "patch":
        title = f"t-{rnd.randint(1, 10**9)}-{rnd.randint(1, 10**9)}"
        return "PATCH", point, json.dumps({"opts": {"title": title}})
    if workload == "create":
        code = f"instructions-{os.getpid()}-{serial}"
        return "POST", COLLECTION, json.dumps({"code": code, "type": "webhook"})
    raise SystemExit(f"unknown workload {workload}")


def main():
    workload, count = sys.argv[1], int(sys.argv[2])
    rows = int(sys.argv[3]) if len(sys.argv) > 3 else 100000
    port = int(os.environ.get("BENCH_PORT", "18080"))
    headers = {"Content-Type": "application/json"}
    if os.environ.get("BENCH_API_KEY"):
        headers["Authorization"] = "Bearer " + os.environ["BENCH_API_KEY"]
    failures = []

    def connection(k):
        client = http.client.HTTPConnection("127.0.0.1", port)
        rnd = random.Random(k)
        for i in range(count // CONNECTIONS):
            method, target, body = request(workload, rows, rnd, f"{k}-{i}")
            client.request(method, target, body=body, headers=headers)
            reply = client.getresponse()
            reply.read()
            if reply.status >= 300:
                failures.append(f"{method} {target}: {reply.status}")
                return

    threads = [threading.Thread(target=connection, args=(k,)) for k in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(failures[0])


if __name__ == "__main__":
    main()
