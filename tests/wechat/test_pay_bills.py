"""The trade statement: where to download it, its SHA1, and a download signed over its path and token."""

import hashlib
import time

import pytest
import requests

from tests.wechat.test_pay_client import client_for
from wechat import pay


def download_info(app):
    """The tradebill answer for today, through our client's signed request."""
    return client_for(app).request("GET", "/v3/bill/tradebill?bill_date=2026-11-30&bill_type=ALL")


def signed_get(app, url, signed_path, serial=None):
    wechat_pay = client_for(app)
    auth = pay.authorization(
        wechat_pay.mchid, serial or wechat_pay.serial_no, wechat_pay.private_key, "GET", signed_path, ""
    )
    return requests.get(url, headers={"Authorization": auth}, timeout=5)


def test_tradebill_answers_a_token_url_and_the_files_sha1(app):
    info = download_info(app)
    gateway = app.config["LIVE_URL"] + "/sandbox/wechatpay"
    assert info["download_url"].startswith(gateway + "/v3/billdownload/file?token=")
    assert info["hash_type"] == "SHA1"
    text = client_for(app).trade_bill("2026-11-30")
    assert text.startswith("交易时间,") and hashlib.sha1(text.encode()).hexdigest() == info["hash_value"]


def test_the_download_is_refused_unless_signed_over_its_path_and_token(app):
    url = download_info(app)["download_url"]
    relative = url[len(app.config["LIVE_URL"] + "/sandbox/wechatpay") :]
    assert signed_get(app, url, relative).status_code == 200
    refused = [
        signed_get(app, url, relative.split("?")[0]),  # the path without its ?token= query
        signed_get(app, url, "/sandbox/wechatpay" + relative),  # the sandbox's mount point signed too
        signed_get(app, url, relative, serial="NOT_OUR_SERIAL"),
        requests.get(url, timeout=5),
    ]
    for resp in refused:
        assert resp.status_code == 401 and resp.json()["code"] == "SIGN_ERROR"
    ours = client_for(app)
    stale = pay.authorization(ours.mchid, ours.serial_no, ours.private_key, "GET", relative, "", int(time.time()) - 600)
    assert requests.get(url, headers={"Authorization": stale}, timeout=5).status_code == 401
    unknown = url.split("?")[0] + "?token=never-issued"
    assert signed_get(app, unknown, "/v3/billdownload/file?token=never-issued").status_code == 400


def test_a_damaged_file_is_refused_by_its_sha1(app, client):
    assert client.post("/sandbox/wechatpay/statements/damage").get_json() == {"damaged": True}
    with pytest.raises(pay.PayError) as e:
        client_for(app).trade_bill("2026-11-30")
    assert e.value.code == "HASH_MISMATCH"
    assert client_for(app).trade_bill("2026-11-30").startswith("交易时间,")  # only that one download


def test_a_download_url_off_the_api_host_is_not_followed(app):
    """Our signature goes to the API host only."""
    app.config["POSTPAY_SANDBOX_URL"] = "http://127.0.0.1:9/sandbox"  # where the sandbox says the file is
    with pytest.raises(pay.PayError) as e:
        client_for(app).trade_bill("2026-11-30")
    assert e.value.code == "DOWNLOAD_URL"
