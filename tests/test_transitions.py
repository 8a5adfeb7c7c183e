"""Every status table (DESIGN 5), tested on the model's own ``transition``: each allowed move
works; every other move, a repeated one included, raises the table's named Conflict and
leaves the status as it was."""

import datetime as dt
import itertools

import pytest

from postpay.billing.models import Bill, Dispute, pay_due
from postpay.booking.models import Appointment
from postpay.contracts.models import Contract
from postpay.errors import Conflict
from postpay.family.models import Binding
from postpay.insurance.models import InsuranceRefund, InsuranceSettlement
from postpay.payments.models import MicropayAttempt, Payment, PaymentStatus, Refund, mark_paid

MODELS = (
    Appointment,
    Bill,
    Payment,
    Refund,
    Dispute,
    Contract,
    Binding,
    InsuranceSettlement,
    InsuranceRefund,
    MicropayAttempt,
)
MOVES = [
    pytest.param(model, start, to, id="%s:%s->%s" % (model.__name__, start.value, to.value))
    for model in MODELS
    for start, to in itertools.product(model.TRANSITIONS, repeat=2)
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_each_table_names_every_status_of_its_enum(model):
    statuses = set(type(next(iter(model.TRANSITIONS))))
    assert set(model.TRANSITIONS) == statuses
    assert set().union(*model.TRANSITIONS.values()) <= statuses
    assert model.__table__.c.status.type.enum_class is type(next(iter(model.TRANSITIONS)))


@pytest.mark.parametrize("model, start, to", MOVES)
def test_transition(model, start, to):
    row = model(status=start)
    if to in model.TRANSITIONS[start]:
        row.transition(to)
        assert row.status is to
    else:
        with pytest.raises(Conflict) as refused:
            row.transition(to)
        assert refused.value.code == model.STATE_ERROR and row.status is start


def test_bulk_fast_paths_check_the_table(app):
    at = dt.datetime.now(dt.timezone.utc)
    with app.app_context():
        assert pay_due([], at) == 0  # due -> paid is a legal move: nothing to move, nothing refused
        for status in (PaymentStatus.paid, PaymentStatus.refunded):
            with pytest.raises(Conflict) as refused:
                mark_paid("py_none", status, at)
            assert refused.value.code == "PAYMENT_STATE"
