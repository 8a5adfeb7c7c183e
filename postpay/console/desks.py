"""Console desks: disputes (R12), window payments (R11, R13), credit (R17, R18),
the dashboard and the audit log."""

import datetime as dt

from flask import flash, g, redirect, render_template, request, url_for

from postpay.billing import disputes
from postpay.clock import local_date
from postpay.console import dashboard, service
from postpay.console.auth import DESK, OVERSIGHT, audit, require, scoped
from postpay.console.models import AuditEntry
from postpay.console.pages import back_url, page
from postpay.errors import NotFound
from postpay.extensions import db
from postpay.payments.channels import window
from postpay.payments.models import MicropayAttempt, MicropayStatus

STR = {"type": "string"}


def _now():
    return dt.datetime.now(dt.timezone.utc)


@page("/disputes", ["GET"], "The queue of items patients flagged as given up (R12)")
@require(*DESK)
def dispute_queue():
    return render_template("console/disputes.html", rows=service.dispute_queue(g.staff))


@page("/disputes/<dispute_id>/decision", ["POST"], "Confirm (void; refund when paid) or reject with a reason")
@require(*DESK)
def decide(dispute_id):
    dispute, bill = service.dispute_in_scope(g.staff, dispute_id)
    confirm = request.form.get("decision") == "confirm"
    reason = request.form.get("reason", "").strip()[:200] or None
    paid = bill.status.value == "paid"
    disputes.decide(dispute.id, "staff:%s" % g.staff.id, confirm, reason)
    audit(g.staff, "confirm_dispute" if confirm else "reject_dispute", bill.patient_id, dispute.id, reason=reason)
    if confirm:
        flash("已确认放弃并作废该项目%s" % ("，退款已发起" if paid else ""), "ok")
    else:
        flash("已驳回，患者将看到驳回原因", "ok")
    return redirect(back_url("console.dispute_queue"))


@page("/bills/<bill_id>/payments", ["POST"], "Take a bill's payment at the window: cash, card or micropay")
@require(*DESK)
def take_payment(bill_id):
    bill = service.bill_in_scope(g.staff, bill_id)
    mode = request.form.get("mode", "")
    had_pending = window.pending_payment(bill.id) is not None
    bill, reference = window.take(bill.id, mode, request.form.get("auth_code"), request.remote_addr)
    audit(g.staff, "take_payment", bill.patient_id, bill.id, mode=mode, amount_fen=bill.total_fen, reference=reference)
    note = "；该账单的小程序支付若随后到账，将自动原路退回" if had_pending else ""
    flash(
        "收费成功 ¥%s（%s，流水号 %s）%s" % (dashboard.yuan(bill.total_fen), window.MODE_LABELS[mode], reference, note),
        "ok",
    )
    return redirect(url_for("console.patient", patient_id=bill.patient_id))


@page(
    "/micropay/<attempt_id>/settle",
    ["POST"],
    "Settle a micropay (window or kiosk) whose outcome is unknown: query WeChat",
)
@require(*DESK)
def settle_micropay(attempt_id):
    attempt = db.session.get(MicropayAttempt, attempt_id)
    if attempt is None:
        raise NotFound("未找到该笔付款码支付")
    bill = service.bill_in_scope(g.staff, window.bill_of(attempt))
    status = window.settle(attempt.id)
    audit(g.staff, "settle_micropay", bill.patient_id, bill.id, out_trade_no=attempt.out_trade_no, status=status.value)
    flash(SETTLED[status], "ok" if status != MicropayStatus.unknown else "error")
    return redirect(url_for("console.patient", patient_id=bill.patient_id))


SETTLED = {
    MicropayStatus.paid: "查询结果：微信已扣款，账单已记为已支付",
    MicropayStatus.failed: "查询结果：微信支付未成功，未扣款，可重新收费",
    MicropayStatus.reversed: "查询结果：该笔已撤销，未扣款或已原路退回，可重新收费",
    MicropayStatus.unknown: "微信支付结果仍未明，撤销未成功：请勿重复收费，稍后再次查询",
}


@page("/credit", ["GET"], "Overdue and suspended patients, with amounts and ages (R17, R18)")
@require(*DESK)
def credit():
    return render_template("console/credit.html", rows=service.credit_desk(g.staff, _now()))


@page("/dashboard", ["GET"], "Signings per day, bill aging, payment mix, the day's figures (SVG)")
@require(*OVERSIGHT)
def dashboard_page():
    now = _now()
    today = local_date(now)
    signings = dashboard.signings_per_day(today)
    aging = dashboard.bill_aging(g.staff, now)
    mix = dashboard.payment_mix(g.staff, now - dt.timedelta(days=30))
    total = sum(f for _, _, f in mix) or 1
    charts = {
        "signings": dashboard.bar_chart([(d.strftime("%m-%d"), n) for d, n in signings], "近14天每日签约数"),
        "aging": dashboard.hbar_chart(
            [("未结(就诊中)", aging["open"][0], "%d 笔 ¥%s" % (aging["open"][0], dashboard.yuan(aging["open"][1])))]
            + [
                (label, aging[k][0], "%d 笔 ¥%s" % (aging[k][0], dashboard.yuan(aging[k][1])))
                for k, label in dashboard.AGING
            ],
            "账单账龄",
        ),
        "mix": dashboard.hbar_chart(
            [
                (
                    dashboard.CHANNEL_LABELS.get(c, c),
                    f,
                    "%d 笔 ¥%s（%d%%）" % (n, dashboard.yuan(f), round(100 * f / total)),
                )
                for c, n, f in mix
            ],
            "近30天收款方式构成",
        ),
    }
    figures = dashboard.day_figures(g.staff, today, now)
    audit(g.staff, "view_dashboard")
    return render_template("console/dashboard.html", charts=charts, figures=figures, today=today)


@page("/audit", ["GET"], "The audit log of staff actions (read only)", query={"patient_id": STR})
@require(*OVERSIGHT)
def audit_log():
    query = scoped(db.select(AuditEntry), AuditEntry.hospital_id, g.staff)
    if request.args.get("patient_id"):
        query = query.where(AuditEntry.patient_id == request.args["patient_id"])
    entries = db.session.execute(query.order_by(AuditEntry.at.desc()).limit(300)).scalars().all()
    return render_template("console/audit.html", entries=entries)
