// The console's one script: an account page follows its syncs live. The
// server sends the progress as server-sent events; when a sync ends that
// had not ended when the page was made (or that sync now asked for), the page
// loads again, showing the new run and how it ended. A button pressed cannot
// be pressed again while the page it leads to loads.
"use strict";
for (const form of document.querySelectorAll("form")) {
  // After the form's data is taken: a disabled button sends nothing.
  form.addEventListener("submit", (event) => setTimeout(() => { if (event.submitter) event.submitter.disabled = true; }));
}
const live = document.getElementById("live");
if (live) {
  const source = new EventSource(live.dataset.events);
  const shown = Number(live.dataset.sync);
  // After sync now: the syncs started before it. The one asked for has a greater count; it may
  // have ended before this page was made, and the page loads again to say how.
  const since = live.dataset.since === undefined ? null : Number(live.dataset.since);
  source.addEventListener("progress", (event) => {
    const progress = JSON.parse(event.data);
    if (progress.running) {
      const sync = document.querySelector("#actions form:has(input[value=sync]) button");
      if (sync) sync.disabled = true;
      live.hidden = false;
      const plural = (n, one) => `${n} ${one}${n === 1 ? "" : "s"}`;
      live.textContent = `Syncing now: ${plural(progress.pages, "page")}, ${plural(progress.users, "user")} so far`;
    } else if (progress.sync !== shown || !live.hidden || (since !== null && progress.sync > since)) {
      source.close();
      const ended = `the sync ended: ${progress.ended ?? "see its run below"}`;
      live.textContent = ended;
      location.assign(`${location.pathname}?done=${encodeURIComponent(ended)}`);
    }
  });
}
