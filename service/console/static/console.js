// Keyboard-first review: j/k move, Enter/o open, a approve, r reject (type reason, Enter), u queue, ? help.
"use strict";
(function () {
  const typing = (el) => el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  const rows = () => Array.from(document.querySelectorAll("table.queue tbody tr"));
  function select(delta) {
    const all = rows();
    if (!all.length) return false;
    let i = all.findIndex((r) => r.classList.contains("selected"));
    all.forEach((r) => r.classList.remove("selected"));
    i = Math.max(0, Math.min(all.length - 1, (i < 0 ? 0 : i) + delta));
    all[i].classList.add("selected");
    all[i].scrollIntoView({ block: "nearest" });
    return true;
  }
  function follow(key) {
    const el = document.querySelector(`[data-key="${key}"]`);
    if (!el) return false;
    if (el.tagName === "A") { window.location.href = el.href; return true; }
    if (el.tagName === "BUTTON") { el.closest("form").requestSubmit(el); return true; }
    if (el.tagName === "INPUT") { el.focus(); return true; }
    return false;
  }
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (typing(ev.target)) {
      if (ev.key === "Escape") ev.target.blur();
      return;
    }
    let handled = false;
    if (ev.key === "j") handled = select(1) || follow("j");
    else if (ev.key === "k") handled = select(-1) || follow("k");
    else if (ev.key === "Enter" || ev.key === "o") {
      const row = document.querySelector("table.queue tbody tr.selected");
      if (row) { window.location.href = row.dataset.href; handled = true; }
    } else if (ev.key === "a" || ev.key === "r" || ev.key === "u") handled = follow(ev.key);
    else if (ev.key === "?") { document.getElementById("shortcuts").showModal(); handled = true; }
    if (handled) ev.preventDefault();
  });
  document.addEventListener("click", (ev) => {
    const row = ev.target.closest("table.queue tbody tr");
    if (row && ev.target.tagName !== "A") window.location.href = row.dataset.href;
  });
  const zone = document.getElementById("dropzone");
  if (zone) {
    const input = document.getElementById("file");
    zone.addEventListener("dragover", (ev) => { ev.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (ev) => {
      ev.preventDefault(); zone.classList.remove("over");
      if (ev.dataTransfer.files.length) { input.files = ev.dataTransfer.files; input.form.requestSubmit(); }
    });
  }
})();
