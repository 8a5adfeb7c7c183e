"""The official account (公众号) in tests: a fixed appid and secret, the same for the app and the
sandbox (``config | OA_CONFIG``), so a test can name the appid in its parameters. People sign in
there with the ``oa_login`` fixture (the web login through the sandbox's authorization)."""

MP_APPID = "wxoa5a4d0c7b2e9f11"
OA_CONFIG = {
    "WECHAT_MP_APPID": MP_APPID,
    "WECHAT_MP_SECRET": "oa-secret-3f1c9a7e5b2d4c6e8a0f1b3d",
    "SANDBOX_WECHAT_MP_APPID": MP_APPID,
    "SANDBOX_WECHAT_MP_SECRET": "oa-secret-3f1c9a7e5b2d4c6e8a0f1b3d",
}
