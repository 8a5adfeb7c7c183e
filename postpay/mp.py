"""``/mp/``: a small page walking the official account's flow in a browser, with the sandbox on
only (development): sign in through the web authorization (``/oauth/wechat/start``), see the
outstanding bills, pay them with ``WeixinJSBridge``'s ``getBrandWCPayRequest`` (the sandbox's
stand-in outside WeChat). The token comes in the URL fragment, is kept in ``sessionStorage`` and
the fragment is cleared at once. No inline script: the page's script is ``/mp/mp.js``."""

from flask import Blueprint, current_app, render_template

from postpay.api import HTML, route
from postpay.errors import NotFound

bp = Blueprint("mp", __name__, url_prefix="/mp")
JS = "text/javascript"


@bp.after_request
def _headers(resp):
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "no-referrer")
    resp.headers.setdefault(
        "Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'"
    )
    return resp


def _sandbox_only():
    if not current_app.config["POSTPAY_SANDBOX"]:
        raise NotFound()


@route(bp, "/", ["GET"], "Official-account page (sandbox): sign in, bills, pay", auth=None, answers={200: HTML})
def page():
    _sandbox_only()
    return render_template("mp/index.html")


@route(bp, "/mp.js", ["GET"], "The official account page's script (sandbox only)", auth=None, answers={200: JS})
def script():
    _sandbox_only()
    return current_app.response_class(render_template("mp/mp.js"), mimetype=JS)
