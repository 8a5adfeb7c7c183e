"""The official account (公众号) in tests: a fixed appid and secret, the same for the app and the
sandbox (``config | OA_CONFIG``), so a test can name the appid in its parameters. People sign in
there with the ``oa_login`` fixture (the web login through the sandbox's authorization)."""

MP_APPID = "wxoa5a4d0c7b2e9f11"
OA_CONFIG = {
    "WECHAT_MP_APPID": MP_APPID,
    "WECHAT_MP_SECRET": "oa-secret-3f1c9a7e5b2d4c6e8a0f1b3d",
    "SANDBOX_WECHAT_MP_APPID": MP_APPID,
    "SANDBOX_WECHAT_MP_SECRET": "oa-secret-3f1c9a7e5b2d4c6e8a0f1b3d",
}


def son_and_mum(app, login, oa_login, verify, person, signed, bind, tag, surname, phones, **mum_kw):
    """A son verified in the mini-program who now signs in through the official account (the same
    person by unionid) and may pay for his mother (a mini-program user); both signed for post-pay.
    His official-account openid is ``oa-<tag>-son``; returns tokens and patients."""
    from tests.conftest import make_id_number

    first = login("o-%s-son" % tag, unionid="u-%s-son" % tag)
    number = make_id_number()
    son_patient = verify(first, name=surname + "明", id_number=number).get_json()["patient"]
    son_patient |= {"id_number_plain": number}
    son = oa_login("oa-%s-son" % tag, unionid="u-%s-son" % tag)
    mum, mum_patient = person("o-%s-mum" % tag, name=surname + "母", birth="19520202", **mum_kw)
    for token, patient, phone in ((son, son_patient, phones[0]), (mum, mum_patient, phones[1])):
        app.extensions["redis"].delete(*list(app.extensions["redis"].scan_iter("sms:min:*")) or ["x"])
        assert signed(token, patient["id"], phone).status_code == 201
    bind(son, mum, mum_patient, permissions=["view", "pay"])
    return {"son": son, "mum": mum, "son_patient": son_patient, "mum_patient": mum_patient}
