// An endpoint's test inference: boxes or the class mask drawn over the test image.
"use strict";
(function () {
  const data = document.getElementById("prediction-data");
  const image = document.getElementById("prediction-image");
  const canvas = document.getElementById("prediction-canvas");
  if (!data || !image || !canvas) return;
  const prediction = JSON.parse(data.textContent);
  const MAX_BOXES = 20;
  const MIN_SCORE = 0.2;
  const PALETTE = [[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48], [145, 30, 180],
                   [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212], [0, 128, 128], [170, 110, 40]];
  const color = (id, alpha) => { const c = PALETTE[id % PALETTE.length]; return `rgba(${c[0]},${c[1]},${c[2]},${alpha})`; };

  function boxes(ctx, w, h) {
    const kept = prediction.boxes.filter((b) => b.score >= MIN_SCORE).slice(0, MAX_BOXES);
    ctx.lineWidth = Math.max(2, w / 200);
    ctx.font = `${Math.max(12, w / 40)}px sans-serif`;
    kept.forEach((b) => {
      const [x0, y0, x1, y1] = b.box;
      ctx.strokeStyle = color(b.class, 1);
      ctx.strokeRect(x0 * w, y0 * h, (x1 - x0) * w, (y1 - y0) * h);
      const label = `${b.class} ${b.score.toFixed(2)}`;
      ctx.fillStyle = color(b.class, 0.85);
      ctx.fillRect(x0 * w, y0 * h, ctx.measureText(label).width + 6, parseInt(ctx.font, 10) + 4);
      ctx.fillStyle = "#fff";
      ctx.fillText(label, x0 * w + 3, y0 * h + parseInt(ctx.font, 10));
    });
  }

  function mask(ctx, w, h) {
    const source = new Image();
    source.onload = () => {
      const scratch = document.createElement("canvas");
      scratch.width = w; scratch.height = h;
      const sctx = scratch.getContext("2d");
      sctx.imageSmoothingEnabled = false;
      sctx.drawImage(source, 0, 0, w, h);
      const pixels = sctx.getImageData(0, 0, w, h);
      for (let i = 0; i < pixels.data.length; i += 4) {
        const id = pixels.data[i];  // a class id per pixel (grey PNG: r = g = b)
        const c = PALETTE[id % PALETTE.length];
        pixels.data[i] = c[0]; pixels.data[i + 1] = c[1]; pixels.data[i + 2] = c[2];
        pixels.data[i + 3] = id === 0 ? 0 : 120;  // class 0 (background) stays clear
      }
      ctx.putImageData(pixels, 0, 0);
    };
    source.src = prediction.mask;
  }

  function render() {
    const w = image.naturalWidth, h = image.naturalHeight;
    canvas.width = w; canvas.height = h;
    const ctx = canvas.getContext("2d");
    if (prediction.kind === "boxes") boxes(ctx, w, h);
    else if (prediction.kind === "mask") mask(ctx, w, h);
    canvas.dataset.drawn = prediction.kind;
  }
  if (image.complete) render(); else image.addEventListener("load", render);
})();
