import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

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
  .checks { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }
  .checks section { border: 1px solid var(--line); border-radius: 6px; padding: 6px 8px; }
  .checks h3 { margin: 0 0 2px; font-size: 12px; } .checks .en { color: var(--muted); font-size: 11px; }
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
<script src="/h5/sm3.js"></script>
<script src="/h5/sm2.js"></script>
<script src="/h5/verify.js"></script>
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
        verifyBox.textContent = "查验中… Checking…";
        var server = el("section", { "data-check": "server" }, ["…"]);
        var browser = el("section", { "data-check": "browser" }, ["…"]);
        verifyBox.replaceChildren(el("div", { class: "checks" }, [server, browser]));
        var serverDone = post("/h5/api/verify", { token: r.token }).then(function (v) {
          server.replaceChildren(
            el("h3", {}, ["服务器查验"]), el("div", { class: "en" }, ["Server check"]),
            el("div", { class: v.authentic ? "good" : "bad", "data-verdict": v.authentic ? "verified" : "not-verified" },
              [v.authentic ? "✔ 票据真实有效 Verified" : "✘ 票据验证未通过 Not verified"]),
            el("div", {}, ["单位签名 Agency：" + (v.agency.valid ? "有效 valid " + (v.agency.signer || "") : "无效 invalid")]),
            el("div", {}, ["财政监制 Finance：" + (v.finance.valid ? "有效 valid " + (v.finance.signer || "") : "无效 invalid")]),
            el("div", {}, [v.chained ? "证书链：已核验至平台信任的证书 Chained to the trusted certificates" : "证书链：未配置信任证书 No trusted certificate known"]),
            el("div", {}, ["票据状态 Status：" + v.statusText]));
        }).catch(function (e) { server.textContent = e.message; });
        var browserDone = window.PiaojuVerify.receipt(r.token).then(function (b) {
          browser.replaceChildren(
            el("h3", {}, ["浏览器查验"]), el("div", { class: "en" }, ["Browser check (sm-crypto, in this page)"]),
            el("div", { class: b.verified ? "good" : "bad", "data-verdict": b.verified ? "verified" : "not-verified" },
              [b.verified ? "✔ 本机验证通过 Verified here" : "✘ 本机验证未通过 Not verified here"]),
            el("div", {}, ["单位签名 Agency：" + b.agency.text]),
            el("div", {}, ["财政监制 Finance：" + b.finance.text]),
            el("div", {}, ["文档摘要 SM3：" + b.digestText]));
        }).catch(function (e) {
          browser.replaceChildren(el("h3", {}, ["浏览器查验"]),
            el("div", { class: "bad", "data-verdict": "not-verified" }, ["✘ 无法在本机查验 Could not check here: " + e.message]));
        });
        await Promise.all([serverDone, browserDone]);
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

/**
 * The check in the browser (本机查验): over the exact bytes the page fetched, with sm-crypto's
 * browser build (window.sm2, window.sm3), independent of the server's answer. For each detached
 * PKCS#7 SignedData: the signer's certificate found by issuer and serial number, the document's
 * SM3 equal to the signed messageDigest, the SM2 signature (SM3 with Z_A, default user ID) over
 * the DER of the authenticated attributes, the certificate valid when finance supervised the
 * receipt, and either one of the trusted ones (finance's pinned supervision certificate) or
 * signed by a trusted CA of the same side.
 */
export const RECEIPT_VERIFY_JS = `(function () {
  "use strict";
  var OID_MESSAGE_DIGEST = "2a864886f70d010904";

  function hex(bytes) { var s = ""; for (var i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16); return s; }
  function fromBase64(b64) { var bin = atob(b64); var out = new Uint8Array(bin.length); for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i); return out; }
  function fromPem(pem) { return fromBase64(pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\\s+/g, "")); }
  function same(a, b) { if (a.length !== b.length) return false; for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false; return true; }

  // DER, as far as these structures need it: one element at pos (tag, where its content starts and ends).
  function node(bytes, pos) {
    if (pos + 2 > bytes.length) throw new Error("truncated DER");
    var tag = bytes[pos], p = pos + 1, len = bytes[p++];
    if (len & 0x80) {
      var n = len & 0x7f; if (n < 1 || n > 4) throw new Error("bad DER length");
      len = 0; for (var i = 0; i < n; i++) len = len * 256 + bytes[p++];
    }
    if (p + len > bytes.length) throw new Error("truncated DER");
    return { tag: tag, start: pos, body: p, end: p + len, bytes: bytes };
  }
  function kids(n) { var out = [], p = n.body; while (p < n.end) { var c = node(n.bytes, p); out.push(c); p = c.end; } return out; }
  function whole(n) { return n.bytes.subarray(n.start, n.end); }
  function content(n) { return n.bytes.subarray(n.body, n.end); }

  // UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ), as milliseconds.
  function time(n) {
    var t = ""; content(n).forEach(function (b) { t += String.fromCharCode(b); });
    if (n.tag === 0x17) t = (Number(t.slice(0, 2)) < 50 ? "20" : "19") + t;
    return Date.UTC(+t.slice(0, 4), +t.slice(4, 6) - 1, +t.slice(6, 8), +t.slice(8, 10), +t.slice(10, 12), +t.slice(12, 14));
  }
  function certificate(der) {
    var top = kids(node(der, 0)), tbs = kids(top[0]), i = tbs[0].tag === 0xa0 ? 1 : 0;
    var spki = kids(tbs[i + 5]), validity = kids(tbs[i + 3]);
    return {
      der: der, tbs: whole(top[0]), serial: content(tbs[i]), issuer: whole(tbs[i + 2]), subject: whole(tbs[i + 4]),
      notBefore: time(validity[0]), notAfter: time(validity[1]),
      publicKey: hex(content(spki[1]).subarray(1)), signature: hex(content(top[2]).subarray(1)),
    };
  }
  function signedData(der) {
    var info = kids(node(der, 0));
    var sd = kids(kids(info[1])[0]);
    var certs = [], signers = [];
    sd.forEach(function (part, index) {
      if (index > 2 && part.tag === 0xa0) kids(part).forEach(function (c) { certs.push(certificate(whole(c).slice())); });
      if (index > 2 && part.tag === 0x31) signers = kids(part);
    });
    if (signers.length !== 1) throw new Error("expected one signer");
    var si = kids(signers[0]), ias = kids(si[1]), j = 3, attrs;
    if (si[3].tag === 0xa0) { attrs = si[3]; j = 4; }
    return { certs: certs, issuer: whole(ias[0]), serial: content(ias[1]), attrs: attrs, signature: hex(content(si[j + 1])) };
  }
  function verifySm2(message, signatureHex, publicKeyHex) {
    return window.sm2.doVerifySignature(Array.prototype.slice.call(message), signatureHex, publicKeyHex, { der: true, hash: true });
  }

  // One signature over the document; trusted: the certificates of its side (agency or finance);
  // at: when finance supervised the receipt, the time the certificates must have been valid at.
  function check(signatureB64, documentBytes, trusted, at) {
    try {
      var s = signedData(fromBase64(signatureB64));
      var signer = s.certs.filter(function (c) { return same(c.issuer, s.issuer) && same(c.serial, s.serial); })[0];
      if (!signer) return { valid: false, text: "未找到签名证书 no signer certificate" };
      var signed = documentBytes;
      if (s.attrs) {
        var digest = null;
        kids(s.attrs).forEach(function (a) { var p = kids(a); if (hex(content(p[0])) === OID_MESSAGE_DIGEST) digest = hex(content(kids(p[1])[0])); });
        if (digest !== window.sm3(Array.prototype.slice.call(documentBytes))) return { valid: false, text: "文档已被改动 the document was changed" };
        signed = whole(s.attrs).slice(); signed[0] = 0x31; // signed as a SET OF, per PKCS#7
      }
      if (!verifySm2(signed, s.signature, signer.publicKey)) return { valid: false, text: "签名无效 the signature does not verify" };
      if (!(at >= signer.notBefore && at <= signer.notAfter)) return { valid: false, text: "证书当时不在有效期内 the certificate was not valid then" };
      var pinned = trusted.some(function (t) { return same(t.der, signer.der); });
      var issuer = trusted.filter(function (t) { return same(t.subject, signer.issuer) && verifySm2(signer.tbs, signer.signature, t.publicKey); })[0];
      if (!pinned && !issuer) return { valid: false, text: "证书不受信任 the certificate is not trusted" };
      return { valid: true, text: "有效 valid" + (pinned ? "（证书已固定 pinned certificate）" : "（证书链至受信任 CA chained to a trusted CA）") };
    } catch (e) {
      return { valid: false, text: "无法读取签名 unreadable signature (" + e.message + ")" };
    }
  }

  async function fetchOk(path) {
    var res = await fetch(path, { cache: "no-store" });
    if (!res.ok) throw new Error(res.status === 404 ? "链接已过期，请重新查询 the link expired" : "HTTP " + res.status);
    return res;
  }

  // The served document carries both signatures in <EInvoiceSignature>; taken out, the stored
  // bytes remain (their SM3 is documentSm3). The signatures cover Header + EInvoiceData from
  // document version 1.2.0 on, the whole stored document before (as @piaoju/contracts says).
  var asText = function (bytes) { return new TextDecoder("windows-1252").decode(bytes); }; // one char per byte
  function unsignedOf(bytes) {
    var text = asText(bytes), open = text.lastIndexOf("<EInvoiceSignature>");
    if (open < 0) return bytes;
    var close = text.indexOf("</EInvoiceSignature>", open);
    if (close < 0) return bytes;
    var out = new Uint8Array(bytes.length - (close + 20 - open));
    out.set(bytes.subarray(0, open)); out.set(bytes.subarray(close + 20), open);
    return out;
  }
  function portionSigned(version) {
    if (!version) return false;
    var v = version.split(".").map(Number), since = [1, 2, 0];
    for (var i = 0; i < 3; i++) if ((v[i] || 0) !== since[i]) return (v[i] || 0) > since[i];
    return true;
  }
  function signedContentOf(unsigned) {
    var text = asText(unsigned), m = new RegExp("<Header>(?:(?!</Header>).)*?<Version>([0-9.]+)</Version>").exec(text);
    if (!portionSigned(m && m[1])) return unsigned;
    var start = text.indexOf("<Header>"), end = text.lastIndexOf("</EInvoiceData>");
    return start < 0 || end < start ? unsigned : unsigned.subarray(start, end + 15);
  }
  function embedded(bytes, name) {
    var m = new RegExp("<" + name + ">.*?<SignatureValue>([^<]*)</SignatureValue></" + name + ">").exec(asText(bytes));
    return m ? m[1] : null;
  }

  async function receipt(token) {
    var t = encodeURIComponent(token);
    var responses = await Promise.all([fetchOk("/h5/api/receipts/" + t + "/document"), fetchOk("/h5/api/receipts/" + t + "/signatures"), fetchOk("/h5/api/trust")]);
    var served = new Uint8Array(await responses[0].arrayBuffer());
    var sigs = await responses[1].json(), trust = await responses[2].json();
    var side = function (roles) { return trust.certificates.filter(function (c) { return roles.indexOf(c.role) >= 0; }).map(function (c) { return certificate(fromPem(c.pem)); }); };
    var unsigned = unsignedOf(served), content = signedContentOf(unsigned);
    var digestOk = window.sm3(Array.prototype.slice.call(unsigned)) === sigs.documentSm3;
    var at = Date.parse(sigs.supervisedAt);
    // The signatures the document itself carries are the ones checked.
    var agency = check(embedded(served, "InvoicingPartySignature") || sigs.agencySignature, content, side(["AGENCY_CA", "CONFIGURED"]), at);
    var finance = check(embedded(served, "SupervisorPartySignature") || sigs.financeSignature, content, side(["FINANCE_SUPERVISION", "FINANCE_CA", "CONFIGURED"]), at);
    return {
      verified: digestOk && agency.valid && finance.valid, agency: agency, finance: finance, digestOk: digestOk,
      digestText: digestOk ? "与开具时一致 as issued" : "与开具时不一致 differs from the issued one",
    };
  }

  window.PiaojuVerify = { receipt: receipt };
})();`;

const requireHere = createRequire(import.meta.url);
const cached = new Map<string, string>();
/** sm-crypto's prebuilt browser files, read once on first use. */
function smCryptoFile(name: "sm2.js" | "sm3.js"): () => string {
  return () => {
    let source = cached.get(name);
    if (source === undefined) {
      source = readFileSync(requireHere.resolve(`sm-crypto/dist/${name}`), "utf8");
      cached.set(name, source);
    }
    return source;
  };
}

/** The scripts the page loads beside pickup.js, by file name under /h5/. */
export const SM_CRYPTO_SCRIPTS: Record<string, () => string> = {
  "sm2.js": smCryptoFile("sm2.js"),
  "sm3.js": smCryptoFile("sm3.js"),
  "verify.js": () => RECEIPT_VERIFY_JS,
};
