"""Every command given bad input prints one line and exits 2, without a traceback (issue 15, step 5)."""

import pytest

from postpay.console.models import StaffAccount
from postpay.hospitals.models import Hospital
from postpay.kiosk.models import KioskDevice

BAD = [
    # (command line, a piece of the one line it prints)
    (["hospital", "add", "X" * 33, "某医院", "--mchid", "1900000199", "--his-secret", "s"], "for 'CODE'"),
    (["hospital", "add", "NT09", "某医院", "--mchid", "1" * 33, "--his-secret", "s"], "for '--mchid'"),
    (
        ["hospital", "add", "NT09", "某医院", "--mchid", "1900000199", "--his-secret", "s", "--med-inst-no", "H" * 33],
        "for '--med-inst-no'",
    ),
    (
        [
            "hospital",
            "add",
            "NT09",
            "某医院",
            "--mchid",
            "1900000199",
            "--his-secret",
            "s",
            "--medins-city-id",
            "3" * 17,
        ],
        "for '--medins-city-id'",
    ),
    (["kiosk", "add", "NOPE", "KIOSK-NOPE-01"], "未找到医院 NOPE"),
    (["kiosk", "add", "NT01", "K" * 65], "for 'DEVICE_CODE'"),
    (["his", "simulate", "--hospital", "NOPE"], "no hospital NOPE"),
    (["his", "simulate", "--hospital", "NT01", "--date", "2026-11-31"], "for '--date'"),
    (["payments", "reconcile", "--date", "yesterday"], "for '--date'"),
    (["jobs", "run-sweeps", "--now", "soon"], "for '--now'"),
    (["jobs", "run-sweeps", "--now", "2026-11-22T23:59:00"], "give an offset"),
    (["credit", "export", "--since", "yesterday"], "for '--since'"),
    (["credit", "export", "--since", "2026-11-01T00:00:00"], "give an offset"),
    (["staff", "create", "wu", "--role", "window", "--hospital", "NOPE", "--password", "chuangkou-2026"], "未找到医院"),
    (["staff", "create", "wu", "--role", "window", "--hospital", "NT01", "--password", "short"], "密码至少8位"),
    (["staff", "create", "--role", "window", "--hospital", "NT01", "--password", "x" * 8], "give the USERNAME"),
    (["staff", "create", "w" * 65, "--role", "window", "--hospital", "NT01", "--password", "x" * 8], "for 'USERNAME'"),
    (["staff", "set-password", "nobody", "--password", "chuangkou-2026"], "未找到账号 nobody"),
    (["staff", "set-password", "nobody", "--password", "short"], "密码至少8位"),
    (["staff", "deactivate", "nobody"], "未找到账号 nobody"),
]


@pytest.fixture
def app(module_app):
    """One app for the module: each case is a refused command that writes nothing (checked)."""
    return module_app


@pytest.mark.parametrize(("args", "says"), BAD, ids=[" ".join(a[:2]) + " " + s for a, s in BAD])
def test_bad_input_prints_one_line_and_exits_2(app, runner, hospitals, args, says):
    out = runner.invoke(args=args)
    assert out.exit_code == 2, out.output
    lines = out.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), out.output
    assert says in out.output and "Traceback" not in out.output
    assert isinstance(out.exception, SystemExit)  # click's exit, not an exception escaping the command
    with app.app_context():  # and nothing was written
        assert Hospital.query.count() == 2
        assert KioskDevice.query.count() == StaffAccount.query.count() == 0
