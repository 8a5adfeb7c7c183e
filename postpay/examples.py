"""Examples of the main mini-program calls for ``/openapi.json`` (``route(examples=...)``):
``"request"`` is the body sent, a status the answer got. They are answers the sandbox gave
(a son paying his mother's bill), tidied; tests/test_openapi.py validates each against its
route's schema, so they cannot drift from the contract."""

#: The people and things the examples share.
MUM = {"id": "pt_BRxylyX41QmKNCE4", "id_number": "320602********7416", "name": "孙母", "relationship": "parent"}
HOSPITAL = {"code": "NT01", "name": "南通市第一人民医院"}
ITEM = {
    "id": "it_CIM6bUUQJ5VQYiEi",
    "his_item_no": "1",
    "name": "血常规检查",
    "category": "exam",
    "quantity": 1.0,
    "unit_price_fen": 4200,
    "amount_fen": 4200,
    "deferred": True,
    "status": "active",
    "pay_now_reason": None,
    "void_reason": None,
}
BILL = {
    "id": "bl_VEoegXCtlryw8Kdm",
    "patient": MUM,
    "hospital_id": "hp_oRKWq40pbS0u0icZ",
    "hospital": HOSPITAL,
    "visit_id": "vs_xiCavdv7pHo6y7TC",
    "visit_ids": ["vs_xiCavdv7pHo6y7TC"],
    "visit_day": "2026-11-21",
    "amount_fen": 4200,
    "due_at": "2026-11-22T10:00:00+08:00",
    "overdue": True,
    "status": "due",
    "hold": None,
    "items": [ITEM | {"dispute": None}],
}
PAYMENT = {
    "id": "py_AGdljuDydeQ1Ah8Y",
    "out_trade_no": "P261201AD15BEDF79C0573CF30A",
    "status": "pending",
    "total_fen": 4200,
    "bill_ids": [BILL["id"]],
    "combined": False,
    "orders": [
        {
            "hospital_id": BILL["hospital_id"],
            "out_trade_no": "P261201AD15BEDF79C0573CF30A",
            "amount_fen": 4200,
            "paid": False,
        }
    ],
    "expires_at": "2026-11-30T09:42:05+08:00",
    "paid_at": None,
}
PAID_AT = "2026-11-30T09:12:40+08:00"

WECHAT_LOGIN = {
    "request": {"code": "0a3Kx1ll2ZmZ4f4Kx1ll2Kx1ll2"},
    200: {
        "token": "5WgbFP7F6dCM0U_3pKI3sIzNR4xIbvqUXTVLJseyh-k",
        "expires_in": 7200,
        "user": {
            "id": "us_6x4OG1sCq4DWEu6f",
            "has_phone": False,
            "phone": None,
            "patients": [
                {
                    "id": "pt_47I14fEn4FpFyTTz",
                    "id_number": "320602********8592",
                    "name": "孙明",
                    "relationship": "self",
                    "permissions": ["accompany", "book", "mutual_aid", "pay", "view"],
                    "insurance_type": "employee",
                    "insured_region": "320602",
                    "insured_status": "normal",
                    "verified": True,
                    "verified_by": "e_voucher",
                },
                MUM
                | {
                    "permissions": ["pay", "view"],
                    "insurance_type": "employee",
                    "insured_region": "320602",
                    "insured_status": "normal",
                    "verified": True,
                    "verified_by": "e_voucher",
                },
            ],
        },
    },
}
OUTSTANDING = {200: {"bills": [BILL]}}
SHOW_BILL = {
    200: {
        "bill": BILL
        | {
            "status": "paid",
            "payments": [
                {"id": PAYMENT["id"], "channel": "wechat", "status": "paid", "amount_fen": 4200, "paid_at": PAID_AT}
            ],
            "refunds": [],
            "receipt": None,
        }
    }
}
PAY = {
    "request": {"bill_ids": [BILL["id"]]},
    201: {
        "payment": PAYMENT,
        "request_payment": {
            "appId": "wx8888888888888888",
            "timeStamp": "1796067404",
            "nonceStr": "e09072796d31b495a2e2369e9b04e37b",
            "package": "prepay_id=wxee1c8f6a61bd89b3dfd4512a901a",
            "signType": "RSA",
            "paySign": "hsJYr0eL+Ov+32xHo6fhIXhX8fzQiK52EkL37iYN4fjmVCy93NJDY1qtOGybEA+ShCrhfHbfykbryXo8P8==",
        },
    },
}
SHOW_PAYMENT = {
    200: {
        "payment": PAYMENT | {"status": "paid", "paid_at": PAID_AT, "orders": [PAYMENT["orders"][0] | {"paid": True}]}
    }
}
PAYMENTS = {
    200: {
        "payments": [
            {
                "id": PAYMENT["id"],
                "channel": "wechat",
                "status": "paid",
                "total_fen": 4200,
                "created_at": "2026-11-30T09:12:05+08:00",
                "paid_at": PAID_AT,
                "bills": [
                    {
                        "id": BILL["id"],
                        "amount_fen": 4200,
                        "hospital": {"id": BILL["hospital_id"], "name": HOSPITAL["name"]},
                        "patient": {"id": MUM["id"], "name": "孙*"},
                    }
                ],
                "refunds": [],
            }
        ],
        "next_cursor": None,
    }
}
BIND = {
    "request": {
        "relative": {"name": "孙母", "id_number": "320602195202027416"},
        "relationship": "parent",
        "permissions": ["view", "pay"],
    },
    201: {
        "binding": {
            "id": "fb_4j8ADKEfWZsKBarN",
            "relationship": "parent",
            "relative": {"name": "孙*", "id_number": "320602********7416"},
            "permissions": ["pay", "view"],
            "share_sensitive": False,
            "status": "pending",
            "created_at": "2026-11-20T20:03:02+08:00",
            "consented_at": None,
        }
    },
}
VISIT = {
    200: {
        "visit": {
            "id": BILL["visit_id"],
            "patient_id": MUM["id"],
            "hospital": {"id": BILL["hospital_id"], "name": HOSPITAL["name"]},
            "department": "心内科",
            "doctor": "王医生",
            "postpay": True,
            "reasons": [],
            "registered_at": "2026-11-21T08:00:00+08:00",
            "finished_at": "2026-11-21T10:00:00+08:00",
            "bill_id": BILL["id"],
            "items": [ITEM],
            "timeline": [{"id": 1, "type": "visit_finished", "at": "2026-11-21T10:00:00+08:00", "detail": {}}],
        }
    }
}
