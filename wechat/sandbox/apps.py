"""The WeChat apps the sandbox plays and the openids each one minted.

An openid is one person in one app: the mini-program's (jscode2session) and the official
account's (web authorization, ``sns/oauth2/access_token``) are different strings, and WeChat Pay
refuses an openid sent under another app's appid ("openid和appid不匹配"). The sandbox remembers
which app minted each openid, so a payment or a message naming it under another appid is refused.

The provider (服务商, ``SANDBOX_WECHATPAY_MCHID``) has both apps bound: either may be sp_appid,
a direct order's appid or combine_appid. A sub-merchant's own official account (sub_appid) is bound
to that sub-merchant only: ``SANDBOX_WECHATPAY_SUB_APPIDS`` ({sub_mchid: [appid]}) and those
registered with ``POST /sandbox/wechatpay/sub-merchants`` (``sub_appids``).

References: JSAPI下单 (服务商) ``/v3/pay/partner/transactions/jsapi``: sub_appid 子商户应用ID;
payer.sp_openid 用户在服务商appid下的唯一标识; payer.sub_openid 用户在子商户appid下的唯一标识,
若传sub_openid则sub_appid必填; 合单下单: combine_payer_info.openid 用户在合单发起方appid下的标识."""

from flask import current_app

from wechat.sandbox.common import redis

TTL = 30 * 86400


def mint(appid, openid):
    """``appid`` gave out ``openid`` (an openid is only ever one app's)."""
    redis().set("sbx:wx:openid:%s" % openid, appid, ex=TTL, nx=True)


def app_of(openid):
    """The appid that minted ``openid``, None for one never minted."""
    found = redis().get("sbx:wx:openid:%s" % openid) if isinstance(openid, str) and openid else None
    return found.decode() if found else None


def mini_appid():
    return current_app.config["SANDBOX_WECHAT_APPID"]


def mp_appid():
    return current_app.config.get("SANDBOX_WECHAT_MP_APPID") or None


def provider_appids():
    """The appids bound to the provider: the mini-program and the official account."""
    return {a for a in (mini_appid(), mp_appid()) if a}


def bind_sub_appid(sub_mchid, appid):
    redis().sadd("sbx:pay:sub-appids:%s" % sub_mchid, appid)


def sub_appid_bound(sub_mchid, appid):
    """``appid`` is bound to the sub-merchant ``sub_mchid``."""
    if not isinstance(appid, str) or not appid:
        return False
    bound = current_app.config.get("SANDBOX_WECHATPAY_SUB_APPIDS") or {}
    return appid in bound.get(sub_mchid, ()) or bool(redis().sismember("sbx:pay:sub-appids:%s" % sub_mchid, appid))


def payer_refusal(appid, openid, sub_appid=None, sub_openid=None, sub_mchid=None):
    """``(code, message)`` WeChat Pay answers for an order's app and payer, or None when they fit:
    appid one of the provider's, sub_appid bound to the sub-merchant, each openid minted by the
    appid it goes with."""
    if appid not in provider_appids():
        return "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配，请检查后再试"
    if sub_openid and not sub_appid:
        return "PARAM_ERROR", "传sub_openid时sub_appid必填"
    if sub_appid and not sub_appid_bound(sub_mchid, sub_appid):
        return "APPID_MCHID_NOT_MATCH", "sub_appid和sub_mchid不匹配，请检查后再试"
    if openid and app_of(openid) != appid:
        return "PARAM_ERROR", "openid和appid不匹配"
    if sub_openid and app_of(sub_openid) != sub_appid:
        return "PARAM_ERROR", "sub_openid和sub_appid不匹配"
    return None


def payer_appid(body, kind):
    """The app a placed order is paid in (the appId JSAPI 调起支付 signs): combine_appid, the direct
    appid, or a partner order's sub_appid when it went with sub_openid, else its sp_appid."""
    if kind == "combine":
        return body.get("combine_appid")
    if kind == "partner":
        return body.get("sub_appid") if (body.get("payer") or {}).get("sub_openid") else body.get("sp_appid")
    return body.get("appid")
