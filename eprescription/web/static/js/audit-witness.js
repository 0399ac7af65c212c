// The patient's browser as a witness of the audit log (docs/architecture.md): it keeps the last
// signed tree head it saw (localStorage) and checks, with the RFC 9162 consistency proof the
// service publishes, that each new head extends it. A service that rewrote its history would
// have to show this browser a head that fails the check: the page then says so in words.
"use strict";
(function () {
  var box = document.getElementById("audit-witness");
  if (!box || !window.crypto || !window.crypto.subtle || !window.localStorage) { return; }
  var KEY = "eprescription.audit-head";

  function bytes(base64) {
    var text = atob(base64), out = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) { out[i] = text.charCodeAt(i); }
    return out;
  }
  function equal(a, b) {
    if (a.length !== b.length) { return false; }
    for (var i = 0; i < a.length; i++) { if (a[i] !== b[i]) { return false; } }
    return true;
  }
  function nodeHash(left, right) {  // SHA-256(0x01 || left || right)
    var data = new Uint8Array(1 + left.length + right.length);
    data[0] = 1; data.set(left, 1); data.set(right, 1 + left.length);
    return crypto.subtle.digest("SHA-256", data).then(function (d) { return new Uint8Array(d); });
  }

  // RFC 9162 section 2.1.4.2, step by step.
  async function verifyConsistency(first, second, firstRoot, secondRoot, proof) {
    if (first === second) { return proof.length === 0 && equal(firstRoot, secondRoot); }
    if (first < 1 || first > second || proof.length === 0) { return false; }
    var path = proof.slice();
    if ((first & (first - 1)) === 0) { path.unshift(firstRoot); }  // first is a power of two
    var fn = first - 1, sn = second - 1;
    while (fn & 1) { fn >>= 1; sn >>= 1; }
    var fr = path[0], sr = path[0];
    for (var i = 1; i < path.length; i++) {
      var c = path[i];
      if (sn === 0) { return false; }
      if ((fn & 1) || fn === sn) {
        fr = await nodeHash(c, fr);
        sr = await nodeHash(c, sr);
        while (!(fn & 1) && fn !== 0) { fn >>= 1; sn >>= 1; }
      } else {
        sr = await nodeHash(sr, c);
      }
      fn >>= 1; sn >>= 1;
    }
    return sn === 0 && equal(fr, firstRoot) && equal(sr, secondRoot);
  }

  function say(kind) {
    box.textContent = box.getAttribute("data-" + kind);
    box.className = "audit-witness " + kind;
    box.hidden = false;
    box.setAttribute("data-state", kind);
  }

  fetch("/api/v1/audit/checkpoint", { credentials: "omit" }).then(function (response) {
    if (!response.ok) { return null; }  // nothing sealed yet
    return response.json();
  }).then(function (head) {
    if (!head) { return; }
    var seen = null;
    try { seen = JSON.parse(localStorage.getItem(KEY) || "null"); } catch (e) { seen = null; }
    if (!seen) { localStorage.setItem(KEY, JSON.stringify(head)); say("first"); return; }
    if (head.tree_size < seen.tree_size) { say("fork"); return; }
    var url = "/api/v1/audit/consistency?from=" + seen.tree_size + "&to=" + head.tree_size;
    var proof = head.tree_size === seen.tree_size
      ? Promise.resolve({ proof: [] })
      : fetch(url, { credentials: "omit" }).then(function (r) { return r.json(); });
    return proof.then(function (answer) {
      return verifyConsistency(seen.tree_size, head.tree_size, bytes(seen.root_hash),
        bytes(head.root_hash), (answer.proof || []).map(bytes));
    }).then(function (consistent) {
      if (!consistent) { say("fork"); return; }
      localStorage.setItem(KEY, JSON.stringify(head));
      say("consistent");
    });
  }).catch(function () { /* offline or no log: the page works without this check */ });
}());
