#!/usr/bin/env python3
"""Whole-binary benchmark of the full-screen app in a pseudo-terminal.

Usage: python3 benches/tui.py [path/to/clerk] --db /tmp/clerk-bench/history.sqlite3

Measures, against a local OpenAI-compatible server (Python standard library, 127.0.0.1):
- time from process start to the first complete frame, with the large history given by
  --db (10,000 sessions; build it with `CLERK_BENCH_DB=... cargo bench --bench store`);
- CPU used while idle for 3 s after that (should be zero: no busy tick);
- CPU used while an answer streams at 1,000 tokens/s for 5 s, in % of one core;
- peak memory (VmHWM) with a 5,000-message session open at 200x60.
"""
import fcntl
import http.server
import json
import os
import pty
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    tokens = 5000
    pace = 0.001

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        self.end_headers()
        start = time.perf_counter()
        for i in range(Handler.tokens):
            # Paragraphs of 40 tokens, like a real answer: words, Chinese, bold, a line break.
            piece = "\n\n" if i % 40 == 39 else [" word", " 报销", " **b**", " and", "\n"][i % 5]
            chunk = {"choices": [{"index": 0, "delta": {"content": piece}}]}
            self.wfile.write(("data: " + json.dumps(chunk) + "\n\n").encode())
            self.wfile.flush()
            # Hold the pace on average (sleeping per token would overshoot).
            ahead = (i + 1) * Handler.pace - (time.perf_counter() - start)
            if ahead > 0.002:
                time.sleep(ahead)
        self.wfile.write(b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')
        self.wfile.flush()

    def log_message(self, *args):
        pass


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def vm_hwm_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


class App:
    def __init__(self, clerk, env, cols, rows):
        self.start = time.perf_counter()
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            # The size is set before clerk starts: set from the parent, it can arrive before
            # clerk listens for SIGWINCH, and clerk would wait at "terminal too small".
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            os.execve(clerk, [clerk], env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.buf = b""

    def read_until(self, needle, timeout=20.0):
        deadline = time.perf_counter() + timeout
        while needle.encode() not in self.buf:
            if time.perf_counter() > deadline:
                sys.exit(f"timed out waiting for {needle!r}")
            try:
                self.buf += os.read(self.fd, 65536)
            except OSError:
                sys.exit("clerk exited")
        return time.perf_counter()

    def drain(self, seconds):
        end = time.perf_counter() + seconds
        os.set_blocking(self.fd, False)
        while time.perf_counter() < end:
            try:
                self.buf += os.read(self.fd, 65536)
            except (BlockingIOError, OSError):
                time.sleep(0.01)
        os.set_blocking(self.fd, True)

    def send(self, data):
        os.write(self.fd, data)

    def quit(self):
        self.send(b"\x11")  # Ctrl+Q
        # Keep reading: a terminal nobody reads blocks the writer.
        os.set_blocking(self.fd, False)
        while os.waitpid(self.pid, os.WNOHANG) == (0, 0):
            try:
                os.read(self.fd, 65536)
            except (BlockingIOError, OSError):
                time.sleep(0.01)


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
        "PATH": os.environ.get("PATH", ""), "HOME": home, "TERM": "xterm-256color", "COLORTERM": "truecolor",
        "XDG_CONFIG_HOME": home + "/config", "XDG_DATA_HOME": home + "/data", "XDG_STATE_HOME": home + "/state",
        "CLERK_API_KEY": "sk-bench-0000000000000000",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{server.server_address[1]}/v1",
    }

    if db:
        big = dict(env, CLERK_DATA_DIR=os.path.dirname(os.path.abspath(db)))
        firsts = []
        for _ in range(5):
            app = App(clerk, big, 120, 40)
            t = app.read_until("F1 help")
            firsts.append((t - app.start) * 1000)
            app.quit()
        print(f"first frame, 10,000 sessions (median of 5): {sorted(firsts)[2]:.1f} ms")

    app = App(clerk, env, 120, 40)
    app.read_until("F1 help")
    app.drain(0.5)
    before = cpu_ticks(app.pid)
    app.drain(3.0)
    print(f"CPU while idle for 3 s: {(cpu_ticks(app.pid) - before) / TICK * 1000:.0f} ms")

    before = cpu_ticks(app.pid)
    t0 = time.perf_counter()
    app.send(b"stream please\r")
    app.read_until("first token", timeout=60)
    wall = time.perf_counter() - t0
    used = (cpu_ticks(app.pid) - before) / TICK
    print(f"streaming {Handler.tokens} tokens in {wall:.1f} s ({Handler.tokens / wall:.0f} tokens/s): "
          f"CPU {used:.2f} s = {100 * used / wall:.1f}% of one core")
    app.quit()

    # A 5,000-message session, opened at 200x60.
    data = tempfile.mkdtemp()
    subprocess.run([clerk, "sessions", "list"], env=dict(env, CLERK_DATA_DIR=data), capture_output=True)
    con = sqlite3.connect(os.path.join(data, "history.sqlite3"))
    now = int(time.time() * 1000)
    cur = con.execute("INSERT INTO sessions (title, created_ms, updated_ms, profile, model, message_count) "
                      "VALUES ('big session', ?, ?, 'default', 'gpt-4o-mini', 5000)", (now, now))
    sid = cur.lastrowid
    rows = []
    for i in range(5000):
        if i % 2 == 0:
            rows.append((sid, "user", f"Question {i} about expenses?", now))
        elif i % 10 == 1:
            rows.append((sid, "assistant", f"Step {i}:\n\n```rust\nfn step() -> u32 {{\n    {i} * 2\n}}\n```\n\n| a | b |\n|---|---|\n| 机票 | 1,200 |\n", now))
        else:
            rows.append((sid, "assistant", f"Answer {i}: the **policy** says `30 days`; 报销需要发票。", now))
    con.executemany("INSERT INTO messages (session_id, role, content, status, created_ms) VALUES (?, ?, ?, 'complete', ?)", rows)
    con.commit()
    con.close()
    # Opened in tmux (the same keys a person would press).
    sock = f"clerk-bench-{os.getpid()}"
    envs = " ".join(f"{k}={v}" for k, v in dict(env, CLERK_DATA_DIR=data).items())
    tmux = ["tmux", "-L", sock, "-f", "/dev/null"]
    subprocess.run(tmux + ["new-session", "-d", "-s", "b", "-x", "200", "-y", "60", f"env -i {envs} {clerk}"], check=True)
    def screen():
        return subprocess.run(tmux + ["capture-pane", "-t", "b", "-p"], capture_output=True, text=True).stdout
    def wait(text):
        deadline = time.time() + 30
        while text not in screen():
            if time.time() > deadline:
                sys.exit(f"timed out waiting for {text!r}")
            time.sleep(0.05)
    wait("F1 help")
    pid = int(subprocess.run(tmux + ["display-message", "-p", "-t", "b", "#{pane_pid}"], capture_output=True, text=True).stdout.strip())
    subprocess.run(tmux + ["send-keys", "-t", "b", "M-Down"])
    wait("Answer 4999")
    time.sleep(0.5)
    print(f"peak memory with a 5,000-message session open at 200x60: {vm_hwm_mib(pid):.1f} MiB")
    subprocess.run(tmux + ["kill-server"])
    shutil.rmtree(data, ignore_errors=True)
    server.shutdown()


if __name__ == "__main__":
    main()
