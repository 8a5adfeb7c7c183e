"""Paying a bill end to end for the HIS's settlement feed and receipts: the payments tests' family
and bills, the console's window staff; and reading the feed as a HIS does."""

from tests.console.conftest import due, staff  # noqa: F401 (fixtures)
from tests.payments.conftest import due_bill, family, pay  # noqa: F401 (fixtures)


def feed(client, caller, cursor=None, limit=None):
    """GET /his/v1/settlements signed by ``caller`` (a HisCaller); returns the answer JSON."""
    args = [("cursor", cursor), ("limit", limit)]
    query = "&".join("%s=%s" % (k, v) for k, v in args if v is not None)
    path = "/his/v1/settlements" + ("?" + query if query else "")
    resp = client.get(path, headers=caller.signed.headers("GET", path, b""))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()
