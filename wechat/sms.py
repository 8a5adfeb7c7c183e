"""SMS gateways. Every gateway sends a named template with its parameters:

- ``SandboxSms`` renders the text itself and posts it to the sandbox outbox;
- ``TencentSms`` sends the template registered with Tencent Cloud SMS (``wechat.tc3``).

``TEXTS`` are the templates as registered with the provider (Chinese, what patients read).
"""

import requests

TEXTS = {
    "verify_code": "您的验证码为{0}，用于签署先诊疗后付费承诺书，{1}分钟内有效。如非本人操作，请忽略本短信。",
    "link_code": "您的验证码为{0}，用于关联您在医院公众号与小程序中的账号，{1}分钟内有效。如非本人操作，请忽略本短信。",
    # R17's stages: {0} whom ("您", or "您的母亲 朱*英"), {1} visit day, {2} hospital, {3} amount in yuan.
    "bill_overdue": "{0}于{1}在{2}的就诊费用{3}元已超过24小时未结清，请通过医院小程序、自助机或窗口尽快缴费。",
    "bill_overdue_days": (
        "{0}于{1}在{2}的就诊费用{3}元已逾期{4}天未缴，逾期满{5}天将暂停先诊疗后付费并记入信用档案，"
        "请尽快通过医院小程序、自助机或窗口缴费。"
    ),
    "bill_overdue_last": (
        "{0}于{1}在{2}的就诊费用{3}元已逾期{4}天未缴，明日起暂停先诊疗后付费，并记入信用档案。"
        "今日缴清即可避免，可通过医院小程序、自助机或窗口缴费。"
    ),
    # R18: {0} whom, {1} hospitals, {2} amount in yuan, {3} days.
    "credit_suspended": (
        "{0}在{1}的欠费共{2}元逾期已满{3}天，先诊疗后付费已在所有接入医院暂停，并记入信用档案。缴清全部欠费后即恢复。"
    ),
    "credit_repaired": "{0}的逾期欠费已全部缴清，先诊疗后付费已恢复，信用档案已记录修复。",
    "appointment_booked": "您已预约{0}{1}{2}医生，就诊时间{3}，请按时到院就诊。如需取消，请在就诊开始前操作。",
    "appointment_reminder": "就诊提醒：{0}预约了{1}在{2}{3}就诊，请按时到院。",
}


class SmsError(Exception):
    """The gateway refused a message."""

    def __init__(self, code, message):
        super().__init__("%s %s" % (code, message))
        self.code = code
        self.message = message


def render(sign_name, template, params):
    return "【%s】%s" % (sign_name, TEXTS[template].format(*params))


class SandboxSms:
    """The sandbox gateway: ``POST {base}/sms/send`` with the phone and the full text."""

    def __init__(self, base_url, sign_name, timeout=5):
        self.base_url = base_url.rstrip("/")
        self.sign_name = sign_name
        self.timeout = timeout

    def send(self, phone, template, params):
        """Send template ``template`` to ``phone``. Raises SmsError, requests.RequestException."""
        text = render(self.sign_name, template, params)
        resp = requests.post(self.base_url + "/sms/send", json={"phone": phone, "text": text}, timeout=self.timeout)
        body = resp.json()
        if body.get("code") != "Ok":
            raise SmsError(body.get("code"), body.get("message", ""))
        return body


class TencentSms:
    """Tencent Cloud SMS: one client, the template ids registered for our template names."""

    def __init__(self, client, template_ids):
        self.client = client
        self.template_ids = template_ids

    def send(self, phone, template, params):
        """Raises SmsError (also for a template with no registered id), requests.RequestException."""
        if template not in self.template_ids:
            raise SmsError("TemplateNotConfigured", template)
        return self.client.send(phone, [str(p) for p in params], template_id=self.template_ids[template])
