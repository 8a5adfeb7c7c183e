"""How console pages are declared: documented in ``/openapi.json`` (answers are HTML),
one commit per request, CSRF on every form, and a rule's refusal shown to the staff
member on the page rather than as JSON."""

import functools
import logging
import os

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError

from postpay.api import HTML, SPEC, committed
from postpay.clock import SHANGHAI
from postpay.console.auth import csrf, current_staff
from postpay.console.dashboard import yuan
from postpay.errors import DomainError

log = logging.getLogger(__name__)
bp = Blueprint("console", __name__, url_prefix="/console")


@bp.record_once
def _init(state):
    csrf.init_app(state.app)
    state.app.jinja_env.filters.setdefault("yuan", _yuan)
    state.app.jinja_env.filters.setdefault("local", _local)


def _local(moment, fmt="%Y-%m-%d %H:%M"):
    return moment.astimezone(SHANGHAI).strftime(fmt) if moment else ""


def _yuan(fen):
    return yuan(int(fen or 0))


@bp.before_request
def _protect():
    """Without a session every page but the login form and its script goes to the login form;
    every form (the login form too) carries the CSRF token."""
    public = request.endpoint in ("console.login", "console.signature_js")
    if not public and current_staff() is None:
        return redirect(url_for("console.login", next=request.path if request.method == "GET" else None))
    if request.method == "POST":
        csrf.protect()


@bp.after_request
def _headers(resp):
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Cache-Control", "no-store")
    resp.headers.setdefault(
        "Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'"
    )
    return resp


@bp.errorhandler(CSRFError)
def _csrf_failed(e):
    return render_template("console/error.html", message="页面已过期，请刷新后重试"), 400


def back_url(default="console.home", **kwargs):
    """Where a form returns to: its ``back`` field when it is a console path, else ``default``."""
    back = request.form.get("back", "")
    if back.startswith("/console/") and "//" not in back and "\\" not in back:
        return back
    return url_for(default, **kwargs)


def page(rule, methods, summary, query=None, auth="console"):
    """Declare a console page or form. Answers: 200 (a page) or 302 (after a form, or to log in)."""

    def deco(fn):
        SPEC["console." + fn.__name__] = {
            "summary": summary,
            "tags": ["console"],
            "request": None,
            "responses": {200: HTML, 302: HTML},
            "query": query or {},
            "auth": auth,
        }

        @functools.wraps(fn)
        def view(*args, **kwargs):
            try:
                return committed(fn, *args, **kwargs)
            except DomainError as e:  # rolled back: the page says why
                if request.method == "POST":
                    flash(e.message, "error")
                    return redirect(back_url())
                return render_template("console/error.html", message=e.message), e.status

        bp.add_url_rule(rule, fn.__name__, view, methods=methods)
        return view

    return deco


SPEC["console.signature_js"] = {
    "summary": "The signing pad's script (served from the repo: no CDN)",
    "tags": ["console"],
    "request": None,
    "responses": {200: "text/javascript"},
    "query": {},
    "auth": None,
}


@bp.get("/assets/signature.js")
def signature_js():
    path = os.path.join(current_app.root_path, "templates", "console", "signature.js")
    with open(path, encoding="utf-8") as f:
        return Response(f.read(), mimetype="text/javascript", headers={"Cache-Control": "max-age=3600"})
