"""The dashboard (grouped queries, SVG) and the credit desk (R17, R18)."""

import datetime as dt

from postpay.accounts.models import Patient
from postpay.billing.models import Bill, BillStatus
from postpay.clock import SHANGHAI
from postpay.contracts.models import Contract
from postpay.credit.models import CreditRecord
from postpay.extensions import db
from postpay.hospitals.models import Hospital
from postpay.payments.models import LedgerEntry
from postpay.security import blind_index
from tests.conftest import count_statements, make_id_number

NOW = dt.datetime.now(dt.timezone.utc)


def _patients(n):
    rows = []
    for i in range(n):
        number = make_id_number(birth="19700101", seq=i % 1000)[:-4] + "%04d" % i
        rows.append(
            {
                "id": "pt_bulk%05d" % i,
                "name": "患者%d" % i,
                "id_number": number,
                "id_number_index": blind_index(number, "id_number"),
                "birth_date": dt.date(1970, 1, 1),
                "sex": "M",
                "created_at": NOW,
                "updated_at": NOW,
            }
        )
    db.session.execute(db.insert(Patient), rows)
    return [r["id"] for r in rows]


def test_day_one_4641_signings_show_on_the_dashboard_from_grouped_queries(app, staff):
    """Seed 000: 4,641 people signed at the first hospital on day one."""
    with app.app_context():
        ids = _patients(4641)
        morning = dt.datetime.combine(NOW.astimezone(SHANGHAI).date(), dt.time(0, 30), SHANGHAI)
        db.session.execute(
            db.insert(Contract),
            [
                {
                    "id": "ct_bulk%05d" % i,
                    "patient_id": pid,
                    "status": "active",
                    "channel": "window",
                    "commitment_version": "2026.1",
                    "commitment_sha256": "0" * 64,
                    "phone": "13800000000",
                    "signature_png": b"png",
                    "signed_at": morning + dt.timedelta(seconds=i),
                }
                for i, pid in enumerate(ids)
            ],
        )
        db.session.commit()
    boss = staff("boss", role="supervisor")
    page = boss.get("/console/dashboard").text
    assert '<div class="value" id="fig-signings">4,641</div>' in page
    assert "<svg" in page and ">4,641</text>" in page and "cdn" not in page.lower()
    assert count_statements(app, lambda: boss.get("/console/dashboard")) < 20


def test_bill_aging_and_payment_mix(app, staff, person):
    _, patient = person("o-dash-1")
    with app.app_context():
        nt = Hospital.query.filter_by(code="NT01").one()
        ha = Hospital.query.filter_by(code="HA01").one()
        specs = [
            ("open", None, 1000, nt),
            ("due", 5, 2000, nt),
            ("due", -3, 3000, nt),
            ("due", -10, 4000, nt),
            ("due", -40, 5000, nt),
            ("due", -40, 9900, ha),
            ("paid", -1, 6000, nt),
        ]
        for i, (status, days, fen, hospital) in enumerate(specs):
            bill = Bill(
                patient_id=patient["id"],
                hospital_id=hospital.id,
                visit_day=dt.date(2026, 1, 1 + i),
                status=BillStatus(status),
                total_fen=fen,
                due_at=None if days is None else NOW + dt.timedelta(days=days),
            )
            db.session.add(bill)
            db.session.flush()
            if status == "paid":
                for channel, ref in (("wechat", "tx1"), ("micropay", "tx2"), ("window_cash", "W1")):
                    db.session.add(
                        LedgerEntry(bill_id=bill.id, kind="paid", channel=channel, amount_fen=2000, reference=ref)
                    )
        db.session.commit()
    page = staff("boss2", role="supervisor").get("/console/dashboard").text
    for caption in (
        "未结(就诊中)",
        "1 笔 ¥10.00",
        "未到期",
        "1 笔 ¥20.00",
        "逾期0-7天",
        "1 笔 ¥30.00",
        "逾期7-30天",
        "1 笔 ¥40.00",
        "逾期30天以上",
        "1 笔 ¥50.00",
        "付款码/刷脸",
        "窗口现金",
    ):
        assert caption in page, caption
    assert "¥99.00" not in page  # the other hospital's bill
    assert '<div class="value" id="fig-overdue">3</div>' in page
    everywhere = staff("admin", role="admin", hospital="HA01").get("/console/dashboard").text
    assert "2 笔 ¥149.00" in everywhere


def test_r17_r18_the_credit_desk_lists_overdue_and_suspended_patients(app, staff, person):
    _, late = person("o-credit-1", name="欠费甲")
    _, suspended = person("o-credit-2", name="暂停乙")
    with app.app_context():
        nt = Hospital.query.filter_by(code="NT01").one()
        db.session.add(
            Bill(
                patient_id=late["id"],
                hospital_id=nt.id,
                visit_day=dt.date(2026, 11, 1),
                status=BillStatus.due,
                total_fen=12345,
                due_at=NOW - dt.timedelta(days=12, hours=1),
            )
        )
        db.session.add(
            Bill(
                patient_id=suspended["id"],
                hospital_id=nt.id,
                visit_day=dt.date(2026, 9, 1),
                status=BillStatus.paid,
                total_fen=100,
                due_at=NOW - dt.timedelta(days=80),
            )
        )
        db.session.add(CreditRecord(patient_id=suspended["id"], bill_ids=["x"], created_at=NOW - dt.timedelta(days=40)))
        db.session.commit()
    page = staff("credit").get("/console/credit").text
    assert "欠费甲" in page and "123.45" in page and "12 天" in page
    assert "暂停乙" in page and "已暂停" in page
    assert page.index("暂停乙") < page.index("欠费甲")  # the suspended first
    other = staff("credit-ha", hospital="HA01").get("/console/credit").text
    assert "欠费甲" not in other and "暂停乙" not in other
