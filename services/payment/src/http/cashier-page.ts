/**
 * The cashier page (缴款挂件 / 收银台): one small mobile page, no framework, as delivery's H5
 * pick-up page is made. It reads its token from its own path, shows what /h5/pay/api/:token
 * answers, opens an H5 order at the channel the payer picks and goes to the channel's pay page;
 * back from the channel it follows the payment until it is settled and the receipt is issued.
 * Everything shown is put in with textContent: nothing the server answers is read as HTML.
 */
const STYLE = `
  :root { --red: #b3261e; --ink: #1f1f1f; --muted: #6b6b6b; --line: #e6e0dc; --bg: #f7f4f2; --ok: #1e7b34; }
  * { box-sizing: border-box; }
  body { margin: 0; font-family: -apple-system, "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif; color: var(--ink); background: var(--bg); }
  header { background: var(--red); color: #fff; padding: 14px 16px; }
  header h1 { margin: 0; font-size: 18px; font-weight: 600; }
  header p { margin: 4px 0 0; font-size: 12px; opacity: .85; }
  main { max-width: 560px; margin: 0 auto; padding: 12px; }
  .card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; margin-bottom: 10px; }
  .card h2 { margin: 0 0 8px; font-size: 15px; }
  .en { color: var(--muted); font-weight: normal; font-size: 12px; margin-left: 4px; }
  dl { display: grid; grid-template-columns: 96px 1fr; gap: 4px 8px; margin: 0; font-size: 13px; }
  dt { color: var(--muted); } dd { margin: 0; word-break: break-all; }
  table { width: 100%; border-collapse: collapse; font-size: 13px; margin-top: 4px; }
  th, td { text-align: left; padding: 5px 2px; border-bottom: 1px solid var(--line); } td.n, th.n { text-align: right; }
  .total { display: flex; justify-content: space-between; align-items: baseline; margin-top: 10px; }
  .amount { font-size: 24px; color: var(--red); font-weight: 600; }
  .upper { font-size: 12px; color: var(--muted); text-align: right; }
  .late { font-size: 12px; color: var(--red); margin-top: 6px; line-height: 1.5; }
  .channels label { display: flex; align-items: center; gap: 10px; padding: 12px 10px; border: 1px solid var(--line); border-radius: 8px; margin-bottom: 8px; font-size: 15px; }
  .channels input { width: 18px; height: 18px; accent-color: var(--red); }
  .channels label:has(input:checked) { border-color: var(--red); }
  button.primary, a.primary { display: block; width: 100%; margin-top: 6px; padding: 12px; background: var(--red); color: #fff; border: 0; border-radius: 8px; font-size: 16px; text-align: center; text-decoration: none; }
  button.primary:disabled { opacity: .5; }
  #message { margin: 10px 2px; font-size: 13px; color: var(--red); min-height: 18px; line-height: 1.5; }
  .state { text-align: center; padding: 22px 14px; }
  .state .big { font-size: 20px; font-weight: 600; margin-bottom: 6px; }
  .state.ok .big { color: var(--ok); } .state.bad .big { color: var(--red); }
  .state p { margin: 6px 0; font-size: 13px; color: var(--muted); line-height: 1.6; }
  .waiting { font-size: 13px; color: var(--muted); text-align: center; margin: 8px 0; }
  footer { text-align: center; font-size: 11px; color: var(--muted); padding: 16px; }
`;

export const CASHIER_HTML = `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>非税缴款 · 收银台</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>非税缴款 · 收银台</h1><p>Non-tax payment · Cashier</p></header>
<main>
  <section id="notice" aria-live="polite"><p class="waiting">正在加载缴款信息… Loading…</p></section>
  <section id="pay"></section>
  <div id="message" role="status"></div>
</main>
<footer>Piaoju 非税收入缴款平台</footer>
<script src="/h5/pay/cashier.js"></script>
</body>
</html>`;

export const NOT_FOUND_HTML = `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>链接无效</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>非税缴款 · 收银台</h1><p>Non-tax payment · Cashier</p></header>
<main><div class="card state bad"><div class="big">链接无效</div><p>This link is not valid.</p><p>请核对处罚决定书或缴款通知上的二维码、链接。<br>Please check the QR code or link on your notice.</p></div></main>
</body>
</html>`;

export const CASHIER_JS = `(function () {
  "use strict";
  var token = location.pathname.split("/").filter(Boolean).pop() || "";
  var api = "/h5/pay/api/" + encodeURIComponent(token);
  var notice = document.getElementById("notice");
  var pay = document.getElementById("pay");
  var message = document.getElementById("message");
  var timer = null;
  var CHANNELS = { alipay: ["支付宝", "Alipay"], wechat: ["微信支付", "WeChat Pay"], unionpay: ["银联云闪付", "UnionPay"] };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }
  function yuan(fen) { return "¥" + (fen / 100).toFixed(2); }
  function heading(zh, en) { return el("h2", {}, [zh, el("span", { class: "en" }, [en])]); }
  function say(text) { message.textContent = text || ""; }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function problemText(body, status) {
    if (status === 429) return "请求过于频繁，请一分钟后再试。Too many requests: please wait a minute.";
    if (body && body.code === "AMOUNT_DUE_CHANGED") return "应缴金额已变化（加处罚款按日计算），请确认新的金额后再支付。The amount due has changed: please confirm the new amount.";
    if (body && body.code === "CHANNEL_UNAVAILABLE") return "支付渠道暂时无法访问，请稍后重试。The payment channel did not answer: please try again.";
    return (body && (body.detailZh || body.detail)) || "出错了，请稍后重试。Something went wrong: please try again.";
  }

  function showNotice(v) {
    clear(notice);
    var rows = [["缴款人", "Payer", v.payerName]];
    if (v.decisionNo) rows.push(["决定书编号", "Decision No.", v.decisionNo]);
    rows.push(["缴款书号", "Notice No.", v.noticeNo]);
    rows.push(["缴款识别码", "Payment code", v.paymentCode]);
    if (v.deadline) rows.push(["缴款期限", "Pay by", v.deadline]);
    var dl = el("dl", {}, []);
    rows.forEach(function (r) {
      dl.appendChild(el("dt", {}, [r[0]]));
      dl.appendChild(el("dd", { "data-field": r[1] }, [r[2]]));
    });
    var table = el("table", {}, [el("tr", {}, [el("th", {}, ["项目 Item"]), el("th", { class: "n" }, ["数量 Qty"]), el("th", { class: "n" }, ["金额 Amount"])])]);
    v.items.forEach(function (i) {
      table.appendChild(el("tr", {}, [el("td", {}, [i.itemCode]), el("td", { class: "n" }, [i.quantity]), el("td", { class: "n" }, [yuan(i.amountFen)])]));
    });
    if (v.amountDue.surchargeFen > 0) {
      table.appendChild(el("tr", { class: "surcharge" }, [el("td", {}, ["加处罚款 Late surcharge"]), el("td", { class: "n" }, [String(v.amountDue.daysLate) + " 天"]), el("td", { class: "n" }, [yuan(v.amountDue.surchargeFen)])]));
    }
    var paid = !!v.paid;
    var card = el("div", { class: "card" }, [
      heading("缴款通知", "Payment notice"),
      dl,
      table,
      el("div", { class: "total" }, [
        el("span", {}, [paid ? "实缴金额 Paid" : "应缴金额 Amount due"]),
        el("span", { class: "amount", id: "amount" }, [yuan(v.amountDue.totalFen)]),
      ]),
      el("div", { class: "upper" }, [v.amountDue.totalUpper]),
    ]);
    if (!paid && v.amountDue.surchargeFen > 0) {
      card.appendChild(el("div", { class: "late" }, [
        "已超过缴款期限 " + v.amountDue.daysLate + " 天，按罚款数额每日 3% 加处罚款（不超过罚款本数），金额按 " + v.amountDue.asOf + " 计算，次日可能变化。",
        el("br"),
        "Past the deadline by " + v.amountDue.daysLate + " day(s): a late surcharge of 3% of the fine per day (never more than the fine), as of " + v.amountDue.asOf + ".",
      ]));
    }
    notice.appendChild(card);
  }

  function showChoice(v) {
    clear(pay);
    if (v.channels.length === 0) {
      pay.appendChild(el("div", { class: "card state bad" }, [el("div", { class: "big" }, ["暂不能在线支付"]), el("p", {}, ["本单位尚未开通在线支付渠道，请到银行柜台缴款。"]), el("p", {}, ["No online payment channel is open for this agency: please pay at a bank counter."])]));
      return;
    }
    var list = el("div", { class: "channels", role: "radiogroup" }, []);
    v.channels.forEach(function (c, n) {
      var input = el("input", { type: "radio", name: "channel", value: c, id: "ch-" + c });
      if (n === 0) input.checked = true;
      var names = CHANNELS[c] || [c, c];
      list.appendChild(el("label", { for: "ch-" + c }, [input, names[0], el("span", { class: "en" }, [names[1]])]));
    });
    var button = el("button", { class: "primary", id: "payButton", type: "button" }, ["确认支付 " + yuan(v.amountDue.totalFen) + " · Pay"]);
    button.addEventListener("click", function () { start(v, button); });
    var card = el("div", { class: "card" }, [heading("选择支付方式", "Choose how to pay"), list, button]);
    if (v.status === "PAYING") {
      card.appendChild(el("p", { class: "waiting" }, ["如已在支付渠道完成付款，请稍候，结果确认中。If you have paid, please wait: the result is on its way."]));
    }
    pay.appendChild(card);
  }

  function showPaid(v) {
    clear(pay);
    var card = el("div", { class: "card state ok", id: "paid" }, [
      el("div", { class: "big" }, ["缴款成功"]),
      el("p", {}, ["Paid · " + yuan(v.paid.paidFen) + " · " + new Date(v.paid.paidAt).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai" })]),
    ]);
    if (v.receipt) {
      card.appendChild(el("p", {}, ["电子票据已开具 The e-receipt is issued: " + (v.receipt.billCode || "") + " " + (v.receipt.number || "") + "，校验码 check code " + (v.receipt.checkCode || "")]));
      card.appendChild(el("a", { class: "primary", id: "pickup", href: v.receipt.pickupUrl, rel: "noopener" }, ["查看电子票据 · View the e-receipt"]));
    } else {
      card.appendChild(el("p", { class: "waiting", id: "issuing" }, ["电子票据开具中，请稍候… The e-receipt is being issued…"]));
    }
    pay.appendChild(card);
  }

  function showEnded(zh, en, more) {
    clear(pay);
    pay.appendChild(el("div", { class: "card state bad", id: "ended" }, [el("div", { class: "big" }, [zh]), el("p", {}, [en]), el("p", {}, [more])]));
  }

  function render(v) {
    showNotice(v);
    var again = false;
    if (v.status === "CREATED" || v.status === "PAYING") {
      if (!document.getElementById("payButton")) showChoice(v);
      again = v.status === "PAYING";
    } else if (v.status === "PAID") {
      showPaid(v);
      again = !v.receipt;
    } else if (v.status === "REFUNDING" || v.status === "REFUNDED") {
      showEnded("已退款", "This payment was refunded.", "款项按原支付渠道退回，如有疑问请联系执收单位。The money goes back the way it was paid.");
    } else if (v.status === "CLOSED") {
      showEnded("该缴款已关闭，不能再支付", "This payment is closed and can no longer be paid.", "可能已超过缴款期限或已在其他途径处理。如有疑问，请联系开具决定书的单位。It may have expired or been settled elsewhere: ask the agency that issued your notice.");
    } else if (v.status === "FAILED") {
      showEnded("缴款书已失效，不能支付", "This payment notice is void and cannot be paid.", "请联系开具决定书的单位重新开具。Ask the agency that issued your notice for a new one.");
    }
    clearTimeout(timer);
    if (again) timer = setTimeout(load, 2500);
  }

  function load() {
    fetch(api, { headers: { accept: "application/json" } }).then(function (res) {
      return res.json().then(function (body) { return { status: res.status, body: body }; });
    }).then(function (r) {
      if (r.status === 404) {
        clear(notice); clear(pay);
        showEnded("链接无效", "This link is not valid.", "请核对处罚决定书或缴款通知上的二维码、链接。Please check the QR code or link on your notice.");
        return;
      }
      if (r.status !== 200) { say(problemText(r.body, r.status)); timer = setTimeout(load, 5000); return; }
      say("");
      render(r.body);
    }).catch(function () { say("网络不通，正在重试… No connection: retrying…"); timer = setTimeout(load, 5000); });
  }

  function start(v, button) {
    var chosen = document.querySelector("input[name=channel]:checked");
    if (!chosen) { say("请选择支付方式。Choose how to pay."); return; }
    button.disabled = true;
    say("");
    fetch(api + "/orders", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ channel: chosen.value, expectedAmountFen: v.amountDue.totalFen }),
    }).then(function (res) {
      return res.json().then(function (body) { return { status: res.status, body: body }; });
    }).then(function (r) {
      if (r.status === 201 && /^https?:\\/\\//.test(r.body.payUrl)) { location.assign(r.body.payUrl); return; }
      button.disabled = false;
      say(problemText(r.body, r.status));
      if (r.body && (r.body.code === "AMOUNT_DUE_CHANGED" || r.body.code === "PAYMENT_CLOSED" || r.body.code === "ALREADY_PAID")) {
        clear(pay);
        load();
      }
    }).catch(function () { button.disabled = false; say("网络不通，请重试。No connection: please try again."); });
  }

  load();
})();
`;
