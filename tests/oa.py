"""The official account (公众号) in tests: its appid and secret as the app and the sandbox know them,
and ``oa_login(openid) -> token``: a person signed in through the official account."""

import pytest

MP_APPID = "wxoa5a4d0c7b2e9f11"
OA_CONFIG = {
    "WECHAT_MP_APPID": MP_APPID,
    "WECHAT_MP_SECRET": "oa-secret-3f1c9a7e5b2d4c6e8a0f1b3d",
    "SANDBOX_WECHAT_MP_APPID": MP_APPID,
    "SANDBOX_WECHAT_MP_SECRET": "oa-secret-3f1c9a7e5b2d4c6e8a0f1b3d",
}


@pytest.fixture
def oa_login(app):
    """``oa_login(openid, unionid=None) -> token``: the official account gave out ``openid`` and the
    person signed in with it (a bearer token for the official account, ``last_app`` "oa"); with a
    ``unionid`` the mini-program already knows, into that same account."""
    from postpay.accounts import service
    from postpay.accounts.models import APP_OA, User
    from postpay.extensions import db
    from wechat.sandbox import apps

    def _login(openid, unionid=None):
        with app.app_context():
            apps.mint(app.config["SANDBOX_WECHAT_MP_APPID"], openid)
            user = User.query.filter_by(oa_openid=openid).one_or_none()
            if user is None and unionid:
                user = User.query.filter_by(unionid=unionid).one_or_none()
                if user is not None:
                    user.oa_openid = openid
            if user is None:
                user = User(oa_openid=openid, unionid=unionid)
                db.session.add(user)
                db.session.flush()
            token = service.issue_token(user, APP_OA)
            db.session.commit()
        return token

    return _login
