"""The feed to the city's credit platform (R18, issue 19): malicious-arrears records as JSON
lines, each record once, and its repair once, as a later correction line naming the same
record id. A line is claimed (``CreditExport``, unique per record and line) in the same
transaction that writes it out, so two exports at once never send a line twice.

The person is named by masked name and identity number and by an HMAC of the identity number
under the key agreed with the platform (``POSTPAY_CREDIT_EXPORT_KEY``): the platform, which holds
the register, matches by computing the same digest; the number itself never leaves in clear."""

import hashlib
import hmac

import orjson
from flask import current_app
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from postpay.accounts.models import Patient
from postpay.api import iso
from postpay.credit.models import CreditExport, CreditRecord
from postpay.credit.standing import bill_rows
from postpay.extensions import db
from postpay.security import blind_index, mask_id_number, mask_name

RECORD, CORRECTION = "record", "correction"


def person_digest(id_number):
    """HMAC-SHA256 (hex) of the identity number under the platform's key; without one configured
    (development), our own blind index, which no one outside can reverse or match."""
    key = current_app.config.get("POSTPAY_CREDIT_EXPORT_KEY") or ""
    if not key:
        return blind_index(id_number, "credit_export")
    return hmac.new(key.encode(), id_number.encode(), hashlib.sha256).hexdigest()


def _claim(rows):
    """Insert the lines not yet exported; returns the ``(record_id, line)`` pairs this run claimed."""
    if not rows:
        return set()
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(CreditExport)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["record_id", "line"])
        .returning(CreditExport.record_id, CreditExport.line)
    )
    return {tuple(row) for row in db.session.execute(statement)}


def export(since, now, out):
    """Write to ``out`` (a text file) one JSON line per record made, and per record repaired, at or
    after ``since`` that was not exported before: the new records, then the corrections, each in the order they
    happened; then commit the claims.
    A failure while writing rolls the claims back (the lines go out next time). Returns
    ``(records, corrections)`` counted."""
    found = db.session.execute(
        db.select(CreditRecord, Patient.name, Patient.id_number)
        .join(Patient, Patient.id == CreditRecord.patient_id)
        .where(db.or_(CreditRecord.created_at >= since, CreditRecord.repaired_at >= since))
    ).all()
    wanted = [{"record_id": r.id, "line": RECORD, "exported_at": now} for r, _, _ in found]
    wanted += [{"record_id": r.id, "line": CORRECTION, "exported_at": now} for r, _, _ in found if r.repaired_at]
    claimed = _claim(wanted)
    bills = bill_rows({b for r, _, _ in found if (r.id, RECORD) in claimed for b in r.bill_ids})
    lines = []
    for record, name, id_number in found:
        if (record.id, RECORD) in claimed:
            lines.append((0, record.created_at, record.id, _record_line(record, name, id_number, bills)))
        if (record.id, CORRECTION) in claimed:
            lines.append((1, record.repaired_at, record.id, _correction_line(record)))
    try:
        for *_, line in sorted(lines, key=lambda entry: entry[:3]):
            out.write(orjson.dumps(line).decode() + "\n")
        out.flush()
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return sum(1 for c in claimed if c[1] == RECORD), sum(1 for c in claimed if c[1] == CORRECTION)


def _record_line(record, name, id_number, bills):
    shown = [bills[b] for b in record.bill_ids if b in bills]
    return {
        "type": RECORD,
        "record_id": record.id,
        "kind": record.kind,
        "recorded_at": iso(record.created_at),
        "person": {
            "name": mask_name(name),
            "id_number": mask_id_number(id_number),
            "id_digest": person_digest(id_number),
        },
        "amount_fen": sum(b["amount_fen"] for b in shown),
        "bills": [
            {k: b[k] for k in ("id", "visit_day", "amount_fen")} | {"hospital_code": b["hospital"]["code"]}
            for b in shown
        ],
    }


def _correction_line(record):
    return {
        "type": CORRECTION,
        "record_id": record.id,
        "correction": "repaired",
        "repaired_at": iso(record.repaired_at),
    }
