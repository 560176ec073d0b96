// Create training job: the algorithm's table on change, and the API's checks as the user types.
"use strict";
(function () {
  const form = document.getElementById("create-job");
  if (!form) return;
  const DEBOUNCE_MS = 250;
  const csrf = form.querySelector("input[name=csrf_token]").value;
  const touched = new Set();
  // Fields the server already refused count as touched: their messages stay until fixed.
  form.querySelectorAll("[data-error-for]:not([hidden])").forEach((p) => touched.add(p.dataset.errorFor));

  const algorithm = document.getElementById("algorithm");
  const imageField = document.getElementById("image-uri-field");
  const apply = form.querySelector("button.apply");
  if (apply) apply.hidden = true;  // without scripts, that button shows the chosen algorithm's table
  const showImage = () => { imageField.hidden = algorithm.value !== "custom"; };
  showImage();
  algorithm.addEventListener("change", () => {
    showImage();
    form.requestSubmit(apply);
  });

  function isShown(key) {
    if (touched.has(key)) return true;
    if (key === "hyperparameters") return [...touched].some((k) => k.startsWith("hp"));
    if (key === "tags") return [...touched].some((k) => k.startsWith("tag-"));
    return false;
  }

  function show(errors) {
    form.querySelectorAll("[data-error-for]").forEach((p) => {
      const key = p.dataset.errorFor;
      const message = isShown(key) ? errors[key] : undefined;
      p.textContent = message || "";
      p.hidden = !message;
      const input = document.getElementById(key);
      if (input) {
        if (message) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
      }
    });
  }

  let timer = null;
  let round = 0;
  function check() {
    const mine = ++round;
    const data = new FormData(form);
    data.delete("action");
    fetch(form.dataset.check, { method: "POST", body: data, credentials: "same-origin",
                                headers: { "X-CSRF-Token": csrf, "Accept": "application/json" } })
      .then((answer) => answer.ok ? answer.json() : Promise.reject(answer.status))
      .then((answer) => { if (mine === round) show(answer.errors || {}); })
      .catch(() => { /* the submission checks again */ });
  }

  form.addEventListener("input", (event) => {
    if (!event.target.name || event.target.name === "csrf_token") return;
    touched.add(event.target.name);
    clearTimeout(timer);
    timer = setTimeout(check, DEBOUNCE_MS);
  });
  form.addEventListener("change", (event) => {
    if (event.target.name) touched.add(event.target.name);
  });
})();
