#!/usr/bin/env python3
"""How long the vector part of `clerk kb search` takes on a base of company size (issue 14,
point 6: "keep any vector scan fast enough for 10,000 documents").

    python3 benches/kb_vectors.py [--clerk target/release/clerk] [--passages 130000]
                                  [--dims 384 1536] [--runs 15]

10,000 documents of ~20 KB (the issue's 200 MB) cut into passages of at most 1,500 characters
make about 130,000 passages. For each size of vector, this script:
1. makes a temporary config and data folder and indexes one small file (`clerk kb add v …`),
   so the index has clerk's own schema;
2. adds PASSAGES passages to it with sqlite3 (one file row per 13 passages, half `en` and half
   `zh`) and a random normalised vector of DIMS for each, as clerk stores them (8-bit);
3. serves `POST /v1/embeddings` on loopback with a random vector of DIMS (the question's);
4. times `clerk kb search --kb v -k 5 --json QUESTION` as a whole process, RUNS times, with
   `embeddings = "fake"` (the question embedded, every vector compared, rankings per language
   fused) and then without it (keyword search only), and prints both medians and their
   difference: the cost of vectors. `translate = false` throughout: nothing but loopback.
"""
import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def vector(dims, rng):
    v = [rng.gauss(0, 1) for _ in range(dims)]
    n = sum(x * x for x in v) ** 0.5
    return [x / n for x in v]


def serve(dims):
    rng = random.Random(7)

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            data = [{"object": "embedding", "index": i, "embedding": vector(dims, rng)} for i in range(len(inputs))]
            out = json.dumps({"object": "list", "data": data, "usage": {"prompt_tokens": 8, "total_tokens": 8}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    server = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, "http://127.0.0.1:%d/v1" % server.server_address[1]


def config(path, docs, url, embeddings):
    with open(path, "w") as f:
        f.write('[profiles.default]\nbase_url = "%s"\napi_key_cmd = "echo unused"\n\n' % url)
        f.write('[[knowledge]]\nname = "v"\npaths = ["%s"]\ntranslate = false\n' % docs)
        if embeddings:
            f.write('embeddings = "fake"\n')


def blobs(n, dims, seed):
    """n random normalised vectors as clerk stores them (src/knowledge/vectors.rs `quantise`):
    (scale, bytes), the scale the largest component's size over 127 and each component over
    the scale, rounded, as a signed byte (numpy when it is there)."""
    try:
        import numpy as np
        v = np.random.default_rng(seed).standard_normal((n, dims), dtype=np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        scale = np.abs(v).max(axis=1) / 127.0
        q = np.clip(np.round(v / scale[:, None]), -127, 127).astype(np.int8)
        return [(float(s), row.tobytes()) for s, row in zip(scale, q)]
    except ImportError:
        rng = random.Random(seed)
        out = []
        for _ in range(n):
            v = vector(dims, rng)
            scale = max(abs(x) for x in v) / 127.0
            out.append((scale, struct.pack("<%db" % dims, *(max(-127, min(127, round(x / scale))) for x in v))))
        return out


def fill(db, passages, dims):
    con = sqlite3.connect(db)
    base = con.execute("SELECT id FROM bases WHERE name = 'v'").fetchone()[0]
    root = con.execute("SELECT root FROM files LIMIT 1").fetchone()[0]
    per_file = 13
    t0 = time.time()
    pid = con.execute("SELECT coalesce(max(id), 0) FROM passages").fetchone()[0]
    data = blobs(passages + per_file, dims, 1)
    for f in range(0, passages, per_file):
        cur = con.execute(
            "INSERT INTO files (base_id, root, path, size, mtime_ns, status, passages, indexed_ms) "
            "VALUES (?, ?, ?, 20000, 0, 'indexed', ?, 0)", (base, root, "gen/%06d.md" % f, per_file))
        fid = cur.lastrowid
        rows, vecs = [], []
        for i in range(per_file):
            pid += 1
            lang = "en" if (f // per_file) % 2 == 0 else "zh"
            rows.append((pid, fid, i, "Section %d" % i, lang, "passage %d text" % pid))
            scale, q = data[f + i]
            vecs.append((pid, base, "fake", lang, scale, q))
        con.executemany("INSERT INTO passages (id, file_id, seq, section, language, text) VALUES (?, ?, ?, ?, ?, ?)", rows)
        con.executemany(
            "INSERT INTO passage_vectors (passage_id, base_id, model, language, scale, data) "
            "VALUES (?, ?, ?, ?, ?, ?)", vecs)
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return time.time() - t0


def timed(cmd, env, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, env=env, capture_output=True, stdin=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
        if r.returncode != 0:
            sys.exit("search failed: %s" % r.stderr.decode(errors="replace"))
    return statistics.median(times) * 1000, r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clerk", default=os.path.join(REPO, "target", "release", "clerk"))
    ap.add_argument("--passages", type=int, default=130_000)
    ap.add_argument("--dims", type=int, nargs="+", default=[384, 1536])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder and serve until Ctrl-C (to profile)")
    args = ap.parse_args()
    for dims in args.dims:
        tmp = tempfile.mkdtemp(prefix="kb-vectors-")
        server, url = serve(dims)
        try:
            docs = os.path.join(tmp, "docs")
            os.makedirs(docs)
            with open(os.path.join(docs, "travel.md"), "w") as f:
                f.write("# Travel\n\n## Hotels\n\nThe nightly hotel limit in Shanghai is CNY 900.\n")
            env = dict(os.environ, CLERK_CONFIG=os.path.join(tmp, "config.toml"), CLERK_DATA_DIR=os.path.join(tmp, "data"))
            config(env["CLERK_CONFIG"], docs, url, False)
            subprocess.run([args.clerk, "kb", "index", "v"], env=env, check=True, capture_output=True)
            secs = fill(os.path.join(tmp, "data", "knowledge.sqlite3"), args.passages, dims)
            size = os.path.getsize(os.path.join(tmp, "data", "knowledge.sqlite3"))
            q = [args.clerk, "kb", "search", "--kb", "v", "-k", "5", "--json", "hotel limit Shanghai"]
            keyword, _ = timed(q, env, args.runs)
            config(env["CLERK_CONFIG"], docs, url, True)
            vectors, r = timed(q, env, args.runs)
            print("%d passages x %d dims (index %.0f MB, filled in %.0f s): kb search median %.0f ms with vectors, "
                  "%.0f ms keyword only: vectors cost %.0f ms"
                  % (args.passages, dims, size / 1e6, secs, vectors, keyword, vectors - keyword))
            if b"note:" in r.stderr:
                print("  notes: %s" % r.stderr.decode(errors="replace").strip())
            if args.keep:
                print("  kept: CLERK_CONFIG=%s CLERK_DATA_DIR=%s %s" % (env["CLERK_CONFIG"], env["CLERK_DATA_DIR"], " ".join(q)))
                try:
                    threading.Event().wait()
                except KeyboardInterrupt:
                    pass
        finally:
            server.shutdown()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
