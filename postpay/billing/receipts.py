"""A paid bill's fiscal e-receipt (医疗收费电子票据), as the HIS issues it (issue 18).

The receipt's amount must be what the hospital keeps for the bill: money paid, through every channel,
less refunds owed or made (failed ones excluded), i.e. the ledger's balance. A receipt is issued
once; the same receipt posted again changes nothing.
"""

from postpay import pushes, queue
from postpay.api import INT, STR, iso, loose
from postpay.billing.models import Bill, BillReceipt, BillStatus
from postpay.errors import Conflict, NotFound
from postpay.extensions import db
from postpay.payments import ledger

RECEIPT_MESSAGE_JOB = "postpay.visits.messages.send_receipt_messages"
#: A receipt in answers (OpenAPI).
RECEIPT = loose(receipt_no=STR, url=STR, issued_at=STR, amount_fen=INT)


def record(hospital, bill_id, receipt_no, url, issued_at, amount_fen):
    """Keep the receipt of the hospital's bill; a new one queues the messages to the patient and the
    payer. Returns the receipt.

    Raises NotFound (not this hospital's bill), Conflict (BILL_NOT_PAID, RECEIPT_AMOUNT_MISMATCH,
    RECEIPT_EXISTS).
    """
    bill = db.session.execute(
        db.select(Bill).where(Bill.id == bill_id, Bill.hospital_id == hospital.id).with_for_update()
    ).scalar_one_or_none()
    if bill is None:
        raise NotFound("账单不存在")
    given = (receipt_no, url, issued_at, amount_fen)
    found = db.session.get(BillReceipt, bill.id)
    if found is not None:
        if (found.receipt_no, found.url, found.issued_at, found.amount_fen) == given:
            return found
        raise Conflict("该账单已开具电子票据 %s" % found.receipt_no, code="RECEIPT_EXISTS")
    if bill.status != BillStatus.paid:
        raise Conflict("账单尚未支付，不能开具电子票据", code="BILL_NOT_PAID")
    kept = ledger.balance(bill.id)
    if amount_fen != kept:
        raise Conflict(
            "票据金额与实收金额不符",
            code="RECEIPT_AMOUNT_MISMATCH",
            details={"paid_fen": kept, "amount_fen": amount_fen},
        )
    receipt = BillReceipt(bill_id=bill.id, receipt_no=receipt_no, url=url, issued_at=issued_at, amount_fen=amount_fen)
    db.session.add(receipt)
    db.session.flush()
    pushes.after_commit(queue.enqueue, RECEIPT_MESSAGE_JOB, bill.id)
    return receipt


def receipt_json(receipt):
    if receipt is None:
        return None
    return {
        "receipt_no": receipt.receipt_no,
        "url": receipt.url,
        "issued_at": iso(receipt.issued_at),
        "amount_fen": receipt.amount_fen,
    }


def of_bill(bill_id):
    """The bill's receipt as the patient, the payer and relatives who may view it read it, or None."""
    return receipt_json(db.session.get(BillReceipt, bill_id))
