#!/usr/bin/env python3
"""Whole-binary benchmark: does a long session cost what a short one does?

Usage: python3 benches/session.py [path/to/clerk] [--turns 100] [--runs 15] [--starts 15] [--instructions]

Against a local OpenAI-compatible server (Python standard library, 127.0.0.1):

1. A fresh start: time from process start to the first complete frame and the peak memory
   (VmHWM) right after it, with an empty history (median of --starts starts, default 15:
   single starts vary by several milliseconds on a shared machine).
2. An empty session: type a question, Enter, and a 2,000-token answer streams as fast as
   the socket allows; the CPU (user + system, all threads) of the whole process, from start
   to quit, and its peak memory.
3. A long session: a stored session of 2 x --turns messages (default 200, about 900 K
   characters of English, Chinese, code and tables) is opened from the session list, and the
   same question is answered in it: the whole process's CPU and peak memory again. (A start
   and quit alone is measured too, so the answer's share can be told.)
4. The control: a session of 2 messages of the same kind, opened and answered the same way.
   Its screen is like the long one's (a highlighted code block, a table, Chinese), so the
   long case's cost over it is what the history's length costs.

Cases 2-4 are run --runs times each (default 15) and their medians compared: one answer
takes 30-50 ms of CPU, and the median of 5 moved the long/empty ratio by 0.2 between runs
of the same binary.

With --instructions, the three answers and a start and quit alone are run once more each
under valgrind's callgrind and the instructions the whole process executed are counted: CPU
seconds of runs this short move by 10-20% from run to run on a shared machine, instruction
counts by well under 1%. Both are also given less a start and quit alone: the answer's own
share, the reading of the issue's "0.02 s" for the empty case.

The long session is made the way a person makes one: by `clerk ask --session last`, turn
after turn, against the same server, which reports token usage the way OpenAI does (counted
here as a quarter of the characters, one per Chinese character). Nothing leaves the machine.
"""
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tui import App, vm_hwm_mib  # noqa: E402

ANSWER_TOKENS = 2000
WORDS = [" The", " travel", " policy", " says", "报销", "流程", " **bold**", " `code`", "\n", " |", " 👍", " and"]


def approx_tokens(text):
    cjk = sum(1 for c in text if "\u4e00" <= c <= "\u9fff")
    return cjk + (len(text) - cjk) // 4 + 1


def long_text(i, kind):
    """About 4,500 characters: prose, Chinese, a code block and a table."""
    parts = [f"## {kind} {i}: travel and expense rules\n"]
    for p in range(6):
        parts.append(
            f"Paragraph {p} of {kind.lower()} {i}. Employees book economy class for flights under six hours; "
            "hotels stay within the city limit, and receipts are uploaded within thirty days of the trip. "
            "Exceptions need the approval of a budget owner before the booking is made.\n"
        )
        parts.append("差旅报销需要在出差结束后三十天内提交发票，超出标准的住宿费用需要预算负责人事先审批。\n")
    parts.append("```python\ndef allowance(days, city):\n    rate = {'Shanghai': 900, 'Berlin': 180}[city]\n"
                 "    return days * rate\n```\n")
    parts.append("| city | hotel limit | meals |\n|---|---|---|\n| 上海 | ¥900 | ¥200 |\n| Berlin | €180 | €40 |\n")
    text = "\n".join(parts)
    return (text * 3)[:4470] + f"\n\nend-of-{kind.lower()}-{i}"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    mode = "long"  # "long": one ~4,500-character answer; "answer": 2,000 tokens
    turn = 0

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        prompt = sum(approx_tokens(m.get("content", "")) + 4 for m in body.get("messages", [])) + 3
        if Handler.mode == "long":
            Handler.turn += 1
            pieces = [long_text(Handler.turn, "Answer")]
        else:
            pieces = [WORDS[i % len(WORDS)] for i in range(ANSWER_TOKENS - 1)] + [" END-OF-ANSWER"]
        out = []
        for p in pieces:
            chunk = {"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
            out.append("data: " + json.dumps(chunk, ensure_ascii=False) + "\n\n")
        done = sum(approx_tokens(p) for p in pieces) if Handler.mode == "long" else ANSWER_TOKENS
        out.append('data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n')
        out.append('data: {"choices":[],"usage":{"prompt_tokens":%d,"completion_tokens":%d}}\n\n' % (prompt, done))
        out.append("data: [DONE]\n\n")
        data = "".join(out).encode()
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        for event in data.split(b"\n\n"):
            if event:
                self.wfile.write(event + b"\n\n")
        self.wfile.flush()

    def log_message(self, *args):
        pass


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


class Run(App):
    """clerk in a pseudo-terminal; its whole CPU (all threads, microseconds) when it exits."""

    def finish(self):
        """Quit; the process's user + system CPU seconds and its peak memory (MiB)."""
        peak = vm_hwm_mib(self.pid)
        self.send(b"\x11")  # Ctrl+Q
        os.set_blocking(self.fd, False)
        while True:
            pid, _, usage = os.wait4(self.pid, os.WNOHANG)
            if pid:
                return usage.ru_utime + usage.ru_stime, peak
            try:
                os.read(self.fd, 65536)
            except (BlockingIOError, OSError):
                time.sleep(0.005)


def answer_in(app, open_keys=None, opened=None):
    """Start, (open the session,) ask, wait for the end of the answer, quit: the process's
    CPU and peak memory. Needles have no spaces: a diffing renderer writes only the cells
    that changed, so text with spaces may reach the terminal in pieces."""
    app.read_until("F1")
    app.drain(0.3)
    if open_keys:
        app.read_until("Question")  # the session list has loaded
        app.send(open_keys)
        app.read_until(opened, timeout=60)
        app.drain(0.3)
    app.send(b"stream please\r")
    app.read_until("END-OF-ANSWER", timeout=60)
    # The answer is saved and its last frame drawn within this; an idle app uses no CPU.
    app.drain(0.3)
    return app.finish()


def start_and_quit(app):
    """Start, wait for the first frame and the start's work, quit: CPU and peak memory."""
    app.read_until("F1")
    app.drain(0.3)
    return app.finish()


def instructions(clerk, env, open_keys=None, opened=None, answer=True):
    """One answer (or, with answer=False, a start and quit alone) under callgrind: the
    instructions the whole process executed (all threads)."""
    out = tempfile.mkdtemp()
    wrapper = os.path.join(out, "clerk")
    with open(wrapper, "w") as f:
        f.write(f'#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file={out}/%p.out '
                f'"{clerk}" "$@" 2>/dev/null\n')
    os.chmod(wrapper, 0o755)
    app = Run(wrapper, env, 120, 40)
    if answer:
        answer_in(app, open_keys, opened)
    else:
        start_and_quit(app)
    total = 0
    for name in os.listdir(out):
        if name.endswith(".out"):
            for line in open(os.path.join(out, name)):
                if line.startswith(("summary:", "totals:")):
                    total = max(total, int(line.split()[1]))
    shutil.rmtree(out, ignore_errors=True)
    return total


def main():
    args = sys.argv[1:]
    count_instructions = "--instructions" in args
    if count_instructions:
        args.remove("--instructions")
        if not shutil.which("valgrind"):
            sys.exit("--instructions needs valgrind (apt install valgrind)")
    counts = {"--turns": 100, "--runs": 15, "--starts": 15}
    for flag in counts:
        if flag in args:
            i = args.index(flag)
            counts[flag] = int(args[i + 1])
            del args[i:i + 2]
    turns, runs, fresh = counts["--turns"], counts["--runs"], counts["--starts"]
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
    empty = dict(env, CLERK_DATA_DIR=tempfile.mkdtemp())

    # 1. A fresh start.
    firsts, peaks = [], []
    for _ in range(fresh):
        app = App(clerk, empty, 120, 40)
        t = app.read_until("F1 help")
        firsts.append((t - app.start) * 1000)
        app.drain(0.3)
        peaks.append(vm_hwm_mib(app.pid))
        app.quit()
    q1, q3 = sorted(firsts)[len(firsts) // 4], sorted(firsts)[3 * len(firsts) // 4]
    print(f"fresh start: first frame {median(firsts):.1f} ms (median of {fresh}; quartiles {q1:.1f}-{q3:.1f}, "
          f"runs {min(firsts):.1f}-{max(firsts):.1f}), "
          f"peak memory {median(peaks):.1f} MiB")

    # The long session, made turn by turn with `clerk ask`.
    long_data = tempfile.mkdtemp()
    Handler.mode = "long"
    t0 = time.perf_counter()
    for i in range(1, turns + 1):
        q = long_text(i, "Question")
        cmd = [clerk, "ask", q] if i == 1 else [clerk, "ask", "--session", "last", q]
        r = subprocess.run(cmd, env=dict(env, CLERK_DATA_DIR=long_data), capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"clerk ask failed at turn {i}: {r.stderr}")
    chars = 2 * turns * 4500
    if os.environ.get("KEEP"):
        print(f"the long session is kept in {long_data}")
    print(f"made a session of {2 * turns} messages (~{chars // 1000} K characters) in {time.perf_counter() - t0:.1f} s")

    # The control: a session of 2 messages of the same kind (prose, Chinese, a code block, a
    # table), so its screen costs what the long one's does (highlighting a code block is
    # most of it): the difference to the long case is what the history's length costs.
    few_data = tempfile.mkdtemp()
    r = subprocess.run([clerk, "ask", long_text(turns + 1, "Question")], env=dict(env, CLERK_DATA_DIR=few_data),
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"clerk ask failed for the short session: {r.stderr}")
    few_end = f"end-of-answer-{Handler.turn}"

    Handler.mode = "answer"
    starts, shorts, longs, fews = [], [], [], []
    for _ in range(runs):
        starts.append(start_and_quit(Run(clerk, empty, 120, 40)))
        # A copy each time too: each answer saves a session, and a list that grew run by run
        # would make the empty case a little dearer each time.
        copy = tempfile.mkdtemp()
        shutil.copytree(empty["CLERK_DATA_DIR"], copy, dirs_exist_ok=True)
        shorts.append(answer_in(Run(clerk, dict(env, CLERK_DATA_DIR=copy), 120, 40)))
        shutil.rmtree(copy, ignore_errors=True)
        # Alt+Down opens the session below the (new) one at the top of the list.
        # A copy each time: the answer given here must not make the next run's session longer.
        copy = tempfile.mkdtemp()
        shutil.copytree(long_data, copy, dirs_exist_ok=True)
        longs.append(answer_in(Run(clerk, dict(env, CLERK_DATA_DIR=copy), 120, 40), b"\x1b[1;3B",
                               f"end-of-answer-{turns}"))
        shutil.rmtree(copy, ignore_errors=True)
        copy = tempfile.mkdtemp()
        shutil.copytree(few_data, copy, dirs_exist_ok=True)
        fews.append(answer_in(Run(clerk, dict(env, CLERK_DATA_DIR=copy), 120, 40), b"\x1b[1;3B", few_end))
        shutil.rmtree(copy, ignore_errors=True)
    print(f"start and quit alone: CPU {median([c for c, _ in starts]):.3f} s")
    s_cpu, s_mem = median([c for c, _ in shorts]), median([m for _, m in shorts])
    l_cpu, l_mem = median([c for c, _ in longs]), median([m for _, m in longs])
    print(f"empty session, {ANSWER_TOKENS}-token answer (whole process): CPU {s_cpu:.3f} s, "
          f"peak memory {s_mem:.1f} MiB")
    print(f"{2 * turns}-message session opened, same answer (whole process): CPU {l_cpu:.3f} s "
          f"({l_cpu / max(s_cpu, 1e-9):.2f}x), peak memory {l_mem:.1f} MiB")
    f_cpu, f_mem = median([c for c, _ in fews]), median([m for _, m in fews])
    print(f"2-message session of the same kind opened, same answer (whole process): CPU {f_cpu:.3f} s, "
          f"peak memory {f_mem:.1f} MiB; the long one costs {l_cpu / max(f_cpu, 1e-9):.2f}x this")
    alone = median([c for c, _ in starts])
    print(f"  the answers' own CPU, less a start and quit alone: empty {s_cpu - alone:.3f} s, "
          f"{2 * turns} messages {l_cpu - alone:.3f} s ({(l_cpu - alone) / max(s_cpu - alone, 1e-9):.2f}x), "
          f"2 messages {f_cpu - alone:.3f} s ({(f_cpu - alone) / max(s_cpu - alone, 1e-9):.2f}x)")
    print(f"  (runs: empty {[round(c, 3) for c, _ in shorts]}, long {[round(c, 3) for c, _ in longs]}, "
          f"2 messages {[round(c, 3) for c, _ in fews]})")
    if count_instructions:
        counted = {}
        for case, data, keys, needle in (("empty", empty["CLERK_DATA_DIR"], None, None),
                                         ("long", long_data, b"\x1b[1;3B", f"end-of-answer-{turns}"),
                                         ("few", few_data, b"\x1b[1;3B", few_end)):
            copy = tempfile.mkdtemp()
            shutil.copytree(data, copy, dirs_exist_ok=True)
            counted[case] = instructions(clerk, dict(env, CLERK_DATA_DIR=copy), keys, needle)
            shutil.rmtree(copy, ignore_errors=True)
        alone = instructions(clerk, empty, answer=False)
        e, lg, fw = counted["empty"], counted["long"], counted["few"]
        print(f"instructions (callgrind, one run each): empty {e / 1e6:.1f} M, {2 * turns} messages "
              f"{lg / 1e6:.1f} M ({lg / max(e, 1):.2f}x), 2 messages {fw / 1e6:.1f} M "
              f"(the long one {lg / max(fw, 1):.2f}x this)")
        # The answer's own share: less what a start and quit alone executes.
        e, lg, fw = (x - alone for x in (e, lg, fw))
        print(f"  less a start and quit alone ({alone / 1e6:.1f} M): empty {e / 1e6:.1f} M, {2 * turns} messages "
              f"{lg / 1e6:.1f} M ({lg / max(e, 1):.2f}x), 2 messages {fw / 1e6:.1f} M "
              f"({fw / max(e, 1):.2f}x; the long one {lg / max(fw, 1):.2f}x this)")
    server.shutdown()
    for d in (home, empty["CLERK_DATA_DIR"], few_data) + (() if os.environ.get("KEEP") else (long_data,)):
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
