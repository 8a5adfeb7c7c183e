"""Development secrets: ``python -m postpay.devkeys [instance_dir]`` writes
``instance/config.py`` and the key files when missing. Never used in production,
where the environment or a managed ``instance/config.py`` holds real secrets.

What it writes is marked as development: secrets start with ``postpay-dev`` and the
config lists their fingerprints (``POSTPAY_DEV_FINGERPRINTS``), so the app refuses them
without the sandbox (``postpay.posture``). It never writes ``POSTPAY_SANDBOX``: that
switch lives in the process environment only (``make run`` sets it)."""

import base64
import datetime as dt
import os
import secrets
import shutil
import sys
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from postpay.posture import DEV_PREFIX, fingerprint
from wechat.medins import generate_sm2_keypair, public_key_of


def _rsa_pem_pair(directory, name):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    paths = (os.path.join(directory, name + "_private.pem"), os.path.join(directory, name + "_public.pem"))
    for path, data in zip(paths, (private, public), strict=True):
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o600)
    return paths


#: The demo hospitals' merchant ids (postpay/demo.py): sub-merchants of the sandbox's provider.
DEMO_SUB_MCHIDS = ("1900000109", "1900000110")


def apiclient_cert(private_key_path):
    """A self-signed development API client certificate (apiclient_cert.pem) for the merchant key,
    written beside it; returns its path. WeChat Pay issues the real one."""
    with open(private_key_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "postpay development merchant")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    path = os.path.join(os.path.dirname(private_key_path), "wechatpay_apiclient_cert.pem")
    with open(path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    os.chmod(path, 0o600)
    return path


def generate(directory):
    """Fresh secrets for one installation; key files are written into ``directory``."""
    os.makedirs(directory, exist_ok=True)
    app_sm2, platform_sm2 = generate_sm2_keypair(), generate_sm2_keypair()
    apiv3_key, serial = secrets.token_hex(16), secrets.token_hex(20).upper()
    apiv2_key = secrets.token_hex(16)  # 32 characters, as WeChat Pay's API v2 key
    public_key_id = "PUB_KEY_ID_" + secrets.token_hex(12).upper()
    merchant_key, merchant_pub = _rsa_pem_pair(directory, "wechatpay_merchant")
    platform_key, platform_pub = _rsa_pem_pair(directory, "wechatpay_platform")
    appid, secret = "wxdev" + secrets.token_hex(6), secrets.token_hex(16)
    mp_appid, mp_secret = "wxdevmp" + secrets.token_hex(5), secrets.token_hex(16)
    medins_id, medins_secret = "medins" + secrets.token_hex(8).upper(), secrets.token_hex(16)
    partner_id, partner_secret = str(20000000 + secrets.randbelow(10**7)), "%s-%s" % (DEV_PREFIX, secrets.token_hex(16))
    values = {
        "SECRET_KEY": "%s-%s" % (DEV_PREFIX, secrets.token_urlsafe(32)),
        "POSTPAY_DATA_KEY": base64.b64encode(DEV_PREFIX.encode() + os.urandom(32 - len(DEV_PREFIX))).decode(),
        "WECHAT_APPID": appid,
        "WECHAT_SECRET": secret,
        "SANDBOX_WECHAT_APPID": appid,
        "SANDBOX_WECHAT_SECRET": secret,
        "WECHAT_MP_APPID": mp_appid,
        "WECHAT_MP_SECRET": mp_secret,
        "SANDBOX_WECHAT_MP_APPID": mp_appid,
        "SANDBOX_WECHAT_MP_SECRET": mp_secret,
        "MEDINS_APP_ID": medins_id,
        "MEDINS_APP_SECRET": medins_secret,
        "SANDBOX_MEDINS_APP_ID": medins_id,
        "SANDBOX_MEDINS_APP_SECRET": medins_secret,
        "MEDINS_PRIVATE_KEY": app_sm2[0],
        "MEDINS_PLATFORM_PUBLIC_KEY": platform_sm2[1],
        "MEDINS_ORG_CODE": "H32060200001",
        "SANDBOX_MEDINS_PLATFORM_PRIVATE_KEY": platform_sm2[0],
        "SANDBOX_MEDINS_APP_PUBLIC_KEY": app_sm2[1],
        "MEDINS_USERQUERY_PARTNER_ID": partner_id,
        "MEDINS_USERQUERY_SECRET": partner_secret,
        "SANDBOX_MEDINS_USERQUERY_PARTNER_ID": partner_id,
        "SANDBOX_MEDINS_USERQUERY_SECRET": partner_secret,
        "WECHATPAY_MCHID": "1900000100",  # the hub's own (combine) merchant; hospitals have theirs
        "WECHATPAY_APIV3_KEY": apiv3_key,
        "WECHATPAY_PRIVATE_KEY_PATH": merchant_key,
        "WECHATPAY_APICLIENT_CERT_PATH": apiclient_cert(merchant_key),
        "WECHATPAY_CERT_SERIAL": serial,
        "WECHATPAY_PUBLIC_KEY_PATH": platform_pub,
        "WECHATPAY_PUBLIC_KEY_ID": public_key_id,
        "SANDBOX_WECHATPAY_PLATFORM_PRIVATE_KEY_PATH": platform_key,
        "SANDBOX_WECHATPAY_PUBLIC_KEY_ID": public_key_id,
        "SANDBOX_WECHATPAY_APIV3_KEY": apiv3_key,
        "SANDBOX_WECHATPAY_MERCHANT_SERIAL": serial,
        "SANDBOX_WECHATPAY_MCHID": "1900000100",
        "SANDBOX_WECHATPAY_SUB_MCHIDS": list(DEMO_SUB_MCHIDS),
        "SANDBOX_WECHATPAY_MERCHANT_PUBLIC_KEY_PATH": merchant_pub,
        "WECHATPAY_APIV2_KEY": apiv2_key,
        "SANDBOX_WECHATPAY_APIV2_KEY": apiv2_key,
    }
    values["POSTPAY_DEV_FINGERPRINTS"] = dev_fingerprints(values)
    return values


#: Generated values the app must never accept without the sandbox.
DEV_SECRETS = (
    "SECRET_KEY",
    "POSTPAY_DATA_KEY",
    "WECHATPAY_APIV3_KEY",
    "WECHATPAY_APIV2_KEY",
    "MEDINS_USERQUERY_SECRET",
)
DEV_KEY_FILES = ("WECHATPAY_PRIVATE_KEY_PATH", "WECHATPAY_PUBLIC_KEY_PATH")


def dev_fingerprints(values):
    """SHA-256 of each generated secret and of each generated key pair's public half."""
    found = [fingerprint(values[k]) for k in DEV_SECRETS if values.get(k)]
    for name in DEV_KEY_FILES:
        with open(values[name], "rb") as f:
            key = f.read()
        if b"PRIVATE" in key:
            key = serialization.load_pem_private_key(key, None).public_key()
        else:
            key = serialization.load_pem_public_key(key)
        found.append(
            fingerprint(key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
        )
    return found


#: Keys the sandbox must share with the app: when an older config lacks the first, it copies the second.
LINKED = {
    "SANDBOX_WECHAT_APPID": "WECHAT_APPID",
    "SANDBOX_WECHAT_SECRET": "WECHAT_SECRET",
    "SANDBOX_WECHAT_MP_APPID": "WECHAT_MP_APPID",
    "SANDBOX_WECHAT_MP_SECRET": "WECHAT_MP_SECRET",
    "SANDBOX_MEDINS_APP_ID": "MEDINS_APP_ID",
    "SANDBOX_MEDINS_APP_SECRET": "MEDINS_APP_SECRET",
    "SANDBOX_WECHATPAY_PUBLIC_KEY_ID": "WECHATPAY_PUBLIC_KEY_ID",
    "SANDBOX_WECHATPAY_APIV3_KEY": "WECHATPAY_APIV3_KEY",
    "SANDBOX_WECHATPAY_MERCHANT_SERIAL": "WECHATPAY_CERT_SERIAL",
    "SANDBOX_WECHATPAY_MCHID": "WECHATPAY_MCHID",
    "SANDBOX_WECHATPAY_APIV2_KEY": "WECHATPAY_APIV2_KEY",
    "SANDBOX_MEDINS_USERQUERY_PARTNER_ID": "MEDINS_USERQUERY_PARTNER_ID",
    "SANDBOX_MEDINS_USERQUERY_SECRET": "MEDINS_USERQUERY_SECRET",
}


#: Keys computed from another that an older config already has.
DERIVED = {
    "SANDBOX_MEDINS_APP_PUBLIC_KEY": ("MEDINS_PRIVATE_KEY", public_key_of),
    "MEDINS_PLATFORM_PUBLIC_KEY": ("SANDBOX_MEDINS_PLATFORM_PRIVATE_KEY", public_key_of),
    "WECHATPAY_APICLIENT_CERT_PATH": ("WECHATPAY_PRIVATE_KEY_PATH", apiclient_cert),
}


def _completion(key, existing, fresh):
    if LINKED.get(key) in existing:
        return existing[LINKED[key]]
    if key in DERIVED and DERIVED[key][0] in existing:
        return DERIVED[key][1](existing[DERIVED[key][0]])
    return fresh()[key]


def write_instance_config(directory):
    """Write ``directory/config.py``, or add to an existing one the keys a newer version needs.

    Returns "written", "updated" or "kept". Existing values are never changed, except that
    a ``POSTPAY_SANDBOX`` line an older version wrote is dropped: the switch is environment-only.
    """
    path = os.path.join(directory, "config.py")
    if not os.path.exists(path):
        values = generate(os.path.abspath(directory))
        lines = ["# Development secrets, generated by postpay.devkeys. Git-ignored; never commit.\n"]
        lines += ["%s = %r\n" % item for item in values.items()]
        with open(path, "w") as f:
            f.writelines(lines)
        os.chmod(path, 0o600)
        return "written"
    existing = {}
    with open(path) as f:
        text = f.read()
    exec(compile(text, path, "exec"), {}, existing)  # our own generated file
    kept = "".join(line for line in text.splitlines(True) if not line.startswith("POSTPAY_SANDBOX ="))
    missing = [k for k in generate_keys() if k not in existing]
    if not missing and kept == text:
        return "kept"
    made = {}

    def fresh():  # new keys only when nothing already there determines them
        if not made:
            made.update(generate(tempfile.mkdtemp(prefix="devkeys-")))
        return made

    added = {k: _completion(k, existing, fresh) for k in missing}
    for key in [k for k in added if k.endswith("_PATH")]:  # key files move next to the config
        target = os.path.join(os.path.abspath(directory), os.path.basename(added[key]))
        if not os.path.exists(target):
            shutil.copy(added[key], target)
            os.chmod(target, 0o600)
        added[key] = target
    if "POSTPAY_DEV_FINGERPRINTS" in added:  # of the values this config holds, old and new
        added["POSTPAY_DEV_FINGERPRINTS"] = dev_fingerprints(existing | added)
    with open(path, "w") as f:
        f.write(kept)
        if added:
            f.write("# Added by a newer postpay.devkeys.\n")
            f.writelines("%s = %r\n" % item for item in added.items())
    return "updated"


def generate_keys():
    """The names ``generate`` produces (without making keys)."""
    return list(LINKED) + [
        "POSTPAY_DEV_FINGERPRINTS",
        "SECRET_KEY",
        "POSTPAY_DATA_KEY",
        "WECHAT_APPID",
        "WECHAT_SECRET",
        "WECHAT_MP_APPID",
        "WECHAT_MP_SECRET",
        "MEDINS_APP_ID",
        "MEDINS_APP_SECRET",
        "MEDINS_PRIVATE_KEY",
        "MEDINS_PLATFORM_PUBLIC_KEY",
        "MEDINS_ORG_CODE",
        "SANDBOX_MEDINS_PLATFORM_PRIVATE_KEY",
        "SANDBOX_MEDINS_APP_PUBLIC_KEY",
        "MEDINS_USERQUERY_PARTNER_ID",
        "MEDINS_USERQUERY_SECRET",
        "WECHATPAY_MCHID",
        "WECHATPAY_APIV3_KEY",
        "WECHATPAY_PRIVATE_KEY_PATH",
        "WECHATPAY_CERT_SERIAL",
        "WECHATPAY_PUBLIC_KEY_PATH",
        "WECHATPAY_PUBLIC_KEY_ID",
        "SANDBOX_WECHATPAY_PLATFORM_PRIVATE_KEY_PATH",
        "SANDBOX_WECHATPAY_MERCHANT_PUBLIC_KEY_PATH",
        "SANDBOX_WECHATPAY_SUB_MCHIDS",
        "WECHATPAY_APIV2_KEY",
        "WECHATPAY_APICLIENT_CERT_PATH",
    ]


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else "instance"
    print("%s/config.py: %s" % (target, write_instance_config(target)))
