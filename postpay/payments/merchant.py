"""WeChat Pay's merchant model, as a service provider (服务商): ``WECHATPAY_MCHID`` is ours
(sp_mchid) and ``WECHAT_APPID`` our appid (sp_appid); each hospital's ``mchid`` is a
sub-merchant (sub_mchid). Every request is signed as the provider. A hospital whose ``mchid``
is ``WECHATPAY_MCHID`` is the provider itself (one hospital running its own merchant account)
and is paid through the direct APIs. Both money channels place, query and close their JSAPI
orders (and the kiosk's native ones) through these few functions.

The payer pays in the app they signed in with (``g.user_app``): the mini-program (``WECHAT_APPID``)
or the official account (``WECHAT_MP_APPID``), with their openid under that app. The official
account is the provider's (bound to ``WECHATPAY_MCHID``: it is then sp_appid with
``payer.sp_openid``), unless a hospital owns it (``hospital add --oa-appid``): that hospital's
orders name it as sub_appid with ``payer.sub_openid``, beside our sp_appid. Each order keeps the
appids it named (``PaymentOrder.appid``, ``sub_appid``), which its notifications must name."""

from flask import current_app

from postpay.accounts.models import APP_OA


def sub_mchid(mchid):
    """The hospital's sub-merchant id, or None when the hospital is the provider itself."""
    return None if mchid == current_app.config["WECHATPAY_MCHID"] else mchid


def payer_of(user, app):
    """``(appid, openid)`` the payer pays with: the official account's when they signed in there
    (``app`` is APP_OA), else the mini-program's."""
    cfg = current_app.config
    if app == APP_OA:
        return cfg["WECHAT_MP_APPID"], user.oa_openid
    return cfg["WECHAT_APPID"], user.openid


def jsapi_request(mchid, payer, order, hospital_oa_appid=None):
    """A JSAPI order for the hospital ``mchid`` paid by ``payer`` (``payer_of``): the partner body
    for a sub-merchant, the direct one for the provider itself. ``order`` holds description,
    out_trade_no, time_expire, attach, notify_url and amount. When the payer's app is the
    hospital's own official account (``hospital_oa_appid``), it goes as sub_appid with sub_openid."""
    cfg, sub = current_app.config, sub_mchid(mchid)
    appid, openid = payer
    if sub is None:
        return {"appid": appid, "mchid": mchid} | order | {"payer": {"openid": openid}}
    if appid == hospital_oa_appid and appid != cfg["WECHAT_APPID"]:
        provider = {"sp_appid": cfg["WECHAT_APPID"], "sp_mchid": cfg["WECHATPAY_MCHID"]}
        provider |= {"sub_appid": appid, "sub_mchid": sub}
        return provider | order | {"payer": {"sub_openid": openid}}
    provider = {"sp_appid": appid, "sp_mchid": cfg["WECHATPAY_MCHID"], "sub_mchid": sub}
    return provider | order | {"payer": {"sp_openid": openid}}


def named_appids(request):
    """``(appid, sub_appid)`` a stored order request names: what its notifications must name."""
    appid = request.get("combine_appid") or request.get("sp_appid") or request.get("appid")
    return appid, request.get("sub_appid")


def payer_appid(request):
    """The appid the payer's WeChat pays the order in (JSAPI 调起支付's appId, which paySign
    covers): sub_appid when the order went with the payer's sub_openid, else the order's appid."""
    if (request.get("payer") or {}).get("sub_openid"):
        return request["sub_appid"]
    return named_appids(request)[0]


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


def expected(mchid, appid=None, sub_appid=None):
    """Who an answer or notification about the hospital ``mchid``'s order must name:
    ``(mchid or sp_mchid, sub_mchid, appid or sp_appid or combine_appid, sub_appid)``, the appids
    being those the stored order named (None: an order from before the official account, ours)."""
    cfg = current_app.config
    return cfg["WECHATPAY_MCHID"], sub_mchid(mchid), appid or cfg["WECHAT_APPID"], sub_appid


def named(resource, appid=None):
    """Who a transaction resource names, in the shape of ``expected`` (``appid``: a combine
    order's combine_appid, for its sub-orders)."""
    return (
        resource.get("sp_mchid") or resource.get("mchid"),
        resource.get("sub_mchid"),
        appid or resource.get("sp_appid") or resource.get("appid"),
        resource.get("sub_appid"),
    )
