"""A model zoo on loopback for `smlocal pretrained pull`: an HTTP server over a directory laid out
as the public zoos are (sources.py), with Range support, a log of what was asked, and faults a
test can switch on (cut a transfer after N bytes, ignore Range)."""
from __future__ import annotations

import hashlib
import http.server
import re
import shutil
import threading
import zipfile
from pathlib import Path

from emulator.pretrained.sources import source

BASE = "http://zoo.invalid/"  # only to compute paths relative to the zoo's root


def zoo_path(name: str) -> str:
    return source(name, zoo_url=BASE).url[len(BASE):]


def publish(root: Path, name: str, weights: Path) -> str:
    """Put `weights` where the zoo publishes `name` (inside a zip for GluonCV, as GluonCV does).
    Returns the sha1 of the weights, for a --checksums table."""
    target = root / zoo_path(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    member = source(name).member
    if member:
        with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
            archive.write(weights, member)
    else:
        shutil.copyfile(weights, target)
    return hashlib.sha1(weights.read_bytes()).hexdigest()


class LoopbackZoo:
    def __init__(self, root: Path):
        self.root = root
        self.requests: list[tuple[str, str | None]] = []   # (path, Range header)
        self.sent_bytes = 0
        self.cut_after: dict[str, int] = {}   # path -> bytes; the next transfer of it stops there
        self.ignore_range = False
        zoo = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the handler's API
                path = self.path.lstrip("/")
                zoo.requests.append((path, self.headers.get("Range")))
                file = zoo.root / path
                if not file.is_file():
                    self.send_error(404)
                    return
                data = file.read_bytes()
                start = 0
                match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if match and not zoo.ignore_range:
                    start = int(match.group(1))
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                if path in zoo.cut_after:
                    body = body[:zoo.cut_after.pop(path)]
                    self.close_connection = True
                self.wfile.write(body)
                zoo.sent_bytes += len(body)

            def log_message(self, *args):  # keep the test output clean
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> "LoopbackZoo":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
