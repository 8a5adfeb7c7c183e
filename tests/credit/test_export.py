"""`flask credit export --since` (R18, issue 19): records as JSON lines for the city's credit
platform, each once, a repair once as a later correction; no identity number in clear."""

import json
import threading

import pytest

from postpay.credit.export import export
from postpay.credit.models import CreditExport
from postpay.extensions import db
from tests.credit.arrears import arrears_fixture  # noqa: F401  (the arrears fixture)

SINCE = "2026-11-01T00:00:00+08:00"


def lines(runner, *args):
    out = runner.invoke(args=["credit", "export", "--since", SINCE, *args])
    assert out.exit_code == 0, out.output
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_each_record_goes_out_once_and_a_repair_as_a_correction_R18(app, runner, arrears):
    assert lines(runner) == []
    arrears["suspend"]("2026-12-21T10:00:00+08:00")
    (record,) = lines(runner)
    assert record["type"] == "record" and record["kind"] == "malicious_arrears"
    assert record["amount_fen"] == 30000 and record["recorded_at"].startswith("2026-12-21T10:00:00")
    assert record["bills"] == [
        {"id": arrears["bills"][0], "visit_day": "2026-11-20", "amount_fen": 30000, "hospital_code": "NT01"}
    ]
    plain = arrears["patient"]["id_number_plain"]
    assert record["person"]["name"] == "孙*英" and record["person"]["id_number"] == plain[:6] + "********" + plain[-4:]
    assert len(record["person"]["id_digest"]) == 64 and plain not in json.dumps(record)
    assert lines(runner) == []  # already out
    arrears["suspend"]("2026-12-23T10:00:00+08:00")
    arrears["repair"]()
    second, first_fixed, second_fixed = lines(runner)
    assert second["type"] == "record" and second["record_id"] != record["record_id"]
    assert second["person"]["id_digest"] == record["person"]["id_digest"]  # the same person, matched by digest
    assert {first_fixed["record_id"], second_fixed["record_id"]} == {record["record_id"], second["record_id"]}
    assert first_fixed["type"] == second_fixed["type"] == "correction" and first_fixed["correction"] == "repaired"
    assert first_fixed["repaired_at"] and second_fixed["repaired_at"]
    assert lines(runner) == []


def test_a_record_made_and_repaired_before_the_first_export_goes_out_then_its_correction(runner, arrears, tmp_path):
    arrears["suspend"]("2026-12-21T10:00:00+08:00")
    arrears["repair"]()
    out = tmp_path / "credit.jsonl"
    assert runner.invoke(args=["credit", "export", "--since", SINCE, "--out", str(out)]).exit_code == 0
    record, fixed = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert (record["type"], fixed["type"]) == ("record", "correction") and record["record_id"] == fixed["record_id"]
    later = runner.invoke(args=["credit", "export", "--since", "2027-01-01T00:00:00+08:00"])
    assert later.exit_code == 0 and later.stdout == ""


def test_the_digest_is_the_hmac_under_the_key_agreed_with_the_platform(app, runner, arrears):
    import hashlib
    import hmac

    app.config["POSTPAY_CREDIT_EXPORT_KEY"] = "agreed-with-the-city-platform-2026"
    arrears["suspend"]("2026-12-21T10:00:00+08:00")
    (record,) = lines(runner)
    plain = arrears["patient"]["id_number_plain"].encode()
    assert (
        record["person"]["id_digest"]
        == hmac.new(b"agreed-with-the-city-platform-2026", plain, hashlib.sha256).hexdigest()
    )


def test_two_exports_at_once_send_each_line_once(app, arrears):
    import datetime as dt
    import io

    arrears["suspend"]("2026-12-21T10:00:00+08:00")
    arrears["suspend"]("2026-12-23T10:00:00+08:00")
    arrears["repair"]()
    since = dt.datetime.fromisoformat(SINCE)
    outs = [io.StringIO() for _ in range(4)]
    start = threading.Barrier(len(outs))

    def go(out):
        with app.app_context():
            start.wait()
            export(since, dt.datetime.now(dt.timezone.utc), out)

    threads = [threading.Thread(target=go, args=(o,)) for o in outs]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    sent = [json.loads(line) for o in outs for line in o.getvalue().splitlines()]
    assert sorted((s["type"], s["record_id"]) for s in sent) == sorted(
        [(kind, r) for r in {s["record_id"] for s in sent} for kind in ("record", "correction")]
    )
    assert len(sent) == 4
    with app.app_context():
        assert db.session.query(CreditExport).count() == 4


def test_a_failed_write_leaves_the_lines_for_the_next_export(app, arrears):
    import datetime as dt

    class Broken:
        def write(self, text):
            raise OSError("disk full")

        def flush(self):
            pass

    arrears["suspend"]("2026-12-21T10:00:00+08:00")
    with app.app_context():
        with pytest.raises(OSError):
            export(dt.datetime.fromisoformat(SINCE), dt.datetime.now(dt.timezone.utc), Broken())
        assert db.session.query(CreditExport).count() == 0


@pytest.mark.parametrize("since", ["yesterday", "2026-13-01T00:00:00+08:00", "2026-11-01T00:00:00", ""])
def test_a_bad_since_is_one_line_and_exit_2(runner, since, tmp_path):
    out = runner.invoke(args=["credit", "export", "--since", since, "--out", str(tmp_path / "x.jsonl")])
    assert out.exit_code == 2 and len(out.output.splitlines()) == 1 and out.output.startswith("Error: ")
    assert not (tmp_path / "x.jsonl").exists()  # nothing written, not even an empty file
