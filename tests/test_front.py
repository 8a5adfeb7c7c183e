"""The front page, the browsable API docs (served from the pinned package, no CDN) and health."""

import re
import shutil

import pytest

from app import create_app
from postpay.hospitals.models import Hospital


def test_front_page_says_what_the_service_is_and_links_console_docs_and_health(client):
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "先诊疗后付费" in html
    for link in ("/console/login", "/docs/", "/openapi.json", "/healthz"):
        assert 'href="%s"' % link in html
    assert page.headers["X-Frame-Options"] == "DENY"


def test_with_the_sandbox_the_front_page_shows_the_demo_logins_and_his_secrets(app, client, runner):
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    html = client.get("/").get_data(as_text=True)
    assert "沙箱模式" in html and "o-demo-son" in html
    with app.app_context():
        for hospital in Hospital.query.filter(Hospital.code.in_(["NT01", "HA01"])):
            assert hospital.his_secret in html and hospital.mchid in html


def test_without_the_sandbox_no_demo_data_nor_secret_is_shown(production):
    page = create_app(production).test_client().get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "先诊疗后付费" in html
    assert "沙箱" not in html and "o-demo" not in html and "HIS 密钥" not in html


def test_docs_are_swagger_ui_from_local_files_reading_our_openapi(client):
    page = client.get("/docs/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/openapi.json?scope=api" in html and "/openapi.json?scope=sandbox" in html
    assert "<script>" not in html  # no inline script: the page's CSP allows scripts from our files only
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    # Nothing from another host (the icon is an empty data: URL, so no favicon request).
    assert sources and all(s.startswith("/docs/") or s == "data:," for s in sources), sources
    bundle = client.get("/docs/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.get_data()) > 100_000
    assert client.get("/docs/swagger-ui.css").mimetype == "text/css"
    assert client.get("/docs/LICENSE").status_code == 404  # only the files the page loads


def test_health_answers_ok_when_database_and_redis_answer(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.get_json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


@pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")
def test_health_answers_503_when_redis_is_down(own_redis, client):
    assert client.get("/healthz").status_code == 200
    own_redis.stop()
    answer = client.get("/healthz")
    assert answer.status_code == 503
    error = answer.get_json()["error"]
    assert error["code"] == "UNHEALTHY" and error["details"] == {"checks": {"database": "ok", "redis": "down"}}
