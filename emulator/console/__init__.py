"""The web console: SageMaker's training, inference and tuning pages, served by `smlocal api`
under /console from the same process, the same job store and the same operation handlers.

    register_console(app, ConsoleBackend(...))

Server-rendered pages (Jinja templates) that read without JavaScript; small scripts in static/
add live updates, the as-you-type checks, the metric charts (uPlot, shipped in static/vendor)
and the drawings over a test image. Nothing loads from another site (the Content-Security-Policy
says so). The request validator checks each console request's Host (and, for writes, its Origin);
every write also needs the session's CSRF token (emulator.console.csrf), and when the API checks
signatures the console asks for the same credentials first (emulator.console.signin).
"""
from __future__ import annotations

from botocore.credentials import ReadOnlyCredentials
from flask import Blueprint, Flask, g, redirect, request, url_for

from emulator.api.request_validator import CONSOLE_PREFIX, SAFE_METHODS
from emulator.console import formatting, hosting, signin, training, tuning
from emulator.console.backend import ConsoleBackend
from emulator.console.csrf import CsrfGuard
from emulator.console.signin import SignIn

__all__ = ["ConsoleBackend", "register_console"]

# Scripts, styles and images from this server only; no framing (clickjacking); forms post here only.
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
                           "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def create_console(backend: ConsoleBackend, credentials: ReadOnlyCredentials | None = None,
                   guard: CsrfGuard | None = None) -> Blueprint:
    """`credentials`: those the API checks signatures with; the console then asks for them (emulator.console.signin)."""
    guard = guard or CsrfGuard()
    sign_in = SignIn(credentials)
    console = Blueprint("console", __name__, url_prefix=CONSOLE_PREFIX, template_folder="templates",
                        static_folder="static", static_url_path="/static")
    for part in (training, hosting, tuning):
        console.register_blueprint(part.create_blueprint(backend))
    console.register_blueprint(signin.create_blueprint(sign_in))

    @console.before_request
    def session():
        guard.begin(request)
        if request.method not in SAFE_METHODS:
            guard.check(request)
        return sign_in.gate()

    @console.after_request
    def headers(response):
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if request.endpoint != "console.static":
            response.headers["Cache-Control"] = "no-store"
        return guard.finish(response)

    @console.app_context_processor
    def page_globals() -> dict:
        return {"csrf_token": g.get("csrf_token", ""), "can_sign_out": sign_in.required,
                "has_hosting": backend.serves("ListEndpoints"),
                "has_tuning": backend.serves("ListHyperParameterTuningJobs")}

    @console.get("/")
    def home():
        return redirect(url_for("console.training.training_jobs"))

    for name, function in formatting.FILTERS.items():
        console.add_app_template_filter(function, name)
    console.add_app_template_global(formatting.duration, "duration")
    return console


def register_console(app: Flask, backend: ConsoleBackend, credentials: ReadOnlyCredentials | None = None) -> None:
    app.register_blueprint(create_console(backend, credentials))
