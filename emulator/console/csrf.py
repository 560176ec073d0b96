"""The console's CSRF token: one per browser session, required on every write.

The request validator already refuses writes whose Origin or Sec-Fetch-Site say another site
sent them; the token is the second lock, for browsers or proxies that send neither. The session
is a random id in a cookie (HttpOnly, SameSite=Strict, path /console), the token an HMAC of it
with a key this server process draws when it starts, so a page of another site can neither read
nor guess it; a restarted server asks the user to reload the form.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import Request, Response, g

from emulator.api.errors import ApiError

COOKIE = "smlocal_console_session"
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
COOKIE_PATH = "/console"


class CsrfGuard:
    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def token_for(self, session: str) -> str:
        return hmac.new(self._key, session.encode(), hashlib.sha256).hexdigest()

    def begin(self, request: Request) -> None:
        """Called before every console request: the session (a new one when the cookie is missing)."""
        session = request.cookies.get(COOKIE, "")
        g.console_new_session = len(session) != 64 or not all(c in "0123456789abcdef" for c in session)
        g.console_session = secrets.token_hex(32) if g.console_new_session else session
        g.csrf_token = self.token_for(g.console_session)

    def finish(self, response: Response) -> Response:
        if g.get("console_new_session"):
            response.set_cookie(COOKIE, g.console_session, httponly=True, samesite="Strict", path=COOKIE_PATH)
        return response

    def check(self, request: Request) -> None:
        """Refuse (403) a write without the token of the session its cookie names."""
        sent = request.headers.get(HEADER) or request.form.get(FIELD, "")
        if g.get("console_new_session") or not hmac.compare_digest(sent, g.csrf_token):
            raise ApiError("AccessDeniedException", "The console's form token is missing or out of date (the "
                                                    "server restarted, or the request came from another site): "
                                                    "reload the page and try again.", 403)
