#!/usr/bin/env python3
"""`clerk usage` over a large ledger (issue 15: 100,000 recorded requests in <= 100 ms).

Usage: python3 benches/usage.py [path/to/clerk] [--requests 100000] [--runs 11]

Makes a temporary data folder whose usage ledger (usage.sqlite3, with the schema steps read
from src/store/ledger.rs) holds --requests requests spread over the last 400 days: five models
(one without a price, so its cost is NULL), three profiles, 2,000 sessions, a few templates
and knowledge bases, the kinds clerk records (answer, part, merge, step, restate, title,
compare, judge, embed), a tenth of them estimated. Then it times whole `clerk usage`
processes (wall time, median and slowest of --runs each) for the reports people ask for:
the default summary, --by day, --by month --json, --by model --since (last 30 days),
--by session --csv. Nothing leaves the machine; your own data folder is not touched.
"""
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

def ledger_schema():
    """The ledger's schema steps, read from src/store/ledger.rs (so the bench's ledger is
    the one clerk makes), and the user_version they leave."""
    import re
    src = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "store",
                            "ledger.rs"), encoding="utf-8").read()
    body = re.search(r'const MIGRATIONS: &\[&str\] = &\[(.*?)\];', src, re.S).group(1)
    steps = re.findall(r'"((?:[^"\\]|\\.)*)"', body, re.S)
    return ";\n".join(st.strip().rstrip(";") for st in steps) + ";\nPRAGMA user_version = %d;\n" % len(steps)


MODELS = [("gpt-4o-mini", 0.15, 0.60), ("gpt-4o", 2.5, 10.0), ("gpt-4.1-mini", 0.4, 1.6),
          ("o4-mini", 1.1, 4.4), ("qwen-internal", None, None)]
KINDS = ["answer"] * 12 + ["part", "merge", "step", "step", "restate", "restate", "title",
                           "compare", "judge", "embed"]


def make_ledger(path, n, seed=7):
    rnd = random.Random(seed)
    now = int(time.time() * 1000)
    db = sqlite3.connect(path)
    db.executescript(ledger_schema())
    rows = []
    for i in range(n):
        model, pin, pout = rnd.choice(MODELS)
        prompt = rnd.randint(50, 12000)
        cached = rnd.choice([0, 0, 0, prompt // 2])
        completion = rnd.randint(0, 2000)
        cost = None if pin is None else ((prompt - cached) * pin + cached * pin / 2 + completion * pout) / 1e6
        rows.append((
            now - rnd.randint(0, 400 * 86400 * 1000),
            rnd.choice(KINDS), model, rnd.choice(["default", "default", "gateway", "azure"]),
            rnd.randint(1, 2000) if rnd.random() < 0.9 else None,
            rnd.choice([None] * 6 + ["meeting-minutes", "customer-reply", "summarise-contract"]),
            rnd.choice([None] * 8 + ["procedures", "it-handbook"]),
            prompt, cached, completion, 1 if rnd.random() < 0.1 else 0, cost,
            rnd.choice(["complete"] * 20 + ["interrupted", "error"]),
        ))
    db.executemany(
        "INSERT INTO requests (at_ms, kind, model, profile, session_id, template, knowledge,"
        " prompt_tokens, cached_tokens, completion_tokens, estimated, cost_usd, status)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.commit()
    db.close()


def main():
    args = sys.argv[1:]
    clerk = "target/release/clerk"
    n, runs = 100_000, 11
    while args:
        a = args.pop(0)
        if a == "--requests":
            n = int(args.pop(0))
        elif a == "--runs":
            runs = int(args.pop(0))
        else:
            clerk = a
    clerk = os.path.abspath(clerk)
    tmp = tempfile.mkdtemp(prefix="clerk-usage-bench-")
    try:
        data = os.path.join(tmp, "data")
        os.makedirs(data)
        t = time.perf_counter()
        make_ledger(os.path.join(data, "usage.sqlite3"), n)
        print("ledger of %d requests made in %.1f s (%.1f MB)" % (
            n, time.perf_counter() - t, os.path.getsize(os.path.join(data, "usage.sqlite3")) / 1e6))
        env = dict(os.environ, CLERK_DATA_DIR=data, CLERK_CONFIG=os.path.join(tmp, "config.toml"),
                   HOME=tmp, XDG_CONFIG_HOME=os.path.join(tmp, "config"))
        with open(env["CLERK_CONFIG"], "w") as f:
            f.write("[budget]\nmonthly_usd = 500\n")
        since = time.strftime("%Y-%m-%d", time.localtime(time.time() - 30 * 86400))
        cases = [["usage"], ["usage", "--by", "day"], ["usage", "--by", "month", "--json"],
                 ["usage", "--by", "model", "--since", since], ["usage", "--by", "session", "--csv"]]
        print("%-45s %9s %9s" % ("command", "median", "slowest"))
        for case in cases:
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                r = subprocess.run([clerk] + case, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
                times.append((time.perf_counter() - t) * 1000)
                if r.returncode != 0:
                    sys.exit("`clerk %s` failed: %s" % (" ".join(case), r.stderr.decode()))
            print("%-45s %7.1f ms %7.1f ms" % ("clerk " + " ".join(case), statistics.median(times), max(times)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
