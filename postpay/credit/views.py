"""Credit for the mini-program (R18, issue 19): a patient's status, open and past records."""

from flask import Blueprint, g, jsonify, request

from postpay import authz
from postpay.api import INT, NULLABLE_STR, RELATIONSHIP, STR, loose, route
from postpay.credit.standing import standing
from postpay.security import mask_id_number, mask_name

bp = Blueprint("credit", __name__, url_prefix="/api/v1/credit")

RECORD_BILL = loose(
    id=STR,
    hospital=loose(code=STR, name=STR),
    visit_day=STR,
    amount_fen=INT,
    status={"type": "string", "enum": ["open", "due", "paid", "closed"]},
    due_at=NULLABLE_STR,
    paid_at=NULLABLE_STR,
)
RECORD = loose(
    id=STR,
    kind=STR,
    created_at=STR,
    repaired_at=NULLABLE_STR,
    amount_fen=INT,
    bills={"type": "array", "items": RECORD_BILL},
)
RECORDS = {"type": "array", "items": RECORD}


@route(
    bp,
    "",
    ["GET"],
    "A patient's credit (own, or a relative's with view): normal or suspended, open and past records (R18)",
    query={"patient_id": {"type": "string", "minLength": 1, "maxLength": 64}},
    answers={
        200: loose(
            credit=loose(
                patient=loose(id=STR, name=STR, id_number=STR, relationship=RELATIONSHIP),
                status={"type": "string", "enum": ["normal", "suspended"]},
                open_records=RECORDS,
                past_records=RECORDS,
            )
        )
    },
    read_only=True,
    errors={403: ("PERMISSION_DENIED",)},
)
def show():
    patient = authz.patient_for(g.user, request.args.get("patient_id") or g.user.patient_id, "view")
    own = patient.id == g.user.patient_id
    relationship = "self" if own else authz.relationships(g.user)[patient.id][0]
    shown = {
        "id": patient.id,
        "name": patient.name if own else mask_name(patient.name),
        "id_number": mask_id_number(patient.id_number),
        "relationship": relationship,
    }
    return jsonify({"credit": {"patient": shown} | standing(patient.id)})
