"""Safe by default: the sandbox only from the environment, and without it no start on
development keys, weak secrets, unreadable key files or notify URLs WeChat would refuse."""

import base64
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from app import create_app
from postpay.devkeys import generate, write_instance_config
from postpay.posture import UnsafeConfiguration

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def refusals(config):
    with pytest.raises(UnsafeConfiguration) as caught:
        create_app(config)
    assert caught.value.code == 3  # gunicorn's "worker failed to boot": no restart loop
    return caught.value.problems


def test_production_values_start_without_the_sandbox(production):
    app = create_app(production)
    assert app.config["POSTPAY_SANDBOX"] is False
    assert not [r for r in app.url_map.iter_rules() if r.rule.startswith("/sandbox")]
    assert app.test_client().post("/sandbox/medins/auth-codes", json={"name": "x"}).status_code == 404


@pytest.mark.parametrize(
    "change, line",
    [
        ({"SECRET_KEY": None}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": "x" * 31}, "SECRET_KEY is shorter than 32 bytes"),
        ({"SECRET_KEY": "postpay-dev-" + "x" * 40}, "SECRET_KEY is a development value"),
        ({"POSTPAY_DATA_KEY": ""}, "POSTPAY_DATA_KEY is not set"),
        ({"POSTPAY_DATA_KEY": base64.b64encode(b"short").decode()}, "POSTPAY_DATA_KEY is not base64 of 32 bytes"),
        (
            {"POSTPAY_DATA_KEY": base64.b64encode(b"postpay-dev" + b"\x01" * 21).decode()},
            "POSTPAY_DATA_KEY is the generated development key",
        ),
        ({"WECHATPAY_PRIVATE_KEY_PATH": "/nonexistent/key.pem"}, "WECHATPAY_PRIVATE_KEY_PATH: cannot read"),
        ({"WECHATPAY_PUBLIC_KEY_PATH": ""}, "WECHATPAY_PUBLIC_KEY_PATH is not set"),
        ({"WECHATPAY_PUBLIC_KEY_PATH": __file__}, "WECHATPAY_PUBLIC_KEY_PATH: %s is not a PEM public key" % __file__),
        ({"WECHATPAY_APIV3_KEY": "short"}, "WECHATPAY_APIV3_KEY is not 32 bytes"),
        ({"WECHATPAY_APICLIENT_CERT_PATH": ""}, "WECHATPAY_APICLIENT_CERT_PATH is not set"),
        ({"WECHATPAY_APICLIENT_CERT_PATH": "/nonexistent/c.pem"}, "WECHATPAY_APICLIENT_CERT_PATH: cannot read"),
        (
            {"WECHATPAY_APICLIENT_CERT_PATH": __file__},
            "WECHATPAY_APICLIENT_CERT_PATH: %s is not a PEM certificate" % __file__,
        ),
        ({"WECHATPAY_NOTIFY_URL": "http://pay.example.cn/notify"}, "WECHATPAY_NOTIFY_URL is not an https URL"),
        ({"WECHATPAY_NOTIFY_URL": "https://pay.example.cn/notify?h=1"}, "WECHATPAY_NOTIFY_URL carries a query"),
        ({"WECHATPAY_MEDINS_NOTIFY_URL": "http://127.0.0.1/m"}, "WECHATPAY_MEDINS_NOTIFY_URL is not an https URL"),
        ({"MEDINS_USERQUERY_SECRET": "postpay-dev-" + "x" * 32}, "MEDINS_USERQUERY_SECRET is a development value"),
    ],
)
def test_each_unsafe_setting_is_refused_with_its_own_line(production, change, line):
    problems = refusals(dict(production, **change))
    assert len(problems) == 1 and problems[0].startswith(line), problems


def test_generated_development_keys_are_refused_one_line_each(production, tmp_path):
    dev = generate(str(tmp_path / "dev"))
    copied = {k: dev[k] for k in ("SECRET_KEY", "POSTPAY_DATA_KEY", "WECHATPAY_APIV3_KEY", "MEDINS_USERQUERY_SECRET")}
    copied |= {
        k: dev[k] for k in ("WECHATPAY_PRIVATE_KEY_PATH", "WECHATPAY_PUBLIC_KEY_PATH", "WECHATPAY_APICLIENT_CERT_PATH")
    }
    problems = refusals(dict(production, POSTPAY_DEV_FINGERPRINTS=dev["POSTPAY_DEV_FINGERPRINTS"], **copied))
    assert problems == [
        "SECRET_KEY is a development value",
        "POSTPAY_DATA_KEY is the generated development key",
        "WECHATPAY_APIV3_KEY is a development key",
        "WECHATPAY_PRIVATE_KEY_PATH is a development key",
        "WECHATPAY_PUBLIC_KEY_PATH is a development key",
        "WECHATPAY_APICLIENT_CERT_PATH is the development certificate",
        "MEDINS_USERQUERY_SECRET is a development value",
    ]


def test_an_api_client_certificate_of_another_key_is_refused(production, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    key = generate(str(other))["WECHATPAY_PRIVATE_KEY_PATH"]
    from postpay.devkeys import apiclient_cert

    problems = refusals(dict(production, WECHATPAY_APICLIENT_CERT_PATH=apiclient_cert(key)))
    assert problems == ["WECHATPAY_APICLIENT_CERT_PATH is not the certificate of WECHATPAY_PRIVATE_KEY_PATH"]


def test_a_missing_key_file_fails_the_start_not_the_first_payment(config):
    """Also with the sandbox on: the keys are loaded at startup."""
    problems = refusals(dict(config, WECHATPAY_PRIVATE_KEY_PATH="/nonexistent/merchant.pem"))
    assert problems[0].startswith("WECHATPAY_PRIVATE_KEY_PATH: cannot read /nonexistent/merchant.pem")


def test_generated_config_never_turns_the_sandbox_on(tmp_path, monkeypatch):
    assert write_instance_config(str(tmp_path)) == "written"
    assert "POSTPAY_SANDBOX" not in (tmp_path / "config.py").read_text().replace("POSTPAY_SANDBOX_", "")
    # An older version wrote the switch into the file: it is ignored, and the next setup drops it.
    with open(tmp_path / "config.py", "a") as f:
        f.write("POSTPAY_SANDBOX = True\n")
    monkeypatch.setenv("POSTPAY_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("POSTPAY_SANDBOX", raising=False)
    with pytest.raises(UnsafeConfiguration):  # and the development keys are not enough to serve
        create_app()
    assert write_instance_config(str(tmp_path)) == "updated"
    assert "POSTPAY_SANDBOX =" not in (tmp_path / "config.py").read_text()
    monkeypatch.setenv("POSTPAY_SANDBOX", "1")
    assert create_app().config["POSTPAY_SANDBOX"] is True


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gunicorn(instance, env_values):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTPAY_", "DATABASE_URL", "REDIS_URL"))}
    env |= {"POSTPAY_INSTANCE_PATH": str(instance), "PORT": str(_free_port()), **env_values}
    cmd = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True), env


def test_a_server_after_make_setup_without_the_variable_has_no_sandbox(tmp_path, production):
    """`make setup`, then gunicorn as the README's PostgreSQL recipe starts it, without POSTPAY_SANDBOX."""
    instance = tmp_path / "instance"
    subprocess.run([sys.executable, "-m", "postpay.devkeys", str(instance)], cwd=ROOT, check=True)
    prod_env = {("DATABASE_URL" if k == "SQLALCHEMY_DATABASE_URI" else k): v for k, v in production.items()}
    del prod_env["POSTPAY_SANDBOX"]  # not in the environment: the point of the test
    proc, env = _gunicorn(instance, prod_env)
    base = "http://127.0.0.1:%s" % env["PORT"]
    try:
        for _ in range(100):
            try:
                answer = requests.post(base + "/sandbox/medins/auth-codes", json={"name": "张三"}, timeout=60)
                break
            except requests.ConnectionError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.1)
        assert answer.status_code == 404
        assert requests.get(base + "/sandbox/sms/outbox?phone=13800000000", timeout=2).status_code == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)


def test_a_server_on_the_generated_config_alone_refuses_to_start(tmp_path):
    instance = tmp_path / "instance"
    subprocess.run([sys.executable, "-m", "postpay.devkeys", str(instance)], cwd=ROOT, check=True)
    proc, _ = _gunicorn(instance, {})
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0
    lines = [line for line in output.splitlines() if line.startswith("postpay: refusing to start: ")]
    assert [line.split(": ", 2)[2].split(" ")[0] for line in lines] == [
        "SECRET_KEY",
        "POSTPAY_DATA_KEY",
        "WECHATPAY_APIV3_KEY",
        "WECHATPAY_PRIVATE_KEY_PATH",
        "WECHATPAY_PUBLIC_KEY_PATH",
        "WECHATPAY_APICLIENT_CERT_PATH",
        "WECHATPAY_NOTIFY_URL",
        "MEDINS_USERQUERY_SECRET",
    ]


def test_commands_reach_the_development_servers_sandbox_without_port(tmp_path):
    """`make run` on another port: a command in another shell, without PORT, finds its sandbox."""
    instance = tmp_path / "instance"
    subprocess.run([sys.executable, "-m", "postpay.devkeys", str(instance)], cwd=ROOT, check=True)
    proc, env = _gunicorn(instance, {"POSTPAY_SANDBOX": "1"})
    try:
        port_file = instance / "dev-server-port"
        for _ in range(200):
            if port_file.exists() and port_file.read_text():
                break
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.1)
        command_env = {k: v for k, v in env.items() if k != "PORT"}
        asked = "from app import create_app; print(create_app().config['POSTPAY_SANDBOX_URL'])"
        out = subprocess.run([sys.executable, "-c", asked], cwd=ROOT, env=command_env, capture_output=True, text=True)
        url = out.stdout.strip().splitlines()[-1]
        assert url == "http://127.0.0.1:%s/sandbox" % env["PORT"]
        assert requests.get(url + "/sms/outbox?phone=13800000000", timeout=30).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
    assert not port_file.exists()  # gone with the server
