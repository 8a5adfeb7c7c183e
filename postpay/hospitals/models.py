"""Hospitals on the hub and their exclusion data (R2, R4)."""

from postpay.clock import utcnow
from postpay.extensions import UTCDateTime, db
from postpay.security import Encrypted, new_id

#: R4: herbal medicine, consumables and treatment items are paid before service.
DEFAULT_PAY_NOW_CATEGORIES = ["herbal", "consumable", "treatment"]
#: R2: kinds of visit or item the HIS may flag that are never deferred.
DEFAULT_EXCLUDED_KINDS = [
    "illegal_act",
    "abortion",
    "induced_labour",
    "assisted_reproduction",
    "orthodontics",
    "dental_restoration",
    "eye_laser",
    "third_party_liability",
    "unsuitable",
]
#: R19: an item whose category is one of these, or whose name contains one, is sensitive.
DEFAULT_SENSITIVE_TERMS = [
    "HIV",
    "艾滋",
    "梅毒",
    "淋病",
    "淋球菌",
    "衣原体",
    "尖锐湿疣",
    "性病",
    "精神",
    "心理",
    "抑郁",
    "焦虑",
    "生殖",
    "产科",
    "妊娠",
    "孕",
    "人工流产",
    "流产",
    "试管",
    "不孕",
    "不育",
    "精液",
]


class Hospital(db.Model):
    __tablename__ = "hospitals"

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("hp"))
    #: The hospital's X-Hospital-Id.
    code = db.Column(db.String(32), nullable=False, unique=True)
    name = db.Column(db.String(128), nullable=False)
    #: WeChat Pay merchant (sub-merchant) id that receives this hospital's payments.
    mchid = db.Column(db.String(32), nullable=False)
    his_secret = db.Column(Encrypted("his_secret"), nullable=False)
    #: 定点医药机构编号: the hospital's code at the medical-insurance platform (6201 medOrgOrd, med-ins orders).
    med_inst_no = db.Column(db.String(32))
    #: The city code Tencent issues for WeChat's med-ins orders (city_id), per hospital.
    medins_city_id = db.Column(db.String(16))
    #: The appid of the hospital's own official account (公众号), bound to its sub-merchant: when the
    #: payer signed in through that account, its orders carry it as sub_appid with the payer's sub_openid.
    oa_appid = db.Column(db.String(32))
    #: R4: item categories paid before service at this hospital.
    pay_now_categories = db.Column(db.JSON, nullable=False, default=lambda: list(DEFAULT_PAY_NOW_CATEGORIES))
    #: R2: exclusion kinds the HIS may flag on a visit or item.
    excluded_kinds = db.Column(db.JSON, nullable=False, default=lambda: list(DEFAULT_EXCLUDED_KINDS))
    #: R19: categories and name fragments that make an item sensitive at this hospital.
    sensitive_terms = db.Column(db.JSON, nullable=False, default=lambda: list(DEFAULT_SENSITIVE_TERMS))
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
