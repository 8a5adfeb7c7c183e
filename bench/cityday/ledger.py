"""P6's ledger check after the run (issue 21), straight from the database.

- Every bill: paid - refunded = what it should hold. A bill's total is the sum of its deferred,
  unvoided items (``billing.service.recompute_total``): a void before paying lowers what is paid,
  a void after paying (R12) is refunded, and the total drops by the same amount. A paid bill
  holds its total; an unpaid one (open, due) or a closed one holds nothing. A refund still in
  flight (asked of WeChat, not yet booked) is counted apart, not as an imbalance.
- No notification lost: every payment whose notification the service answered 2xx (the
  locustfile lists them) is paid, and every bill of a paid payment is paid. (A payment whose
  order failed or whose notification was refused is an error of the run, not of the ledger.)
- No reminder sent twice: at most one reminder per bill, due time, stage and recipient (R17),
  and the SMS gateway (the sandbox's outbox) got no more messages than reminders were sent.
"""

from postpay.extensions import db

BILLS = """
WITH l AS (
  SELECT bill_id,
         sum(CASE WHEN kind = 'paid' THEN amount_fen ELSE 0 END) AS paid,
         sum(CASE WHEN kind = 'refund' THEN -amount_fen ELSE 0 END) AS refunded
  FROM ledger_entries GROUP BY bill_id),
r AS (SELECT bill_id, sum(amount_fen) AS pending FROM (
        SELECT bill_id, amount_fen FROM refunds WHERE status NOT IN ('succeeded', 'failed')
        UNION ALL SELECT bill_id, amount_fen FROM insurance_refunds WHERE status = 'requested') x
      GROUP BY bill_id)
SELECT b.id, b.status, b.total_fen, coalesce(l.paid, 0), coalesce(l.refunded, 0), coalesce(r.pending, 0)
FROM bills b LEFT JOIN l ON l.bill_id = b.id LEFT JOIN r ON r.bill_id = b.id
"""


def settle_refunds(app):
    """WeChat settles the refunds it accepted (the sandbox sends each refund notification)."""
    client = app.test_client()
    with app.app_context():
        numbers = db.session.execute(db.text("SELECT out_refund_no FROM refunds WHERE status = 'processing'")).scalars()
        numbers = list(numbers)
    return sum(
        bool(client.post("/sandbox/wechatpay/refunds/%s/complete" % n, json={}).get_json().get("delivered"))
        for n in numbers
    )


def check(app, notified=(), client=None):
    """A dict of counts; ``balanced`` is the verdict."""
    with app.app_context():
        rows = db.session.execute(db.text(BILLS)).all()
        off, in_flight, refunded_bills, paid_bills = [], 0, 0, 0
        for bill_id, status, total, paid, refunded, pending in rows:
            should = total if status == "paid" else 0
            paid_bills += status == "paid"
            refunded_bills += refunded > 0
            if paid - refunded != should:
                if pending and paid - refunded - pending == should:
                    in_flight += 1
                else:
                    off.append((bill_id, status, total, paid, refunded))
        unpaid_payments = 0
        numbers = list(notified)
        for k in range(0, len(numbers), 1000):
            unpaid_payments += db.session.execute(
                db.text("SELECT count(*) FROM payments WHERE status <> 'paid' AND out_trade_no IN :nos").bindparams(
                    db.bindparam("nos", expanding=True)
                ),
                {"nos": numbers[k : k + 1000]},
            ).scalar_one()
        unpaid_bills_of_paid = db.session.execute(
            db.text(
                "SELECT count(*) FROM payment_bills pb JOIN payments p ON p.id = pb.payment_id "
                "JOIN bills b ON b.id = pb.bill_id WHERE p.status = 'paid' AND pb.live AND b.status <> 'paid'"
            )
        ).scalar_one()
        twice = db.session.execute(
            db.text(
                "SELECT count(*) FROM (SELECT 1 FROM reminders GROUP BY bill_id, due_at, stage, recipient "
                "HAVING count(*) > 1) t"
            )
        ).scalar_one()
        sent = db.session.execute(db.text("SELECT count(*) FROM reminders WHERE sent")).scalar_one()
        sms_phones = db.session.execute(
            db.text("SELECT count(*) FROM reminders WHERE sent AND recipient LIKE 'sms:%'")
        ).scalar_one()
        outbox = 0
        if client is not None:
            keys = app.extensions["redis"].keys("sbx:sms:*")
            outbox = sum(app.extensions["redis"].llen(k) for k in keys)
    return {
        "bills": len(rows),
        "paid_bills": paid_bills,
        "bills_with_refunds": refunded_bills,
        "refunds_in_flight": in_flight,
        "imbalanced": len(off),
        "imbalanced_sample": off[:5],
        "payments_notified": len(numbers),
        "payments_not_applied": unpaid_payments,
        "bills_of_paid_payments_unpaid": unpaid_bills_of_paid,
        "reminders_sent": sent,
        "sms_reminders_sent": sms_phones,
        "sms_in_outbox": outbox,
        "reminders_twice": twice,
        "balanced": not off
        and unpaid_payments == 0
        and unpaid_bills_of_paid == 0
        and twice == 0
        and (client is None or outbox <= sms_phones),
    }
