// A training job's page: a uPlot chart per metric, and live status, log lines and metric values.
"use strict";
(function () {
  const POLL_MS = 2000;
  const COLORS = ["#0972d3", "#d45b07", "#037f0c", "#8456ce", "#c33d69", "#5f6b7a"];
  const status = document.getElementById("job-status");
  const chartsBox = document.getElementById("metric-charts");
  const dataNode = document.getElementById("metric-data");
  const plots = new Map();  // chart title -> {plot, signature}

  function aligned(chart) {
    const times = [...new Set(chart.series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
    const columns = chart.series.map((s) => {
      const byTime = new Map(s.points.map((p) => [p[0], p[1]]));
      return times.map((t) => (byTime.has(t) ? byTime.get(t) : null));
    });
    return [times, ...columns];
  }

  function draw(charts) {
    if (typeof uPlot === "undefined") return;  // the tables under each chart still show the values
    if (charts.length) {
      const none = document.getElementById("no-metrics");
      if (none) none.remove();
    }
    charts.forEach((chart) => {
      const signature = chart.series.map((s) => s.label + ":" + s.points.length).join("|");
      const known = plots.get(chart.title);
      if (known && known.signature === signature) return;
      let figure = chartsBox.querySelector(`figure.chart[data-title="${CSS.escape(chart.title)}"]`);
      if (!figure) {
        figure = document.createElement("figure");
        figure.className = "chart";
        figure.dataset.title = chart.title;
        const caption = document.createElement("figcaption");
        caption.textContent = chart.title;
        figure.appendChild(caption);
        chartsBox.appendChild(figure);
      }
      const table = figure.querySelector("table.chart-data");
      if (table) table.classList.add("visually-hidden");
      if (known) { known.plot.setData(aligned(chart)); known.signature = signature; return; }
      const options = {
        width: Math.min(560, chartsBox.clientWidth || 560), height: 240,
        scales: { x: { time: true } },
        series: [{}, ...chart.series.map((s, i) => ({
          label: s.label, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true, points: { show: true, size: 5 },
        }))],
      };
      const holder = document.createElement("div");
      holder.className = "plot";
      figure.appendChild(holder);
      plots.set(chart.title, { plot: new uPlot(options, aligned(chart), holder), signature });
    });
  }

  function appendLogs(tails) {
    const box = document.getElementById("job-logs");
    tails.forEach((tail) => {
      let figure = [...box.querySelectorAll("figure.log")].find((f) => f.dataset.stream === tail.stream);
      if (!figure) {
        const none = document.getElementById("no-logs");
        if (none) none.remove();
        figure = document.createElement("figure");
        figure.className = "log";
        figure.dataset.stream = tail.stream;
        const caption = document.createElement("figcaption");
        caption.textContent = tail.stream;
        const pre = document.createElement("pre");
        pre.tabIndex = 0;
        figure.append(caption, pre);
        box.appendChild(figure);
      }
      figure.dataset.token = tail.token;
      if (!tail.lines.length) return;
      const pre = figure.querySelector("pre");
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.append(document.createTextNode(tail.lines.join("\n") + "\n"));
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    });
  }

  function poll() {
    const url = new URL(status.dataset.live, window.location.href);
    document.querySelectorAll("#job-logs figure.log").forEach((f) => url.searchParams.set("token:" + f.dataset.stream, f.dataset.token));
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then((answer) => answer.ok ? answer.json() : Promise.reject(answer.status))
      .then((live) => {
        status.innerHTML = live.status_html;
        appendLogs(live.logs);
        draw(live.charts);
        // The job ended: the page again, with the actions an ended job has (incremental training).
        if (live.terminal) window.location.reload(); else setTimeout(poll, POLL_MS);
      })
      .catch(() => setTimeout(poll, POLL_MS * 2));
  }

  draw(JSON.parse(dataNode.textContent));
  document.querySelectorAll("#job-logs pre").forEach((pre) => { pre.scrollTop = pre.scrollHeight; });
  if (status.dataset.terminal !== "true") setTimeout(poll, POLL_MS);
})();
