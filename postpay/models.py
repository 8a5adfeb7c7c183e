"""Every model, imported once so the metadata (and the migrations) know every table."""

from postpay.accounts.models import Patient, User
from postpay.billing.models import Bill
from postpay.contracts.models import Contract
from postpay.credit.models import CreditRecord
from postpay.family.models import Binding
from postpay.his.models import Hospital
from postpay.kiosk.models import KioskDevice

__all__ = ["Bill", "Binding", "Contract", "CreditRecord", "Hospital", "KioskDevice", "Patient", "User"]
