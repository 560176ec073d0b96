// Every console page: copy buttons, and the training-job list's live rows.
"use strict";
(function () {
  const POLL_MS = 3000;

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.copy");
    if (!button) return;
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    const text = source.textContent.trim();
    const done = () => { button.textContent = "Copied"; setTimeout(() => { button.textContent = "Copy"; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, () => selectText(source));
    } else {
      selectText(source);  // plain http on another host name: the user copies the selection
      try { document.execCommand("copy"); done(); } catch (e) { /* selected for the user */ }
    }
  });

  function selectText(node) {
    const range = document.createRange();
    range.selectNodeContents(node);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  // The list: the same page's rows, re-rendered by the server, swapped in while the tab is visible.
  const table = document.querySelector("table.jobs[data-live]");
  if (table) {
    const body = table.querySelector("tbody");
    const refresh = () => {
      if (document.hidden) return;
      fetch(table.dataset.live, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
        .then((answer) => answer.ok ? answer.text() : Promise.reject(answer.status))
        .then((html) => { if (body.innerHTML !== html) body.innerHTML = html; })
        .catch(() => { /* the next round tries again */ });
    };
    setInterval(refresh, POLL_MS);
  }
})();
