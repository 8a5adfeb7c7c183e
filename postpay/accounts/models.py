"""WeChat accounts and patients (people with a verified or HIS-reported identity)."""

from postpay.clock import utcnow
from postpay.extensions import UTCDateTime, db
from postpay.security import Encrypted, new_id

#: ``e_voucher``: the mini-program's 医保授权 or a kiosk's e-voucher QR (1101 with the voucher);
#: ``window``: staff checked the identity card; ``kiosk_id_card``: a kiosk's card reader;
#: ``relative``: a relative asked to bind this person (1101 with identity number and name).
VERIFIED_BY = ("e_voucher", "window", "kiosk_id_card", "relative")


class Patient(db.Model):
    """A person who visits hospitals. One identity number is one patient across all accounts."""

    __tablename__ = "patients"

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("pt"))
    name = db.Column(db.String(64), nullable=False)
    id_number = db.Column(Encrypted("id_number"), nullable=False)
    #: HMAC blind index of the normalised identity number: the only way to find a patient by it.
    id_number_index = db.Column(db.String(64), nullable=False, unique=True)
    birth_date = db.Column(db.Date, nullable=False)
    #: "M" or "F", from the identity number's 17th digit.
    sex = db.Column(db.String(1), nullable=False)
    #: Six-digit administrative division code of the insurance, e.g. 320602.
    insured_region = db.Column(db.String(6))
    #: employee / resident / other
    insurance_type = db.Column(db.String(16))
    #: normal / suspended / terminated
    insured_status = db.Column(db.String(16))
    #: 人员编号 at the medical-insurance platform (transaction 1101's psn_no).
    psn_no = db.Column(db.String(32))
    #: userQuery's payAuthNo: lets 6201 and the med-ins order act for this person; never logged.
    pay_auth_no = db.Column(Encrypted("pay_auth_no"))
    #: When the platform said payAuthNo stops being valid; after that, authorize again.
    pay_auth_expires_at = db.Column(UTCDateTime)
    #: When the medical-insurance platform confirmed this identity; None: reported by a HIS only.
    verified_at = db.Column(UTCDateTime)
    #: How the platform's confirmation was asked for (R8): one of VERIFIED_BY; None while unverified.
    verified_by = db.Column(db.String(16))
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = db.Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)


#: The WeChat apps a person signs in with: the mini-program and the official account (公众号).
APP_MINI, APP_OA = "mini", "oa"
APPS = (APP_MINI, APP_OA)


class User(db.Model):
    """A person's account: the mini-program's openid, the official account's, or both (linked by
    unionid or by a confirmed phone). Every patient, binding, contract, bill and payment hangs
    off this one row, whichever app the person uses."""

    __tablename__ = "users"

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("us"))
    #: The mini-program's openid (code2session); None for an official-account-only account.
    openid = db.Column(db.String(64), unique=True)
    #: The official account's openid (web authorization); None until the person signs in there.
    oa_openid = db.Column(db.String(64), unique=True)
    unionid = db.Column(db.String(64), index=True)
    #: The app the person last signed in with (APPS): where their messages go.
    last_app = db.Column(db.String(8))
    phone = db.Column(Encrypted("phone"))
    #: Blind index of the phone, for the console's lookup by phone.
    phone_index = db.Column(db.String(64), index=True)
    #: The account holder's own verified patient.
    patient_id = db.Column(db.String(32), db.ForeignKey("patients.id"), index=True)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    patient = db.relationship(Patient)

    def openid_for(self, app):
        """The person's openid in ``app`` (APPS), None when they never signed in there."""
        return self.oa_openid if app == APP_OA else self.openid
