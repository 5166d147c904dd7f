/* baiseg report: charts drawn with inline SVG (no library). Line charts zoom on a dragged x range or the wheel,
   double-click resets; precision-recall curves are fixed [0, 1] x [0, 1] plots. */
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                 "#bcbd22", "#7f7f7f"];

function svgEl(tag, attrs, parent) {
  const e = document.createElementNS(SVGNS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}

function niceTicks(lo, hi, n) {
  if (!(hi > lo)) { hi = lo + 1; }
  const raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= raw);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12; v += step) out.push(+v.toPrecision(12));
  return out;
}

function fmt(v) {
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(1);
  return +v.toPrecision(3) + "";
}

/* A line chart of several series {name: [[x, y], ...]} in `parent`; returns its API (used by the tests). */
function lineChart(parent, title, series, opts) {
  opts = opts || {};
  const W = opts.width || 560, H = opts.height || 260, M = {l: 56, r: 12, t: 24, b: 32};
  const box = document.createElement("div");
  box.className = "chart";
  parent.appendChild(box);
  const svg = svgEl("svg", {width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: "linechart"}, box);
  const names = Object.keys(series);
  const hidden = new Set();
  const all = names.flatMap(k => series[k]);
  const full = [Math.min(...all.map(p => p[0])), Math.max(...all.map(p => p[0]))];
  let view = full.slice();
  const legend = document.createElement("div");
  legend.className = "legend";
  box.appendChild(legend);
  names.forEach((k, i) => {
    const b = document.createElement("button");
    b.className = "series-toggle";
    b.dataset.series = k;
    b.innerHTML = `<span class="swatch" style="background:${PALETTE[i % PALETTE.length]}"></span>${k}`;
    b.onclick = () => { hidden.has(k) ? hidden.delete(k) : hidden.add(k); b.classList.toggle("off"); draw(); };
    legend.appendChild(b);
  });
  function draw() {
    svg.innerHTML = "";
    svgEl("text", {x: M.l, y: 16, class: "chart-title"}, svg).textContent = title;
    const vis = names.filter(k => !hidden.has(k));
    const pts = vis.flatMap(k => series[k].filter(p => p[0] >= view[0] && p[0] <= view[1]));
    let ylo = Math.min(...pts.map(p => p[1])), yhi = Math.max(...pts.map(p => p[1]));
    if (!isFinite(ylo)) { ylo = 0; yhi = 1; }
    if (yhi === ylo) { yhi += Math.abs(yhi) * 0.1 || 1; ylo -= Math.abs(ylo) * 0.1; }
    const sx = x => M.l + (x - view[0]) / ((view[1] - view[0]) || 1) * (W - M.l - M.r);
    const sy = y => H - M.b - (y - ylo) / (yhi - ylo) * (H - M.t - M.b);
    for (const t of niceTicks(ylo, yhi, 5)) {
      svgEl("line", {x1: M.l, x2: W - M.r, y1: sy(t), y2: sy(t), class: "grid"}, svg);
      svgEl("text", {x: M.l - 4, y: sy(t) + 4, class: "tick", "text-anchor": "end"}, svg).textContent = fmt(t);
    }
    for (const t of niceTicks(view[0], view[1], 6)) {
      svgEl("text", {x: sx(t), y: H - M.b + 16, class: "tick", "text-anchor": "middle"}, svg).textContent = fmt(t);
    }
    svgEl("rect", {x: M.l, y: M.t, width: W - M.l - M.r, height: H - M.t - M.b, class: "frame"}, svg);
    names.forEach((k, i) => {
      if (hidden.has(k)) return;
      const p = series[k].filter(q => q[0] >= view[0] && q[0] <= view[1]);
      if (!p.length) return;
      const d = p.map((q, j) => (j ? "L" : "M") + sx(q[0]).toFixed(1) + "," + sy(q[1]).toFixed(1)).join("");
      svgEl("path", {d: d, class: "series", stroke: PALETTE[i % PALETTE.length], "data-series": k}, svg);
      if (p.length < 40) p.forEach(q => {
        const c = svgEl("circle", {cx: sx(q[0]), cy: sy(q[1]), r: 2.5, fill: PALETTE[i % PALETTE.length]}, svg);
        svgEl("title", {}, c).textContent = `${k} @ ${fmt(q[0])}: ${fmt(q[1])}`;
      });
    });
    api.view = view.slice();
  }
  const toX = ev => {
    const r = svg.getBoundingClientRect();
    const f = (ev.clientX - r.left - M.l) / (r.width * (W - M.l - M.r) / W);
    return view[0] + Math.min(Math.max(f, 0), 1) * (view[1] - view[0]);
  };
  let drag = null;
  svg.addEventListener("mousedown", ev => { drag = toX(ev); ev.preventDefault(); });
  svg.addEventListener("mouseup", ev => {
    if (drag === null) return;
    const x = toX(ev), lo = Math.min(x, drag), hi = Math.max(x, drag);
    drag = null;
    if (hi - lo > (view[1] - view[0]) / 100) { view = [lo, hi]; draw(); }
  });
  svg.addEventListener("dblclick", () => { view = full.slice(); draw(); });
  svg.addEventListener("wheel", ev => {
    ev.preventDefault();
    const x = toX(ev), f = ev.deltaY < 0 ? 0.8 : 1.25;
    view = [Math.max(full[0], x - (x - view[0]) * f), Math.min(full[1], x + (view[1] - x) * f)];
    draw();
  }, {passive: false});
  const api = {zoom: (lo, hi) => { view = [lo, hi]; draw(); }, reset: () => { view = full.slice(); draw(); },
               view: view};
  draw();
  box.chart = api;
  return api;
}

/* Precision-recall curves of one class: {method: {recall: [], precision: [], ap}}. */
function prChart(parent, title, curves) {
  const W = 260, H = 220, M = {l: 36, r: 8, t: 22, b: 30};
  const box = document.createElement("div");
  box.className = "chart pr";
  parent.appendChild(box);
  const svg = svgEl("svg", {width: W, height: H, viewBox: `0 0 ${W} ${H}`}, box);
  const sx = x => M.l + x * (W - M.l - M.r), sy = y => H - M.b - y * (H - M.t - M.b);
  svgEl("text", {x: M.l, y: 14, class: "chart-title"}, svg).textContent = title;
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    svgEl("line", {x1: sx(0), x2: sx(1), y1: sy(t), y2: sy(t), class: "grid"}, svg);
    svgEl("text", {x: M.l - 3, y: sy(t) + 4, class: "tick", "text-anchor": "end"}, svg).textContent = t;
    svgEl("text", {x: sx(t), y: H - M.b + 13, class: "tick", "text-anchor": "middle"}, svg).textContent = t;
  }
  svgEl("text", {x: (W + M.l) / 2, y: H - 3, class: "tick", "text-anchor": "middle"}, svg).textContent = "recall";
  svgEl("rect", {x: M.l, y: M.t, width: W - M.l - M.r, height: H - M.t - M.b, class: "frame"}, svg);
  const legend = document.createElement("div");
  legend.className = "legend";
  Object.keys(curves).forEach((m, i) => {
    const c = curves[m], col = PALETTE[i % PALETTE.length];
    if (c.recall.length) {
      const d = c.recall.map((r, j) => (j ? "L" : "M") + sx(r).toFixed(1) + "," + sy(c.precision[j]).toFixed(1));
      svgEl("path", {d: d.join(""), class: "series", stroke: col}, svg);
    }
    const ap = c.ap === null ? "n/a" : (100 * c.ap).toFixed(1);
    legend.insertAdjacentHTML("beforeend", `<span><span class="swatch" style="background:${col}"></span>` +
                              `${escapeHtml(m)} AP50 ${ap}</span>`);
  });
  box.appendChild(legend);
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                                                  "'": "&#39;"}[c]));
}
