#!/usr/bin/env python3
"""How long `clerk doctor` takes when everything is well.

  python3 benches/doctor.py target/debug/clerk [--runs 11] [--models-ms 300] [--answer-ms 600]

A local OpenAI-compatible server (this script) waits --models-ms before listing the models and
--answer-ms before streaming a one-token answer, like a real endpoint over the internet; a
temporary home holds clerk's files. Each run is a whole `clerk doctor` process: the script
prints, per check, the median time at which its line arrived, and the median and slowest
wall time of the whole run. The budget is 5 s (docs/doctor.md)."""
import argparse, http.server, json, os, statistics, subprocess, sys, tempfile, threading, time


def server(models_s, answer_s):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, ctype, body):
            self.send_response(status)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(body)))
            self.send_header("connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            time.sleep(models_s)
            data = [{"id": m, "object": "model"} for m in ("gpt-4o-mini", "gpt-4o")]
            self.reply(200, "application/json", json.dumps({"object": "list", "data": data}).encode())

        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length", "0")))
            time.sleep(answer_s)
            chunks = [
                {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "ok"}, "finish_reason": None}]},
                {"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]},
                {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 1, "total_tokens": 13}},
            ]
            body = b""
            for c in chunks:
                c.update({"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4o-mini"})
                body += b"data: " + json.dumps(c).encode() + b"\n\n"
            self.reply(200, "text/event-stream", body + b"data: [DONE]\n\n")

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("clerk")
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--models-ms", type=int, default=300)
    ap.add_argument("--answer-ms", type=int, default=600)
    a = ap.parse_args()
    srv = server(a.models_ms / 1000, a.answer_ms / 1000)
    home = tempfile.mkdtemp(prefix="clerk-doctor-bench-")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": home,
        "XDG_CONFIG_HOME": os.path.join(home, "config"),
        "XDG_DATA_HOME": os.path.join(home, "data"),
        "XDG_STATE_HOME": os.path.join(home, "state"),
        "CLERK_API_KEY": "sk-bench-0000000000000000",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{srv.server_address[1]}/v1",
    }
    walls, at = [], {}
    for _ in range(a.runs):
        t0 = time.perf_counter()
        p = subprocess.Popen([a.clerk, "doctor"], stdout=subprocess.PIPE, env=env, text=True)
        for line in p.stdout:
            if line.startswith(" "):
                continue
            check = line.split()[1]
            at.setdefault(check, []).append((time.perf_counter() - t0) * 1000)
        p.wait()
        walls.append((time.perf_counter() - t0) * 1000)
        if p.returncode != 0:
            sys.exit(f"clerk doctor exited with {p.returncode}")
    for check, times in at.items():
        print(f"{check:9} line at {statistics.median(times):7.0f} ms (median)")
    print(f"whole run: median {statistics.median(walls):.0f} ms, slowest {max(walls):.0f} ms "
          f"(server: {a.models_ms} ms before the model list, {a.answer_ms} ms before the answer)")


if __name__ == "__main__":
    main()
