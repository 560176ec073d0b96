"""Sign-in, when the server has credentials: the console then asks for them once per session.

With credentials configured, every API request must be signed with them (emulator.api.sigv4), so
the console must not be a way around that: its pages and forms answer only sessions whose user
typed the access key ID and the secret access key the server checks signatures with. Without
credentials the API checks no signatures and the console asks for nothing either. Signed-in
sessions live in this server process's memory (a restarted server asks again).
"""
from __future__ import annotations

import hmac
import threading
from urllib.parse import urlsplit

from botocore.credentials import ReadOnlyCredentials
from flask import Blueprint, g, redirect, render_template, request, url_for

from emulator.api.request_validator import CONSOLE_PREFIX

SIGN_IN_ENDPOINTS = ("console.signin.sign_in", "console.signin.check_sign_in", "console.static")


class SignIn:
    def __init__(self, credentials: ReadOnlyCredentials | None) -> None:
        self.credentials = credentials
        self._sessions: set[str] = set()
        self._lock = threading.Lock()

    @property
    def required(self) -> bool:
        return self.credentials is not None

    def signed_in(self, session: str) -> bool:
        with self._lock:
            return not self.required or session in self._sessions

    def gate(self):
        """Before every console request: a page of a session that has not signed in goes to the sign-in page."""
        if self.signed_in(g.console_session) or request.endpoint in SIGN_IN_ENDPOINTS:
            return None
        return redirect(url_for("console.signin.sign_in", next=request.full_path.rstrip("?")), 303)

    def accept(self, session: str, access_key: str, secret_key: str) -> bool:
        good = (hmac.compare_digest(access_key.encode(), self.credentials.access_key.encode())
                & hmac.compare_digest(secret_key.encode(), self.credentials.secret_key.encode()))
        if good:
            with self._lock:
                self._sessions.add(session)
        return good

    def leave(self, session: str) -> None:
        with self._lock:
            self._sessions.discard(session)


def _local(target: str) -> str:
    """Where to go after signing in: a console path of this server only (never another site)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(CONSOLE_PREFIX + "/"):
        return CONSOLE_PREFIX + "/"
    return target


def create_blueprint(gate: SignIn) -> Blueprint:
    bp = Blueprint("signin", __name__)

    @bp.get("/sign-in")
    def sign_in():
        return render_template("sign_in.html", next=_local(request.args.get("next", "")), error=None,
                               required=gate.required)

    @bp.post("/sign-in")
    def check_sign_in():
        target = _local(request.form.get("next", ""))
        if not gate.required:
            return redirect(target, 303)
        if gate.accept(g.console_session, request.form.get("access_key", ""), request.form.get("secret_key", "")):
            return redirect(target, 303)
        return render_template("sign_in.html", next=target, required=True,
                               error="The access key ID or the secret access key is not the one this server "
                                     "checks signatures with."), 403

    @bp.post("/sign-out")
    def sign_out():
        gate.leave(g.console_session)
        return redirect(url_for("console.signin.sign_in"), 303)

    return bp
