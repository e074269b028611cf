#!/usr/bin/env python3
"""Whole-binary benchmark of clerk: CPU, wall time and memory of real commands.

Usage: python3 benches/cli.py [path/to/clerk] [--db /path/to/history.sqlite3]

- `clerk ask` receiving a 2,000-token answer from a local OpenAI-compatible server
  (Python standard library, 127.0.0.1, streamed as fast as the socket allows);
- `clerk sessions list` and `clerk sessions search` on a large history (build one with
  `CLERK_BENCH_DB=/tmp/clerk-bench/history.sqlite3 cargo bench --bench store`).

CPU time is user + system of the clerk process (os.wait4), so it does not depend on the
machine's load the way wall time does. Nothing leaves the machine.
"""
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TOKENS = 2000
WORDS = [" The", " travel", " policy", " says", "报销", "流程", " **bold**", " `code`", "\n", " |", " 👍", " and"]


def sse_body():
    parts = []
    for i in range(TOKENS):
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4o-mini",
                 "choices": [{"index": 0, "delta": {"content": WORDS[i % len(WORDS)]}, "finish_reason": None}]}
        parts.append("data: " + json.dumps(chunk, ensure_ascii=False) + "\n\n")
    parts.append('data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n')
    parts.append('data: {"choices":[],"usage":{"prompt_tokens":20,"completion_tokens":2000}}\n\n')
    parts.append("data: [DONE]\n\n")
    return "".join(parts).encode()


BODY = sse_body()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(BODY)))
        self.end_headers()
        # One write per event, like a real server.
        for event in BODY.split(b"\n\n"):
            if event:
                self.wfile.write(event + b"\n\n")
        self.wfile.flush()

    def log_message(self, *args):
        pass


def run(cmd, env, repeat):
    walls, cpus = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(p.pid, 0)
        walls.append(time.perf_counter() - start)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"{' '.join(cmd)} failed: {p.stderr.read().decode()}")
        cpus.append(usage.ru_utime + usage.ru_stime)
    # ru_maxrss is not reported: on Linux a child's peak includes the forking Python's pages.
    return statistics.median(walls), statistics.median(cpus)


def main():
    args = sys.argv[1:]
    db = None
    if "--db" in args:
        i = args.index("--db")
        db = args[i + 1]
        del args[i:i + 2]
    clerk = os.path.abspath(args[0] if args else "target/release/clerk")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    home = tempfile.mkdtemp()
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": home,
        "XDG_CONFIG_HOME": home + "/config", "XDG_DATA_HOME": home + "/data", "XDG_STATE_HOME": home + "/state",
        "CLERK_API_KEY": "sk-bench-0000000000000000",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{server.server_address[1]}/v1",
    }
    print(f"{'command':48} {'wall ms':>8} {'CPU ms':>8}")
    rows = [
        ("clerk --version", [clerk, "--version"], env, 20),
        ("clerk ask (2,000-token answer, saved)", [clerk, "ask", "benchmark question"], env, 10),
        ("clerk ask --no-save (2,000-token answer)", [clerk, "ask", "--no-save", "benchmark question"], env, 10),
    ]
    if db:
        big = dict(env, CLERK_DATA_DIR=os.path.dirname(os.path.abspath(db)))
        rows += [
            ("clerk sessions list (10,000 sessions)", [clerk, "sessions", "list"], big, 10),
            ("clerk sessions search budget (200,000 msgs)", [clerk, "sessions", "search", "budget"], big, 10),
            ("clerk sessions search 报销 (200,000 msgs)", [clerk, "sessions", "search", "报销"], big, 10),
        ]
    for name, cmd, e, repeat in rows:
        wall, cpu = run(cmd, e, repeat)
        print(f"{name:48} {wall * 1000:8.1f} {cpu * 1000:8.1f}")
    server.shutdown()


if __name__ == "__main__":
    main()
