"""Writes COUNT points as `integration-points export` writes them (id order,
every field used, non-ASCII titles, about 590 bytes a line, 59 MB for 100,000): the input of
bench/import.sh.

    python3 bench/import_points.py 100000 > points.ndjson
"""
import json
import sys
import uuid


def point(n):
    return {
        "id": str(uuid.UUID(int=(0x0190 << 112) + n)),
        "code": f"code-{n:06}",
        "type": "public" if n % 3 == 0 else "telegram",
        "token_local": f"{n:032x}",
        "token_remote": f"remote-{n}",
        "token_remote2": f"remote2-{n}",
        "url": f"https://example.com/hook/{n}",
        "recv_svcscriptcode": "ws_hook",
        "recv_svcscriptcode_ws": "ws_hook_ws",
        "send_svcscriptcode": "send_to_web",
        "send_svcscriptcode_ws": "send_to_web_ws",
        "opts": {
            "title": f"Бот «{n}»",
            "comment": "line\nbreak \"quoted\" — комментарий",
            "allow_files_api": n % 2 == 0,
            "issync": n % 5 == 0,
        },
        "ext": {
            "ct": f"2019-08-28T13:34:{n % 60:02}.{n % 1000:03}Z",
            "lwt": "2024-01-02T03:04:05.006Z",
        },
    }


def main():
    count = int(sys.argv[1])
    out = sys.stdout
    for n in range(1, count + 1):
        out.write(json.dumps(point(n), ensure_ascii=False, separators=(",", ":")))
        out.write("\n")


if __name__ == "__main__":
    main()
