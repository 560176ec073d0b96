"""A stand-in for `python -m container serve`, for the emulator's hosting tests (SMLOCAL_SERVE_COMMAND).

It reads only what SageMaker gives a serving container: SAGEMAKER_BIND_TO_PORT (and
SMLOCAL_SERVE_HOST), the model folder <SAGEMAKER_BASE_DIR>/model and the batch variables.
`model/behaviour.json` says what it does:
  answer        what every prediction carries (tells deployments apart)
  load_seconds  /ping answers 503 this long after the start
  fail_load     print this as a load error and exit with code 3 (as a worker that cannot load does)
  exit_after    exit with code 9 after this many invocations
  mode          "echo" (default): a JSON description of the request; "upper": the body upper-cased
A body starting with b"status:NNN " is answered with that status and the rest as the message.
A request with CustomAttributes gets them back, reversed, in the response's header.
"""
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

base = Path(os.environ["SAGEMAKER_BASE_DIR"])
model = base / "model"
behaviour_file = model / "behaviour.json"
behaviour = json.loads(behaviour_file.read_text()) if behaviour_file.exists() else {}
started = time.monotonic()
calls = {"count": 0}
print(f"fake serve: model files {sorted(p.name for p in model.iterdir()) if model.is_dir() else []}", flush=True)
if behaviour.get("fail_load"):
    print(f"Customer Error: cannot load the model in {model}: {behaviour['fail_load']}", flush=True)
    sys.exit(3)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # noqa: ARG002 - quiet: the tests read the log
        pass

    def _send(self, status, body, content_type="application/json", headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/ping":
            ready = time.monotonic() - started >= float(behaviour.get("load_seconds", 0))
            self._send(200 if ready else 503, b"{}")
        elif self.path == "/execution-parameters":
            self._send(200, json.dumps({"MaxConcurrentTransforms": 2, "BatchStrategy": "MULTI_RECORD",
                                        "MaxPayloadInMB": 1}).encode())
        else:
            self._send(404, b"no such path", "text/plain")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        calls["count"] += 1
        if body.startswith(b"status:"):
            status, _, message = body[len(b"status:"):].partition(b" ")
            print(f"POST /invocations: {int(status)} {message.decode()}", flush=True)
            self._send(int(status), message, "text/plain")
        else:
            headers = {}
            attributes = self.headers.get("X-Amzn-SageMaker-Custom-Attributes")
            if attributes is not None:
                headers["X-Amzn-SageMaker-Custom-Attributes"] = attributes[::-1]
            if behaviour.get("mode") == "upper":
                if b"FAIL" in body:
                    self._send(400, b"cannot transform a record holding FAIL", "text/plain")
                else:
                    self._send(200, body.upper(), "text/plain", headers)
            else:
                described = {"answer": behaviour.get("answer"), "bytes": len(body), "pid": os.getpid(),
                             "content_type": self.headers.get("Content-Type"), "accept": self.headers.get("Accept"),
                             "batch": os.environ.get("SAGEMAKER_BATCH"),
                             "workers": os.environ.get("SAGEMAKER_MODEL_SERVER_WORKERS")}
                self._send(200, json.dumps(described).encode(), "application/json", headers)
        if behaviour.get("exit_after") and calls["count"] >= behaviour["exit_after"]:
            print("fake serve: exiting after the last invocation it was told to answer", flush=True)
            os._exit(9)


server = ThreadingHTTPServer((os.environ.get("SMLOCAL_SERVE_HOST", "0.0.0.0"),
                              int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))), Handler)
server.daemon_threads = True
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
print(f"fake serve: listening on port {server.server_address[1]}", flush=True)
server.serve_forever()
print("fake serve: stopped", flush=True)
