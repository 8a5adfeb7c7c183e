"""The one answer to "may account A do X for patient P". Every route that names a
patient, bill, visit or payment asks here.

- The account's own verified patient: everything.
- A relative bound to the account by an active binding: what the binding grants
  (``view``, ``accompany``, ``pay``, ``book`` (R15: appointments); ``mutual_aid``: spend the relative's own personal
  insurance account for 共济, which only the relative grants, by consenting to a binding
  that asks for it).
- Anyone else: the patient does not exist for this account (404), so another
  family's ids reveal nothing: the 404 answer for another family's row is the very
  answer for an id that names nothing (each caller passes the one ``missing`` text).
"""

from postpay.accounts.models import Patient
from postpay.errors import Forbidden, NotFound
from postpay.extensions import db
from postpay.family.models import Binding, BindingStatus

ALL = frozenset({"view", "accompany", "pay", "mutual_aid", "book"})
MISSING_PATIENT = "未找到该就诊人"
#: Columns, not objects: this runs on every request that lists what an account may see.
_BINDINGS = db.select(
    Binding.relative_patient_id, Binding.relationship, Binding.permissions, Binding.share_sensitive
).where(Binding.user_id == db.bindparam("user_id"), Binding.status == BindingStatus.active)


def relationships(user):
    """``{patient_id: (relationship, permissions)}`` for every patient the account acts for."""
    return bound(user)[0]


def bound(user):
    """``(relationships(user), revealed)`` in one query: ``revealed``, the patients whose
    sensitive items the account sees (R19: its own, and relatives who shared them)."""
    found, revealed = {}, set()
    if user.patient_id:
        found[user.patient_id] = ("self", ALL)
        revealed.add(user.patient_id)
    for patient_id, relationship, granted, shared in db.session.execute(_BINDINGS, {"user_id": user.id}):
        found.setdefault(patient_id, (relationship, frozenset(granted)))
        if shared:
            revealed.add(patient_id)
    return found, revealed


def _active_binding(column, user, patient_id, *where):
    """``column`` of the user's active binding to ``patient_id`` (and ``where``), as a query."""
    return db.select(column).where(
        Binding.user_id == user.id,
        Binding.relative_patient_id == patient_id,
        Binding.status == BindingStatus.active,
        *where,
    )


def permissions(user, patient_id):
    """What ``user`` may do for ``patient_id``: a frozenset, empty for a stranger."""
    if patient_id and patient_id == user.patient_id:
        return ALL
    granted = db.session.execute(_active_binding(Binding.permissions, user, patient_id)).scalar_one_or_none()
    return frozenset(granted or ())


def patient_for(user, patient_id, permission, missing=MISSING_PATIENT):
    """The patient, if ``user`` may ``permission`` for them.

    Raises NotFound(``missing``) when the account has no relation to the patient (or it
    does not exist), Forbidden (PERMISSION_DENIED) when a relative lacks ``permission``.
    """
    granted = permissions(user, patient_id)
    patient = db.session.get(Patient, patient_id) if granted else None
    if patient is None:
        raise NotFound(missing)
    if permission not in granted:
        raise Forbidden("亲情账户未获得该授权", code="PERMISSION_DENIED")
    return patient


def require_all(user, patient_ids, permission, missing=MISSING_PATIENT):
    """``patient_for`` for many patients in one query. Raises NotFound(``missing``), Forbidden."""
    found = relationships(user)
    for patient_id in patient_ids:
        if patient_id not in found:
            raise NotFound(missing)
        if permission not in found[patient_id][1]:
            raise Forbidden("亲情账户未获得该授权", code="PERMISSION_DENIED")


def owned(user, model, row_id, permission, missing="未找到"):
    """A row (with a ``patient_id``) of a patient ``user`` may ``permission`` for.

    Raises NotFound(``missing``) for a row that does not exist and for another family's
    alike, Forbidden (PERMISSION_DENIED).
    """
    row = db.session.get(model, row_id)
    if row is None:
        raise NotFound(missing)
    patient_for(user, row.patient_id, permission, missing)
    return row


def reveals_sensitive(user, patient_id):
    """R19: the patient sees their own sensitive items; a relative only when the patient shared them."""
    if patient_id and patient_id == user.patient_id:
        return True
    query = _active_binding(Binding.id, user, patient_id, Binding.share_sensitive.is_(True))
    return db.session.execute(query.limit(1)).first() is not None


def patient_side(user, binding_id, missing="未找到该绑定"):
    """A binding naming the account's own patient, for what only that patient decides (R19: sharing
    sensitive items). Raises NotFound(``missing``) for a stranger, Forbidden (PERMISSION_DENIED) for
    the asking side."""
    binding = db.session.get(Binding, binding_id)
    if binding is None or (binding.user_id != user.id and binding.relative_patient_id != user.patient_id):
        raise NotFound(missing)
    if binding.relative_patient_id != user.patient_id:
        raise Forbidden("仅就诊人本人可设置是否共享隐私项目", code="PERMISSION_DENIED")
    return binding


def own_patient(user):
    """The account's own verified patient. Raises Forbidden (NOT_VERIFIED) before verification."""
    if user.patient is None or user.patient.verified_at is None:
        raise Forbidden("请先完成医保电子凭证实名认证", code="NOT_VERIFIED")
    return user.patient
