/* baiseg report viewer: metrics, PR curves and an image browser (evaluate / predict outputs), or the curves, config
   and validation maps of a training run. Plain JavaScript, no network: data come from data/*.js script files. */
"use strict";

const R = window.REPORT;
const PAGE_SIZE = 60;
const ERR_SHORT = {missed: "M", false: "F", split: "S", merged: "G"};
const GT_COLOUR = {tp: "#ffffff", missed: "#ff2020", split: "#ff9900", merged: "#ff33ff", crowd: "#999999"};
const state = {method: 0, sort: "worst", cls: "", page: 0, order: [], open: -1,
               layers: {gt: true, pred: true, boundary: false, semantic: false, labels: true}};
const cache = {};

function el(tag, attrs, html) {
  const e = document.createElement(tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (html !== undefined) e.innerHTML = html;
  return e;
}

function section(title, id) {
  const s = el("section", {id: id});
  s.appendChild(el("h2", {}, escapeHtml(title)));
  document.getElementById("app").appendChild(s);
  document.getElementById("nav").insertAdjacentHTML("beforeend", `<a href="#${id}">${escapeHtml(title)}</a>`);
  return s;
}

const pct = v => (v === null || v === undefined ? "n/a" : Number(v).toFixed(1));

/* ------------------------------------------------------------------------------------------- metrics, curves */
function metricsSection() {
  if (!R.metrics.length) return;
  const s = section("Metrics", "metrics");
  const keys = ["mAP25", "mAP50", "mAP70", "mAP75"];
  let h = "<table class='metrics'><tr><th>method</th><th>subset</th><th>images</th>" +
          keys.map(k => `<th>VOC ${k}</th>`).join("") + "<th>COCO AP</th><th>AP50</th><th>AP75</th></tr>";
  for (const m of R.metrics) {
    const c = m.coco || {};
    h += `<tr><td title="${escapeHtml(m.folder)}">${escapeHtml(m.method)}</td><td>${escapeHtml(m.subset)}</td>` +
         `<td>${m.images}</td>` + keys.map(k => `<td>${pct((m.voc || {})[k])}</td>`).join("") +
         `<td>${pct(c.AP)}</td><td>${pct(c.AP50)}</td><td>${pct(c.AP75)}</td></tr>`;
  }
  s.insertAdjacentHTML("beforeend", h + "</table>");
  const classes = [...new Set(R.metrics.flatMap(m => Object.keys(m.per_class || {})))];
  if (!classes.length) return;
  h = "<h3>Per-class AP (VOC mAP50 / COCO AP)</h3><table class='metrics per-class'><tr><th>class</th>" +
      R.metrics.map(m => `<th>${escapeHtml(m.method)}</th>`).join("") + "</tr>";
  for (const c of classes) {
    h += `<tr><td>${escapeHtml(c)}</td>` + R.metrics.map(m => {
      const a = (m.per_class || {})[c] || {};
      return `<td>${pct(a.mAP50)} / ${pct(a.coco_AP)}</td>`;
    }).join("") + "</tr>";
  }
  s.insertAdjacentHTML("beforeend", h + "</table>");
}

function prSection() {
  const classes = Object.keys(R.pr || {});
  if (!classes.length) return;
  const s = section("Precision-recall (IoU 0.5)", "pr");
  const box = el("div", {class: "charts"});
  s.appendChild(box);
  classes.forEach(c => prChart(box, c, R.pr[c]));
}

/* ------------------------------------------------------------------------------------------- image browser */
function errorsOf(row, mi) { return row.err ? row.err[mi] : null; }

function sortKey(row) {
  const e = errorsOf(row, state.method);
  if (!e) return 0;
  const i = R.errors.indexOf(state.sort);
  return i >= 0 ? e[i] : e.reduce((a, b) => a + b, 0);
}

function reorder() {
  const idx = R.images.map((_, i) => i).filter(i => !state.cls || R.images[i].cls.includes(state.cls));
  if (state.sort !== "id") idx.sort((a, b) => sortKey(R.images[b]) - sortKey(R.images[a]) || a - b);
  state.order = idx;
  state.page = Math.min(state.page, Math.max(0, Math.ceil(idx.length / PAGE_SIZE) - 1));
}

function badges(row) {
  const e = errorsOf(row, state.method);
  if (!e) return "";
  return R.errors.map((k, i) => `<span class="err err-${k}" title="${k}">${ERR_SHORT[k]}${e[i]}</span>`).join("");
}

function renderGrid() {
  const grid = document.getElementById("grid");
  const pages = Math.max(1, Math.ceil(state.order.length / PAGE_SIZE));
  document.getElementById("page-label").textContent =
    `page ${state.page + 1} / ${pages} (${state.order.length} images)`;
  grid.innerHTML = "";
  for (const i of state.order.slice(state.page * PAGE_SIZE, (state.page + 1) * PAGE_SIZE)) {
    const row = R.images[i];
    const t = el("div", {class: "thumb", "data-id": row.id, "data-index": i, tabindex: 0});
    t.innerHTML = `<img src="thumb/${row.n}.jpg" alt="${escapeHtml(row.id)}">` +
                  `<div class="cap">${escapeHtml(row.id)}</div><div class="badges">${badges(row)}</div>`;
    t.onclick = () => openImage(i);
    grid.appendChild(t);
  }
}

function select(id, label, options, value, onchange) {
  const opts = options.map(([v, t]) => `<option value="${escapeHtml(v)}"${v === value ? " selected" : ""}>` +
                                       `${escapeHtml(t)}</option>`).join("");
  const w = el("label", {}, `${label} <select id="${id}">${opts}</select>`);
  w.querySelector("select").onchange = ev => onchange(ev.target.value);
  return w;
}

function browserSection() {
  const s = section("Images", "images");
  const bar = el("div", {class: "controls"});
  if (R.methods.length > 1) {
    bar.appendChild(select("method", "errors of", R.methods.map((m, i) => [String(i), m]), "0",
                           v => { state.method = +v; reorder(); renderGrid(); }));
  }
  const sorts = [["id", "image order"]];
  if (R.has_gt) sorts.unshift(["worst", "worst first (all errors)"], ...R.errors.map(k => [k, `most ${k}`]));
  state.sort = sorts[0][0];
  bar.appendChild(select("sort", "sort", sorts, state.sort, v => { state.sort = v; state.page = 0; reorder(); renderGrid(); }));
  bar.appendChild(select("cls-filter", "class", [["", "all"], ...R.classes.map(c => [c, c])], "",
                         v => { state.cls = v; state.page = 0; reorder(); renderGrid(); }));
  const nav = el("span", {class: "pager"}, `<button id="prev-page">&lt;</button> <span id="page-label"></span> ` +
                                           `<button id="next-page">&gt;</button>`);
  bar.appendChild(nav);
  if (R.has_gt) bar.appendChild(el("span", {class: "hint"}, "M missed · F false · S split · G merged (IoU 0.5)"));
  s.appendChild(bar);
  s.appendChild(el("div", {id: "grid", class: "thumbs"}));
  nav.querySelector("#prev-page").onclick = () => { if (state.page > 0) { state.page--; renderGrid(); } };
  nav.querySelector("#next-page").onclick = () => {
    if ((state.page + 1) * PAGE_SIZE < state.order.length) { state.page++; renderGrid(); }
  };
  reorder();
  renderGrid();
}

/* ------------------------------------------------------------------------------------------- one image */
window.REPORT_IMAGE = function (name, data) {
  cache[name] = data;
  if (state.open >= 0 && R.images[state.open].n === name) renderDetail(data);
};

function openImage(i) {
  state.open = i;
  const row = R.images[i], d = document.getElementById("detail");
  d.hidden = false;
  d.querySelector(".title").textContent = row.id;
  if (cache[row.n]) { renderDetail(cache[row.n]); return; }
  const sc = el("script", {src: `data/img/${row.n}.js`});
  sc.onload = () => sc.remove();
  document.body.appendChild(sc);
}

function step(delta) {
  const pos = state.order.indexOf(state.open) + delta;
  if (pos >= 0 && pos < state.order.length) openImage(state.order[pos]);
}

function instanceColour(k) { return `hsl(${(k * 137.508) % 360}, 85%, 55%)`; }

function classColour(c) { return PALETTE[Math.max(0, R.classes.indexOf(c)) % PALETTE.length]; }

function polyPath(rings) {
  return rings.map(r => {
    let d = "";
    for (let j = 0; j < r.length; j += 2) d += (j ? "L" : "M") + r[j] + "," + r[j + 1];
    return d + "Z";
  }).join("");
}

function bbox(rings) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const r of rings) for (let j = 0; j < r.length; j += 2) {
    x0 = Math.min(x0, r[j]); x1 = Math.max(x1, r[j]); y0 = Math.min(y0, r[j + 1]); y1 = Math.max(y1, r[j + 1]);
  }
  return [x0, y0, x1, y1];
}

function showInfo(text) { document.getElementById("info").textContent = text; }

function describe(inst, what) {
  const iou = Array.isArray(inst.iou) ? inst.iou.map(v => v.toFixed(2)).join(" / ") : inst.iou;
  return `${what}: class ${inst.cls}` + (inst.score !== null && inst.score !== undefined ?
         ` · score ${inst.score.toFixed(3)}` : "") + ` · area ${inst.area} px` +
         (iou !== undefined ? ` · best IoU ${typeof iou === "number" ? iou.toFixed(3) : iou}` : "") +
         (inst.kind ? ` · ${inst.kind}` : "");
}

function drawInstances(svg, data, m) {
  const gGt = svgEl("g", {class: "layer-gt"}, svg), gPred = svgEl("g", {class: "layer-pred"}, svg);
  const gLab = svgEl("g", {class: "layer-labels"}, svg);
  data.gt.forEach((g, j) => {
    const kind = m.gt_kind ? m.gt_kind[j] : "tp";
    const p = svgEl("path", {d: polyPath(g.poly), class: "inst gt", stroke: GT_COLOUR[kind] || "#fff",
                             "data-kind": kind}, gGt);
    p.onclick = ev => { ev.stopPropagation(); showInfo(describe({...g, kind: kind}, "GT")); };
  });
  m.inst.forEach((inst, k) => {
    const col = instanceColour(k);
    const p = svgEl("path", {d: polyPath(inst.poly), class: "inst pred", fill: col, stroke: col,
                             "data-index": k, "data-kind": inst.kind || ""}, gPred);
    svgEl("title", {}, p).textContent = `${inst.cls}${inst.score !== null ? " " + inst.score.toFixed(2) : ""}`;
    p.onclick = ev => { ev.stopPropagation(); showInfo(describe(inst, "prediction")); };
    const [x0, y0, x1, y1] = bbox(inst.poly), text = inst.cls + (inst.score !== null ? " " + inst.score.toFixed(2) : "");
    if (x1 - x0 >= text.length * 6.2 && y1 - y0 >= 16) {  // only where the label fits inside the instance's box
      const t = svgEl("text", {x: x0 + 2, y: y0 + 12, class: "label", fill: classColour(inst.cls)}, gLab);
      t.textContent = text;
    }
  });
}

/* Display scale of the panels: all methods in one row when they fit at half size or more, else wrapped at full size. */
function panelScale(data) {
  const n = data.methods.length, room = document.getElementById("panels").clientWidth - 12 * n;
  const s = Math.min(1, room / (n * data.w));
  return s >= 0.5 ? s : Math.min(1, room / data.w);
}

function panel(data, m, mi, s) {
  const p = el("div", {class: "panel", "data-method": mi, style: `width:${Math.round(data.w * s)}px`});
  const row = R.images[state.open], e = errorsOf(row, mi);
  const errs = e ? " — " + R.errors.map((k, i) => `${k} ${e[i]}`).join(", ") : "";
  p.appendChild(el("div", {class: "panel-title"}, escapeHtml(R.methods[mi] + ` (${m.inst.length} instances)` + errs)));
  const w = Math.round(data.w * s), h = Math.round(data.h * s);
  const st = el("div", {class: "stack", style: `width:${w}px;height:${h}px`});
  st.appendChild(el("img", {class: "photo", src: data.img, width: w, height: h, alt: data.id}));
  for (const layer of ["semantic", "boundary"]) {
    if (m[layer]) st.appendChild(el("img", {class: `map map-${layer}`, src: m[layer], width: w, height: h}));
  }
  const svg = svgEl("svg", {width: w, height: h, viewBox: `0 0 ${data.w} ${data.h}`, class: "overlay"});
  drawInstances(svg, data, m);
  st.appendChild(svg);
  p.appendChild(st);
  return p;
}

function applyLayers() {
  const d = document.getElementById("detail");
  for (const k in state.layers) d.classList.toggle(`hide-${k}`, !state.layers[k]);
}

function renderDetail(data) {
  const panels = document.getElementById("panels");
  panels.innerHTML = "";
  showInfo("click an instance");
  const s = panelScale(data);
  data.methods.forEach((m, mi) => panels.appendChild(panel(data, m, mi, s)));
  const classes = [...new Set(data.methods.flatMap(m => m.inst.map(i => i.cls)).concat(data.gt.map(g => g.cls)))];
  document.getElementById("legend").innerHTML = classes.map(c => `<span><span class="swatch" style="background:` +
    `${classColour(c)}"></span>${escapeHtml(c)}</span>`).join("") + (data.gt.length ? " · GT outline: " +
    Object.keys(GT_COLOUR).map(k => `<span style="color:${GT_COLOUR[k]}">${k}</span>`).join(" ") : "");
  applyLayers();
}

function detailSection() {
  const d = el("div", {id: "detail", class: "detail"});
  d.hidden = true;
  d.innerHTML = `<div class="detail-bar"><button id="close">close</button> <button id="prev-img">&lt;</button>` +
    `<button id="next-img">&gt;</button> <b class="title"></b> <span class="toggles">` +
    Object.keys(state.layers).map(k => `<label class="toggle"><input type="checkbox" data-layer="${k}"` +
      `${state.layers[k] ? " checked" : ""}> ${k}</label>`).join("") +
    `</span></div><div id="info" class="info"></div><div id="legend" class="legend"></div>` +
    `<div id="panels" class="panels"></div>`;
  document.getElementById("app").appendChild(d);
  d.querySelector("#close").onclick = () => { d.hidden = true; state.open = -1; };
  d.querySelector("#prev-img").onclick = () => step(-1);
  d.querySelector("#next-img").onclick = () => step(1);
  d.querySelectorAll(".toggle input").forEach(inp => {
    inp.onchange = () => { state.layers[inp.dataset.layer] = inp.checked; applyLayers(); };
  });
  document.addEventListener("keydown", ev => {
    if (d.hidden) return;
    if (ev.key === "Escape") d.querySelector("#close").click();
    if (ev.key === "ArrowRight") step(1);
    if (ev.key === "ArrowLeft") step(-1);
  });
}

/* ------------------------------------------------------------------------------------------- training run */
function runReport() {
  const s = section("Curves", "curves");
  s.appendChild(el("p", {class: "hint"}, "drag across a chart to zoom, wheel to zoom, double-click to reset; " +
                                          "click a series name to hide it"));
  const box = el("div", {class: "charts"});
  s.appendChild(box);
  R.charts.forEach(c => lineChart(box, c.title, c.series));
  if (R.val_images.length) {
    const v = section("Validation maps", "val");
    const ids = [...new Set(R.val_images.flatMap(st => st.images.map(i => i.id)))];
    let h = "<table class='val'><tr><th>iteration</th>" + ids.map(i => `<th>${escapeHtml(i)}</th>`).join("") + "</tr>";
    for (const st of R.val_images) {
      const by = Object.fromEntries(st.images.map(i => [i.id, i.src]));
      h += `<tr><td>${st.iteration}</td>` + ids.map(i => `<td>${by[i] ? `<img src="${by[i]}" alt="${i}">` : ""}</td>`)
        .join("") + "</tr>";
    }
    v.insertAdjacentHTML("beforeend", h + "</table>");
  }
  section("Config", "config").appendChild(el("pre", {}, escapeHtml(R.config)));
  section("Run record", "record").appendChild(el("pre", {}, escapeHtml(JSON.stringify(R.run, null, 2))));
}

if (R.kind === "run") {
  runReport();
} else {
  metricsSection();
  prSection();
  browserSection();
  detailSection();
}
window.REPORT_READY_MS = performance.now();  // read by bench/bench_report.py
document.body.dataset.ready = "1";
