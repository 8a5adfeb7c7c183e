"""The console's patient page shows the credit record people see (R18, issue 19): status, open
records with their bills, past records with their repair times."""

from tests.credit.arrears import arrears_fixture  # noqa: F401  (the arrears fixture)


def test_the_patient_page_shows_open_and_repaired_records_R18(client, staff, arrears):
    member = staff("credit-window")
    url = "/console/patients/%s" % arrears["patient"]["id"]
    page = member.get(url).text
    assert "信用档案" not in page and "恶意欠费记录" not in page
    arrears["suspend"]("2026-12-21T10:00:00+08:00")
    page = member.get(url).text
    assert "信用档案（全市共享）" in page and "未修复，诊后付暂停中" in page
    assert "2026-12-21 10:00" in page and "南通市第一人民医院 2026-11-20 ¥300.00（待缴费）" in page
    arrears["repair"]()
    page = member.get(url).text
    assert "已修复 " in page and "未修复" not in page and "（已缴费）" in page
