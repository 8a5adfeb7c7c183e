"""The console in a real browser: Playwright driving Debian's chromium (never a downloaded
browser) against a live server of the test app, at 1366x768, partly by keyboard. Walks
login -> lookup -> window signing -> void a disputed item -> window payment -> dashboard,
saving a screenshot of each step under ``artifacts/browser/`` (git-ignored)."""

import os
import re
import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import bearer, last_sms_code

CHROMIUM = os.environ.get("POSTPAY_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = os.environ.get(
    "POSTPAY_ARTIFACTS", os.path.join(os.path.dirname(__file__), "..", "..", "artifacts", "browser")
)


@pytest.fixture
def live(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)  # a port of the system's choosing: no race
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_port
    server.shutdown()
    thread.join(5)


@pytest.fixture
def browser_page():
    from playwright.sync_api import sync_playwright

    os.makedirs(ARTIFACTS, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(15000)
        yield page
        context.close()
        browser.close()


def shot(page, name):
    page.screenshot(path=os.path.join(ARTIFACTS, name + ".png"), full_page=False)


def test_r6_r12_r13_a_window_shift_in_the_browser(app, client, runner, hospitals, person, his, live, browser_page):
    page = browser_page
    out = runner.invoke(
        args=[
            "staff",
            "create",
            "zhang.li",
            "--role",
            "supervisor",
            "--hospital",
            "NT01",
            "--password",
            "window-pass-2026",
        ]
    )
    assert out.exit_code == 0, out.output
    token, patient = person("o-browser-1", name="陈阿婆", birth="19470707")

    # Login, by keyboard: the username field has the focus, Tab goes to the password, Enter submits.
    page.goto(live + "/console/patients/" + patient["id"])
    assert "/console/login" in page.url
    assert page.evaluate("document.activeElement.id") == "username"
    page.keyboard.type("zhang.li")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type("window-pass-2026")
    shot(page, "01-login")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"^[^?]*/console/patients/[^/?]+$"))
    page.goto(live + "/console/")

    # Lookup by identity number.
    page.fill("#q", patient["id_number_plain"])
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"^[^?]*/console/patients/[^/?]+$"))
    assert page.is_visible("text=陈阿婆") and patient["id_number_plain"] not in page.content()
    shot(page, "02-patient")

    # Window signing: ID check, the SMS code, a signature drawn on the pad.
    page.check("#id-check")
    page.fill("#sign-phone", "13655550001")
    page.click("text=发送验证码")
    page.wait_for_selector("text=验证码已发送至 136****0001")
    box = page.locator("#pad").bounding_box()
    page.mouse.move(box["x"] + 40, box["y"] + 120)
    page.mouse.down()
    for i in range(1, 12):
        page.mouse.move(box["x"] + 40 + i * 30, box["y"] + 120 - (i % 3) * 30, steps=3)
    page.mouse.up()
    page.fill("#sms", last_sms_code(client, "13655550001"))
    shot(page, "03-signing")
    page.click("text=确认签约")
    page.wait_for_selector("text=签约成功")
    assert page.is_visible("text=已签约")
    shot(page, "04-signed")

    # A visit at NT01; the patient flags the CT as not done.
    visit = his.visit("B-1", patient)
    items = his.items("B-1", ("B-1-1", "lab", "血常规", 1, 2000), ("B-1-2", "exam", "CT平扫", 1, 30000))
    his.event("B-1", "visit_finished")
    flagged = client.post(
        "/api/v1/bills/%s/disputes" % visit["bill_id"],
        json={"item_ids": [items[1]["item_id"]], "reason": "CT没有做"},
        headers=bearer(token),
    )
    assert flagged.status_code == 201

    # Disputes desk: confirm the void.
    page.click("nav >> text=退费核对")
    page.wait_for_selector("text=CT没有做")
    shot(page, "05-disputes")
    page.click("text=确认放弃并作废")
    page.wait_for_selector("text=已确认放弃并作废该项目")
    assert his.open("/his/v1/voids", method="GET").get_json()["voids"][0]["his_item_no"] == "B-1-2"

    # Window payment of what is left (20.00) with the patient's WeChat payment code.
    page.goto(live + "/console/patients/" + patient["id"])
    code = client.post("/sandbox/wechatpay/payment-codes", json={"openid": "o-browser-1"}).get_json()["auth_code"]
    page.select_option("select[name=mode]", "micropay")
    page.fill("input[name=auth_code]", code)
    page.click("text=收费 ¥20.00")
    page.wait_for_selector("text=收费成功 ¥20.00")
    shot(page, "06-paid")

    # Dashboard: today's signing and payment are counted.
    page.click("nav >> text=运营看板")
    page.wait_for_selector("svg")
    assert page.inner_text("#fig-signings") == "1" and page.inner_text("#fig-paid") == "20.00"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366  # no sideways scrolling at 1366x768
    shot(page, "07-dashboard")


def test_the_front_page_leads_to_the_console_and_the_docs_which_render_offline(live, browser_page):
    page = browser_page
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.goto(live + "/")
    assert page.locator("h1").inner_text() == "先诊疗后付费 · 亲情付"
    shot(page, "front")
    page.click("text=接口文档")
    # Swagger UI drew the operations from /openapi.json (1.7 MB of script: slow on a busy machine)
    page.wait_for_selector(".opblock-summary-path", timeout=60000)
    login = page.get_by_text("/api/v1/auth/wechat-login", exact=True)
    for _ in range(60):  # Swagger UI draws the tags further down as the page scrolls to them
        if login.count():
            break
        page.mouse.wheel(0, 3000)
        page.wait_for_timeout(250)
    assert login.count() >= 1
    shot(page, "docs")
    page.goto(live + "/")
    page.click("text=窗口工作台（医院工作人员）")
    assert "/console/login" in page.url
    assert all(url.startswith(live) for url in requests), [u for u in requests if not u.startswith(live)]
    assert not errors, errors  # no script refused by the page's CSP, no failed load
