"""Every model, imported once so the metadata (and the migrations) know every table."""

from postpay.accounts.models import Patient, User
from postpay.billing.models import Bill, BillReceipt, Dispute, Item
from postpay.booking.models import Appointment, AppointmentChange, Slot
from postpay.console.models import AuditEntry, StaffAccount
from postpay.contracts.models import Contract
from postpay.credit.models import CreditEvent, CreditExport, CreditRecord, Reminder
from postpay.family.models import Binding
from postpay.hospitals.models import Hospital
from postpay.insurance.models import InsuranceRefund, InsuranceSettlement
from postpay.kiosk.models import KioskDevice
from postpay.payments.feed_models import SettlementCounter, SettlementEntry
from postpay.payments.models import (
    LedgerEntry,
    MicropayAttempt,
    Payment,
    PaymentBill,
    PaymentOrder,
    Refund,
)
from postpay.visits.models import SubscriptionQuota, Visit, VisitEvent

__all__ = [
    "Appointment",
    "AppointmentChange",
    "Slot",
    "AuditEntry",
    "StaffAccount",
    "Bill",
    "BillReceipt",
    "Binding",
    "Contract",
    "CreditEvent",
    "CreditExport",
    "CreditRecord",
    "Dispute",
    "Hospital",
    "InsuranceRefund",
    "InsuranceSettlement",
    "Item",
    "KioskDevice",
    "LedgerEntry",
    "MicropayAttempt",
    "Payment",
    "PaymentBill",
    "PaymentOrder",
    "Patient",
    "Refund",
    "Reminder",
    "SettlementCounter",
    "SettlementEntry",
    "SubscriptionQuota",
    "User",
    "Visit",
    "VisitEvent",
]
