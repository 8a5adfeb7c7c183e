// The official account's page (sandbox): the token arrives in the URL fragment after
// /oauth/wechat/callback, is kept in sessionStorage only, and the fragment is cleared at once.
(function () {
  "use strict";
  var KEY = "postpay.mp.token";
  var $ = function (id) { return document.getElementById(id); };

  function takeToken() {
    if (location.hash.length > 1) {
      var token = new URLSearchParams(location.hash.slice(1)).get("token");
      if (token) { sessionStorage.setItem(KEY, token); }
      history.replaceState(null, "", location.pathname + location.search);
    }
    return sessionStorage.getItem(KEY);
  }

  function say(text) { $("status").textContent = text; }

  function api(method, path, body, headers) {
    var h = { "Authorization": "Bearer " + sessionStorage.getItem(KEY) };
    if (body) { h["Content-Type"] = "application/json"; }
    Object.keys(headers || {}).forEach(function (k) { h[k] = headers[k]; });
    return fetch(path, { method: method, headers: h, body: body ? JSON.stringify(body) : undefined })
      .then(function (r) {
        return r.text().then(function (text) {
          var json = text ? JSON.parse(text) : {};
          if (r.status === 401) { signOut(); }
          if (!r.ok) { throw new Error((json.error && json.error.message) || ("HTTP " + r.status)); }
          return json;
        });
      });
  }

  function yuan(fen) { return (fen / 100).toFixed(2); }

  function signOut() {
    sessionStorage.removeItem(KEY);
    $("signed-in").hidden = true;
    $("signed-out").hidden = false;
  }

  function bills() {
    return api("GET", "/api/v1/bills/outstanding").then(function (data) {
      var list = $("bills");
      list.textContent = "";
      $("empty").hidden = data.bills.length > 0;
      data.bills.forEach(function (bill) {
        var box = document.createElement("div");
        box.className = "bill" + (bill.overdue ? " overdue" : "");
        box.id = "bill-" + bill.id;
        var line = document.createElement("p");
        line.textContent = bill.patient.name + " · " + bill.hospital.name + " · " + bill.visit_day +
          (bill.overdue ? " · 已逾期" : "");
        var amount = document.createElement("p");
        amount.className = "amount";
        amount.textContent = "¥" + yuan(bill.amount_fen);
        var button = document.createElement("button");
        button.type = "button";
        button.className = "pay";
        button.textContent = "微信支付";
        button.disabled = bill.status !== "due";
        button.addEventListener("click", function () { pay(bill, button); });
        box.append(line, amount, button);
        list.append(box);
      });
    });
  }

  // WeixinJSBridge inside WeChat; outside it the sandbox's stand-in of getBrandWCPayRequest.
  function brandWCPay(params) {
    if (window.WeixinJSBridge) {
      return new Promise(function (resolve) { window.WeixinJSBridge.invoke("getBrandWCPayRequest", params, resolve); });
    }
    return fetch("/sandbox/wechat/jsbridge/getBrandWCPayRequest", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(params)
    }).then(function (r) { return r.json(); });
  }

  function pay(bill, button) {
    button.disabled = true;
    say("正在下单…");
    var key = "mp-" + bill.id + "-" + Date.now();
    api("POST", "/api/v1/payments", { bill_ids: [bill.id] }, { "Idempotency-Key": key })
      .then(function (created) {
        say("请在微信支付中确认…");
        return brandWCPay(created.request_payment).then(function (res) {
          if (res.err_msg !== "get_brand_wcpay_request:ok") {
            throw new Error("支付未完成：" + (res.err_desc || res.err_msg));
          }
          return api("GET", "/api/v1/payments/" + created.payment.id);
        });
      })
      .then(function (shown) {
        say(shown.payment.status === "paid" ? "支付成功" : "支付处理中，请稍后刷新");
        return bills();
      })
      .catch(function (e) { say(e.message); button.disabled = false; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("signout").addEventListener("click", function () {
      api("POST", "/api/v1/auth/logout").finally(signOut);
    });
    if (!takeToken()) { return; }
    $("signed-out").hidden = true;
    $("signed-in").hidden = false;
    api("GET", "/api/v1/me")
      .then(function (data) {
        var own = data.user.patients.filter(function (p) { return p.relationship === "self"; })[0];
        $("who").textContent = own ? own.name : "未实名";
        return bills();
      })
      .catch(function (e) { say(e.message); });
  });
})();
