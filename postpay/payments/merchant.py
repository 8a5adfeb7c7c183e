"""WeChat Pay's merchant model, as a service provider (服务商): ``WECHATPAY_MCHID`` is ours
(sp_mchid) and ``WECHAT_APPID`` our appid (sp_appid); each hospital's ``mchid`` is a
sub-merchant (sub_mchid). Every request is signed as the provider. A hospital whose ``mchid``
is ``WECHATPAY_MCHID`` is the provider itself (one hospital running its own merchant account)
and is paid through the direct APIs. Both money channels place, query and close their JSAPI
orders (and the kiosk's native ones) through these few functions."""

from flask import current_app


def sub_mchid(mchid):
    """The hospital's sub-merchant id, or None when the hospital is the provider itself."""
    return None if mchid == current_app.config["WECHATPAY_MCHID"] else mchid


def jsapi_request(mchid, openid, order):
    """A JSAPI order for the hospital ``mchid``: the partner body for a sub-merchant, the direct
    one for the provider itself. ``order`` holds description, out_trade_no, time_expire, attach,
    notify_url and amount."""
    cfg, sub = current_app.config, sub_mchid(mchid)
    if sub is None:
        return {"appid": cfg["WECHAT_APPID"], "mchid": mchid} | order | {"payer": {"openid": openid}}
    provider = {"sp_appid": cfg["WECHAT_APPID"], "sp_mchid": cfg["WECHATPAY_MCHID"], "sub_mchid": sub}
    return provider | order | {"payer": {"sp_openid": openid}}


def native_request(mchid, order):
    """A native (QR code) order for the hospital ``mchid``, as ``jsapi_request`` without a payer:
    the one who scans the code pays."""
    cfg, sub = current_app.config, sub_mchid(mchid)
    if sub is None:
        return {"appid": cfg["WECHAT_APPID"], "mchid": mchid} | order
    return {"sp_appid": cfg["WECHAT_APPID"], "sp_mchid": cfg["WECHATPAY_MCHID"], "sub_mchid": sub} | order


def place_native(client, request):
    """The stored native request placed at WeChat: returns the code_url."""
    return client.partner_native(request) if "sp_mchid" in request else client.native(request)


def combine_sub_order(mchid, order):
    """One ``sub_orders[]`` entry of a combine order placed as the provider."""
    sub = sub_mchid(mchid)
    return {"mchid": current_app.config["WECHATPAY_MCHID"]} | ({"sub_mchid": sub} if sub else {}) | order


def place(client, request):
    """The stored JSAPI request placed at WeChat: returns the prepay_id."""
    return client.partner_jsapi(request) if "sp_mchid" in request else client.jsapi(request)


def query(client, out_trade_no, mchid):
    sub = sub_mchid(mchid)
    return client.partner_query(out_trade_no, sub) if sub else client.query(out_trade_no, mchid)


def close(client, out_trade_no, mchid):
    sub = sub_mchid(mchid)
    return client.partner_close(out_trade_no, sub) if sub else client.close(out_trade_no, mchid)


def expected(mchid):
    """Who an answer or notification about the hospital ``mchid``'s order must name:
    ``(mchid or sp_mchid, sub_mchid, appid or sp_appid)``."""
    cfg = current_app.config
    return cfg["WECHATPAY_MCHID"], sub_mchid(mchid), cfg["WECHAT_APPID"]


def named(resource, appid=None):
    """Who a transaction resource names, in the shape of ``expected``."""
    return (
        resource.get("sp_mchid") or resource.get("mchid"),
        resource.get("sub_mchid"),
        appid or resource.get("sp_appid") or resource.get("appid"),
    )
