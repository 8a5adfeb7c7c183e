"""Console pages: sign-in, lookup, the patient's page, window signing (R6, R7) and
window consent (R15). The desks (disputes, payments, credit, dashboard, audit) are in
``desks.py``."""

from flask import flash, g, redirect, render_template, request, session, url_for

from postpay.console import service, sessions
from postpay.console.auth import DESK, audit, authenticate, current_staff, require
from postpay.console.models import ROLE_LABELS
from postpay.console.pages import bp, page
from postpay.contracts import commitment
from postpay.errors import Unauthorized
from postpay.payments.channels.window import MODE_LABELS, pending_payment, unresolved_by_bill
from postpay.security import mask_id_number, mask_phone

STR = {"type": "string"}


@bp.app_context_processor
def _globals():
    return {"mask_id": mask_id_number, "mask_phone": mask_phone, "role_labels": ROLE_LABELS}


@page("/login", ["GET", "POST"], "The console login form (用户名 + 密码)", query={"next": STR}, auth=None)
def login():
    error = None
    if request.method == "POST":
        try:
            staff = authenticate(
                request.form.get("username", "")[:64], request.form.get("password", "")[:256], request.remote_addr
            )
        except Unauthorized as e:
            error = e.message
        else:
            sessions.begin(staff)
            audit(staff, "login")
            target = request.args.get("next", "")
            ok = target.startswith("/console/") and "//" not in target
            return redirect(target if ok else url_for("console.home"))
    elif current_staff() is not None:
        return redirect(url_for("console.home"))
    return render_template("console/login.html", error=error), 401 if error else 200


@page("/logout", ["POST"], "Sign out")
@require(*DESK)
def logout():
    audit(g.staff, "logout")
    sessions.end()
    return redirect(url_for("console.login"))


@page("/", ["GET"], "Start page: patient lookup")
@require(*DESK)
def home():
    return render_template("console/home.html")


@page("/lookup", ["POST"], "Find a patient by identity number or phone (a form: the number stays out of URLs)")
@require(*DESK)
def lookup():
    text = request.form.get("q", "")[:64]
    patient = service.lookup(text)
    audit(g.staff, "lookup", patient.id, by="phone" if len(text.strip()) == 11 else "id_number")
    return redirect(url_for("console.patient", patient_id=patient.id))


@page("/patients", ["POST"], "R8 without an e-voucher: confirm the identity card at the platform (1101), open the page")
@require(*DESK)
def verify():
    name, number = request.form.get("name", "")[:64], request.form.get("id_number", "")[:32]
    person = service.verify_at_window(g.staff, name, number, _checked())
    audit(g.staff, "verify_identity", person.id, channel="window", id_number=mask_id_number(person.id_number))
    flash("已通过医保平台核验身份：%s" % person.name, "ok")
    return redirect(url_for("console.patient", patient_id=person.id))


@page("/patients/<patient_id>", ["GET"], "The patient: contract, relatives, visits, bills, credit")
@require(*DESK)
def patient(patient_id):
    person = service.patient_or_404(patient_id)
    data = service.patient_page(g.staff, person)
    audit(g.staff, "view_patient", person.id)
    pending = {b.id: pending_payment(b.id) for b in data["bills"] if b.status.value == "due"}
    unknown = unresolved_by_bill([b.id for b in data["bills"] if b.status.value == "due"])
    return render_template(
        "console/patient.html",
        patient=person,
        version=commitment.current_version(),
        pending=pending,
        unknown=unknown,
        modes=MODE_LABELS,
        **data,
    )


def _checked():
    return request.form.get("id_checked") == "yes"


@page("/patients/<patient_id>/sms-code", ["POST"], "Window signing: send the SMS code after the ID check (R7)")
@require(*DESK)
def sms_code(patient_id):
    person = service.patient_or_404(patient_id)
    phone = request.form.get("phone", "").strip()
    service.send_signing_code(g.staff, person, phone, _checked())
    session["signing_phone"] = mask_phone(phone)
    audit(g.staff, "send_signing_code", person.id, phone=mask_phone(phone))
    flash("验证码已发送至 %s" % mask_phone(phone), "ok")
    return redirect(url_for("console.patient", patient_id=person.id, _anchor="signing"))


@page("/patients/<patient_id>/contracts", ["POST"], "Window signing: the pad signature and the SMS code (R6)")
@require(*DESK)
def sign(patient_id):
    person = service.patient_or_404(patient_id)
    contract = service.sign_at_window(
        g.staff,
        person,
        request.form.get("commitment_version", ""),
        request.form.get("sms_code", "").strip(),
        request.form.get("signature_png", ""),
        request.remote_addr,
        request.user_agent.string,
    )
    audit(g.staff, "sign_contract", person.id, contract.id, channel="window")
    flash("签约成功：%s 已开通先诊疗后付费" % person.name, "ok")
    return redirect(url_for("console.patient", patient_id=person.id))


@page("/patients/<patient_id>/bindings/<binding_id>/consent", ["POST"], "Window consent of an elder (R15)")
@require(*DESK)
def consent(patient_id, binding_id):
    person = service.patient_or_404(patient_id)
    binding = service.consent_at_window(g.staff, person, binding_id, _checked())
    audit(g.staff, "consent_binding", person.id, binding.id)
    flash("已确认亲情绑定", "ok")
    return redirect(url_for("console.patient", patient_id=person.id))
