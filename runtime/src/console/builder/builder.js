// The builder's script: the mapping's preview and the text's diagnostics,
// fetched from the server as the author types; copy buttons; a token's
// countdown. Every page works without it, by its forms.
"use strict";
const later = (f, ms) => {
  let timer;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(f, ms);
  };
};
// Sends a form to `url` and puts the answer (a part of a page the server
// rendered) into `target`; an answer older than the one shown is dropped.
const follow = (form, url, target, body) => {
  let sent = 0;
  return later(async () => {
    const mine = ++sent;
    const response = await fetch(url, { method: "POST", body: body(), credentials: "same-origin" });
    if (mine !== sent) return;
    const html = await response.text();
    target.innerHTML = html;
    target.dataset.updated = String(mine);
  }, 300);
};
const mapping = document.getElementById("mapping");
const preview = document.getElementById("preview");
if (mapping && preview) {
  const update = follow(mapping, mapping.dataset.preview, preview, () => new URLSearchParams(new FormData(mapping)));
  mapping.addEventListener("input", update);
  mapping.addEventListener("change", update);
  // The picker: a path goes into the field last chosen.
  let chosen = null;
  mapping.addEventListener("focusin", (event) => {
    if (event.target.matches("input[type=text]")) chosen = event.target;
  });
  for (const button of document.querySelectorAll("button[data-path]")) {
    button.addEventListener("click", () => {
      if (!chosen) return;
      chosen.value = button.dataset.path;
      chosen.dispatchEvent(new Event("input", { bubbles: true }));
    });
  }
}
const textForm = document.getElementById("text-form");
const diagnostics = document.getElementById("diagnostics");
if (textForm && diagnostics) {
  const update = follow(textForm, textForm.dataset.check, diagnostics, () => new URLSearchParams(new FormData(textForm)));
  textForm.addEventListener("input", update);
}
for (const button of document.querySelectorAll("button[data-copy]")) {
  button.addEventListener("click", async () => {
    await navigator.clipboard.writeText(button.dataset.copy);
    button.textContent = "Copied";
  });
}
const countdown = document.getElementById("countdown");
if (countdown) {
  const at = Number(countdown.dataset.expires);
  const tick = () => {
    const left = at - Math.floor(Date.now() / 1000);
    countdown.textContent = left > 0 ? `${left}s` : "0s (expired: authorize again)";
  };
  tick();
  setInterval(tick, 1000);
}
