// Checks an audit event's inclusion proof in the browser, with WebCrypto only:
//   leaf hash = SHA-256(0x00 || leaf bytes)            (RFC 9162 section 2.1.1)
//   root      = the audit path folded from the leaf     (RFC 9162 section 2.1.3.2)
//   checkpoint: its size and root equal the proof's, and its ECDSA P-256 / SHA-256 signature verifies
//   with the ledger public key (a key pinned in this browser wins over the one the server sends).
"use strict";
(function () {
  const box = document.getElementById("proof");
  if (!box) return;
  const PIN = "veriframe.ledgerKey";
  const enc = new TextEncoder();
  const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
  const unhex = (s) => Uint8Array.from(s.match(/../g) || [], (h) => parseInt(h, 16));
  const concat = (...parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  };
  const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const equal = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

  async function rootFromPath(index, size, leafHash, path) {
    if (index >= size) throw new Error(`leaf ${index} is outside a tree of ${size}`);
    let fn = BigInt(index), sn = BigInt(size) - 1n, r = leafHash;
    for (const p of path) {
      if (sn === 0n) throw new Error("the audit path is longer than the tree is deep");
      if ((fn & 1n) === 1n || fn === sn) {
        r = await sha256(concat(Uint8Array.of(1), p, r));
        if ((fn & 1n) === 0n) { while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; } }
      } else {
        r = await sha256(concat(Uint8Array.of(1), r, p));
      }
      fn >>= 1n; sn >>= 1n;
    }
    if (sn !== 0n) throw new Error("the audit path is shorter than the tree is deep");
    return r;
  }

  // ECDSA signatures are DER (SEQUENCE of two INTEGERs); WebCrypto wants r || s, 32 bytes each.
  function derToRaw(der) {
    let i = 0;
    const read = () => {
      if (der[i++] !== 0x02) throw new Error("not a DER ECDSA signature");
      const len = der[i++];
      let v = der.slice(i, i + len); i += len;
      while (v.length > 32 && v[0] === 0) v = v.slice(1);
      if (v.length > 32) throw new Error("not a P-256 signature");
      return concat(new Uint8Array(32 - v.length), v);
    };
    if (der[i++] !== 0x30) throw new Error("not a DER ECDSA signature");
    if (der[i] & 0x80) i += 1 + (der[i] & 0x7f); else i += 1;
    return concat(read(), read());
  }

  const pemBody = (pem) => b64(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""));

  // The checkpoint body: origin, tree size, base64 root hash, then extension lines.
  function parseCheckpoint(text) {
    const body = text.split("\n\n")[0];
    const lines = body.split("\n");
    if (lines.length < 3) throw new Error("the checkpoint does not parse");
    return { origin: lines[0], size: BigInt(lines[1]), root: b64(lines[2]), body: enc.encode(body.endsWith("\n") ? body : body + "\n") };
  }

  function step(text, ok) {
    const li = document.createElement("li");
    li.textContent = text;
    li.className = ok ? "ok" : "bad";
    document.getElementById("proof-steps").appendChild(li);
  }

  function done(ok, text) {
    const status = document.getElementById("proof-status");
    status.textContent = text;
    status.className = "status " + (ok ? "ok" : "bad");
    box.dataset.result = ok ? "verified" : "failed";
  }

  async function check() {
    const response = await fetch(box.dataset.proofUrl, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`the server answered ${response.status} for the proof`);
    const p = await response.json();
    const leaf = b64(p.leaf_b64);
    const doc = JSON.parse(new TextDecoder().decode(leaf));
    const seqOk = String(doc.seq) === String(p.seq);
    step(`The leaf bytes are event #${doc.seq} (${doc.type || doc.event_type || "event"})`, seqOk);
    if (!seqOk) return done(false, "FAILED: the leaf is not this event");
    const leafHash = await sha256(concat(Uint8Array.of(0), leaf));
    step(`Leaf hash ${hex(leafHash).slice(0, 16)}…`, true);
    const root = await rootFromPath(p.leaf_index, p.tree_size, leafHash, p.path.map(unhex));
    step(`Audit path of ${p.path.length} hashes gives root ${hex(root).slice(0, 16)}… for ${p.tree_size} events`, true);
    const cp = parseCheckpoint(p.checkpoint.signed_data);
    const sizeOk = cp.size === BigInt(p.tree_size);
    step(`The checkpoint covers ${cp.size} events`, sizeOk);
    const rootOk = equal(cp.root, root);
    step(rootOk ? "The checkpoint's root equals the computed root" : "The checkpoint's root differs from the computed root", rootOk);
    const pinned = localStorage.getItem(PIN);
    const spki = pemBody(pinned || p.checkpoint.public_key_pem);
    document.getElementById("key-id").textContent = hex(await sha256(spki)) + (pinned ? " (pinned in this browser)" : " (sent by the server)");
    const key = await crypto.subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
    const sig = derToRaw(b64(p.checkpoint.signature_b64));
    const sigOk = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, sig, cp.body);
    step(sigOk ? "The checkpoint signature verifies with the ledger key" : "The checkpoint signature does NOT verify", sigOk);
    const ok = seqOk && sizeOk && rootOk && sigOk;
    done(ok, ok ? "Verified in your browser: this event is in the signed ledger." : "FAILED: the proof does not check out.");
  }

  document.getElementById("pin-key").addEventListener("click", () => {
    const text = document.getElementById("pinned-key").value.trim();
    if (text) { localStorage.setItem(PIN, text); location.reload(); }
  });
  document.getElementById("unpin-key").addEventListener("click", () => { localStorage.removeItem(PIN); location.reload(); });
  document.getElementById("pinned-key").value = localStorage.getItem(PIN) || "";
  check().catch((error) => { step(String(error.message || error), false); done(false, "FAILED: " + (error.message || error)); });
})();
