/**
 * The H5 pick-up page (在线取票): one small mobile page, no framework, that an agency embeds
 * in its website with an iframe. It only ever sends what the payer typed in POST bodies
 * (nothing personal in a URL), and shows only what the server returns for those inputs.
 */
export const PICKUP_HTML = `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>电子票据取票</title>
<style>
  :root { --red: #b3261e; --ink: #1f1f1f; --muted: #6b6b6b; --line: #e6e0dc; --bg: #f7f4f2; }
  * { box-sizing: border-box; }
  body { margin: 0; font-family: -apple-system, "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif; color: var(--ink); background: var(--bg); }
  header { background: var(--red); color: #fff; padding: 14px 16px; }
  header h1 { margin: 0; font-size: 18px; font-weight: 600; }
  header p { margin: 4px 0 0; font-size: 12px; opacity: .85; }
  main { max-width: 560px; margin: 0 auto; padding: 12px; }
  .tabs { display: flex; gap: 6px; margin-bottom: 10px; }
  .tabs button { flex: 1; padding: 9px 4px; border: 1px solid var(--line); background: #fff; border-radius: 8px; font-size: 13px; color: var(--muted); }
  .tabs button[aria-selected="true"] { border-color: var(--red); color: var(--red); font-weight: 600; }
  form { background: #fff; border-radius: 10px; padding: 14px; border: 1px solid var(--line); }
  form[hidden] { display: none; }
  label { display: block; font-size: 13px; color: var(--muted); margin: 8px 0 4px; }
  input { width: 100%; padding: 10px; font-size: 15px; border: 1px solid var(--line); border-radius: 6px; }
  .row { display: flex; gap: 8px; } .row input { flex: 1; }
  button.primary { width: 100%; margin-top: 14px; padding: 11px; background: var(--red); color: #fff; border: 0; border-radius: 8px; font-size: 15px; }
  button.secondary { padding: 0 12px; border: 1px solid var(--red); color: var(--red); background: #fff; border-radius: 6px; white-space: nowrap; }
  #message { margin: 10px 2px; font-size: 13px; color: var(--muted); min-height: 18px; }
  .card { background: #fff; border: 1px solid var(--line); border-left: 4px solid var(--red); border-radius: 10px; padding: 12px 14px; margin-bottom: 10px; }
  .card h2 { margin: 0 0 6px; font-size: 15px; }
  .card dl { display: grid; grid-template-columns: 76px 1fr; gap: 3px 8px; margin: 0; font-size: 13px; }
  .card dt { color: var(--muted); } .card dd { margin: 0; word-break: break-all; }
  .amount { font-size: 20px; color: var(--red); font-weight: 600; margin: 4px 0 8px; }
  .tag { display: inline-block; font-size: 11px; padding: 1px 6px; border-radius: 4px; margin-left: 6px; vertical-align: 2px; }
  .tag.ok { background: #e7f4ea; color: #1e7b34; } .tag.red { background: #fde8e6; color: var(--red); }
  .actions { display: flex; gap: 8px; margin-top: 10px; }
  .actions a, .actions button { flex: 1; text-align: center; padding: 8px; border-radius: 6px; font-size: 13px; text-decoration: none; border: 1px solid var(--red); color: var(--red); background: #fff; }
  .actions a { background: var(--red); color: #fff; }
  .verify { margin-top: 8px; font-size: 12px; line-height: 1.6; }
  .verify .good { color: #1e7b34; } .verify .bad { color: var(--red); }
  footer { text-align: center; font-size: 11px; color: var(--muted); padding: 16px; }
</style>
</head>
<body>
<header><h1>财政电子票据 · 在线取票</h1><p>查询、下载并查验您的电子票据</p></header>
<main>
  <div class="tabs" role="tablist">
    <button role="tab" aria-selected="true" data-tab="serial">业务流水号</button>
    <button role="tab" aria-selected="false" data-tab="phone">手机验证码</button>
    <button role="tab" aria-selected="false" data-tab="check">票据查验</button>
  </div>
  <form id="serial" autocomplete="off">
    <label for="bizSerialNo">业务流水号</label><input id="bizSerialNo" name="bizSerialNo" required maxlength="64">
    <label for="payerName">交款人姓名</label><input id="payerName" name="payerName" required maxlength="200">
    <button class="primary" type="submit">查询票据</button>
  </form>
  <form id="phone" autocomplete="off" hidden>
    <label for="phoneNo">手机号码</label>
    <div class="row"><input id="phoneNo" name="phone" inputmode="tel" maxlength="20" required><button class="secondary" type="button" id="sendCode">获取验证码</button></div>
    <label for="smsCode">短信验证码</label><input id="smsCode" name="code" inputmode="numeric" maxlength="6" required>
    <button class="primary" type="submit">查询票据</button>
  </form>
  <form id="check" autocomplete="off" hidden>
    <label for="billCode">票据代码</label><input id="billCode" name="billCode" inputmode="numeric" maxlength="8" required>
    <label for="number">票据号码</label><input id="number" name="number" inputmode="numeric" maxlength="10" required>
    <label for="checkCode">校验码</label><input id="checkCode" name="checkCode" inputmode="numeric" maxlength="6" required>
    <button class="primary" type="submit">查验票据</button>
  </form>
  <div id="message" role="status"></div>
  <section id="results"></section>
</main>
<footer>Piaoju 财政电子票据平台</footer>
<script src="/h5/pickup.js"></script>
</body>
</html>`;

export const PICKUP_JS = `(function () {
  "use strict";
  var agency = new URLSearchParams(location.search).get("agency") || undefined;
  var message = document.getElementById("message");
  var results = document.getElementById("results");

  function say(text) { message.textContent = text; }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) { node.append(c); });
    return node;
  }
  async function post(path, body) {
    var res = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    var data = await res.json().catch(function () { return {}; });
    if (!res.ok) throw new Error(res.status === 429 ? "操作过于频繁，请稍后再试" : (data.detail || "查询失败"));
    return data;
  }

  document.querySelectorAll(".tabs button").forEach(function (tab) {
    tab.addEventListener("click", function () {
      document.querySelectorAll(".tabs button").forEach(function (t) { t.setAttribute("aria-selected", String(t === tab)); });
      document.querySelectorAll("form").forEach(function (f) { f.hidden = f.id !== tab.dataset.tab; });
      say(""); results.replaceChildren();
    });
  });

  function show(list) {
    results.replaceChildren();
    if (!list.length) { say("未找到符合条件的票据，请核对后重试。"); return; }
    say("找到 " + list.length + " 张票据");
    list.forEach(function (r) {
      var status = r.status === "RED_FLUSHED" ? el("span", { class: "tag red" }, ["已冲红"])
        : r.status === "PAPER_EXCHANGED" ? el("span", { class: "tag red" }, ["已换开纸质"])
        : r.kind === "red" ? el("span", { class: "tag red" }, ["红字票据"]) : el("span", { class: "tag ok" }, ["正常"]);
      var rows = [["票据代码", r.billCode], ["票据号码", r.number], ["校验码", r.checkCode], ["开票日期", r.issuedOn],
        ["交款人", r.payerName], ["执收单位", r.agencyName], ["大写金额", r.totalUpper]];
      var dl = el("dl");
      rows.forEach(function (p) { dl.append(el("dt", {}, [p[0]]), el("dd", {}, [p[1]])); });
      var verifyBox = el("div", { class: "verify" });
      var verifyButton = el("button", { type: "button" }, ["查验真伪"]);
      verifyButton.addEventListener("click", async function () {
        verifyBox.textContent = "查验中…";
        try {
          var v = await post("/h5/api/verify", { token: r.token });
          verifyBox.replaceChildren(
            el("div", { class: v.authentic ? "good" : "bad" }, [v.authentic ? "✔ 票据真实有效：单位签名、财政监制签名均验证通过" : "✘ 票据验证未通过"]),
            el("div", {}, ["单位签名：" + (v.agency.valid ? "有效 " + (v.agency.signer || "") : "无效")]),
            el("div", {}, ["财政监制：" + (v.finance.valid ? "有效 " + (v.finance.signer || "") : "无效")]),
            el("div", {}, ["票据状态：" + v.statusText]));
        } catch (e) { verifyBox.textContent = e.message; }
      });
      var download = el("a", { href: "/h5/api/receipts/" + encodeURIComponent(r.token) + "/pdf", download: r.billCode + "-" + r.number + ".pdf" }, ["下载 PDF"]);
      results.append(el("article", { class: "card" }, [
        el("h2", {}, [r.billName, status]),
        el("div", { class: "amount" }, [r.totalFigures]),
        dl,
        el("div", { class: "actions" }, [download, verifyButton]),
        verifyBox,
      ]));
    });
  }

  async function find(body) {
    say("查询中…");
    try { show((await post("/h5/api/find", Object.assign({ agencyCode: agency }, body))).items); }
    catch (e) { results.replaceChildren(); say(e.message); }
  }

  document.getElementById("serial").addEventListener("submit", function (ev) {
    ev.preventDefault();
    find({ method: "serial", bizSerialNo: this.bizSerialNo.value.trim(), name: this.payerName.value.trim() });
  });
  document.getElementById("phone").addEventListener("submit", function (ev) {
    ev.preventDefault();
    find({ method: "phone", phone: this.phone.value.trim(), code: this.code.value.trim() });
  });
  document.getElementById("check").addEventListener("submit", function (ev) {
    ev.preventDefault();
    find({ method: "check", billCode: this.billCode.value.trim(), number: this.number.value.trim(), checkCode: this.checkCode.value.trim() });
  });
  document.getElementById("sendCode").addEventListener("click", async function () {
    var phone = document.getElementById("phoneNo").value.trim();
    try { await post("/h5/api/sms-code", { phone: phone }); say("如该号码有票据，验证码已发送，5 分钟内有效。"); }
    catch (e) { say(e.message); }
  });

  // The QR code link carries the QR text in the fragment, which browsers never send to a server.
  var qr = new URLSearchParams(location.hash.slice(1)).get("qr");
  if (qr) {
    history.replaceState(null, "", location.pathname + location.search);
    document.querySelector('[data-tab="check"]').click();
    find({ method: "qr", qr: qr });
  }
})();`;
