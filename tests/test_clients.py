"""The outside-world clients are chosen by config."""

from postpay import clients
from wechat.sms import SandboxSms, TencentSms


def test_sms_provider_is_chosen_by_config(app):
    with app.app_context():
        assert isinstance(clients.sms_gateway(), SandboxSms)
    app.config.update(
        POSTPAY_SANDBOX=False,
        POSTPAY_SMS_PROVIDER="tencent",
        TENCENT_SMS_SECRET_ID="AKIDx",
        TENCENT_SMS_SECRET_KEY="k",
        TENCENT_SMS_SDK_APP_ID="1400000000",
        TENCENT_SMS_TEMPLATES={"verify_code": "1234567"},
    )
    app.extensions.pop("postpay_clients")
    with app.app_context():
        gateway = clients.sms_gateway()
        assert isinstance(gateway, TencentSms) and gateway.template_ids == {"verify_code": "1234567"}
        assert gateway.client.host == "sms.tencentcloudapi.com"
