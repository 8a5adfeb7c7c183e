"""The commitment letter (诊后付承诺书): versioned templates in ``templates/commitment/``.
A contract records the exact version and the SHA-256 of the text as rendered."""

import hashlib
import os
import re

from flask import current_app, render_template

_VERSION = re.compile(r"^\d{4}\.\d+$")


def versions():
    """Every letter version, oldest first (``2025.1`` < ``2026.1`` < ``2026.2``)."""
    folder = os.path.join(current_app.root_path, "templates", "commitment")
    found = [f[:-5] for f in os.listdir(folder) if f.endswith(".html") and _VERSION.match(f[:-5])]
    return sorted(found, key=lambda v: tuple(int(p) for p in v.split(".")))


def current_version():
    return current_app.config["POSTPAY_COMMITMENT_VERSION"] or versions()[-1]


def render(version):
    """The letter's HTML. Raises KeyError for an unknown version."""
    if version not in versions():
        raise KeyError(version)
    return render_template("commitment/%s.html" % version, version=version)


def digest(version):
    return hashlib.sha256(render(version).encode()).hexdigest()
