// Training timeline: 2,000 test digits' 2-D positions epoch by epoch, drawn on a canvas and blended
// between epochs, with the ten fixed digits' reconstructions and the loss chart following one
// scrubber. Mounted by components/timeline/__init__.py in two roles:
//   bytes            a bundle from core/timeline.py (a model's timeline, or the points' sprite sheet);
//                    shows nothing, and is the same between reruns, so Streamlit re-sends its hash.
//   {models, ...}    one view naming its bundles by id: one panel per model, one scrubber for all.
// Scrubbing, playing and hovering never reach Python.

// `bundles`, `slot` and `readBundle` come from components/bundles.js, prepended to this script.
const views = new WeakMap(); // parent element -> TimelineView

const HOVER_RADIUS = 12; // px: how near the pointer a point must be to be hovered
const TAP_RADIUS = 24; // px: a fingertip is ~40 px wide
const CARD_SIDE = 84; // px: the hovered digit, 3x
const REPLAY_SECONDS = 12; // play runs through any timeline in about this long
const ARRIVAL_MS = 700; // a live epoch's points glide to their new places in this long

async function image(bytes) {
  return createImageBitmap(new Blob([bytes], { type: "image/png" }));
}

// Body: positions (F, N, 2) uint16, labels (N,) uint8 padded to 4 bytes, then a PNG of the
// reconstructions (row 0 the originals, row f + 1 frame f; ten digits a row) of `recon_bytes`.
async function buildTimeline(header, body) {
  const { frames: F, count: N } = header;
  const quantised = new Uint16Array(body.buffer, 0, F * N * 2);
  const labels = new Uint8Array(body.buffer, F * N * 4, N);
  const offset = F * N * 4 + Math.ceil(N / 4) * 4;
  const [x0, y0] = header.low, [x1, y1] = header.high;
  const pos = new Float32Array(F * N * 2);
  for (let i = 0; i < F * N; i++) {
    pos[2 * i] = x0 + (quantised[2 * i] / 65535) * (x1 - x0);
    pos[2 * i + 1] = y0 + (quantised[2 * i + 1] / 65535) * (y1 - y0);
  }
  // Each frame's extent, from the 0.5th to the 99.5th percentile, so one stray digit does not shrink the rest
  const bounds = new Float32Array(F * 4);
  const xs = new Float32Array(N), ys = new Float32Array(N);
  const lo = Math.floor(N * 0.005), hi = Math.max(lo, Math.ceil(N * 0.995) - 1);
  for (let f = 0; f < F; f++) {
    for (let i = 0; i < N; i++) {
      xs[i] = pos[2 * (f * N + i)];
      ys[i] = pos[2 * (f * N + i) + 1];
    }
    xs.sort();
    ys.sort();
    bounds.set([xs[lo], xs[hi], ys[lo], ys[hi]], 4 * f);
  }
  const recon = header.recon_bytes ? await image(body.subarray(offset, offset + header.recon_bytes)) : null;
  const order = Array.from({ length: 10 }, () => []);
  for (let i = 0; i < N; i++) order[labels[i]].push(i);
  return { header, F, N, pos, labels, bounds, recon, byLabel: order.map((r) => Int32Array.from(r)) };
}

async function buildSprites(header, body) {
  return { bitmap: await image(body), columns: header.columns, side: header.side };
}

function registerBundle(bytes) {
  const { header, body } = readBundle(bytes);
  performance.mark(`timeline ${header.kind} ${header.id}`); // when each bundle arrived, for benchmarks
  const entry = slot(header.id);
  if (entry.loaded) return;
  entry.loaded = true;
  if (header.kind === "timeline") buildTimeline(header, body).then(entry.resolve);
  else if (header.kind === "sprites") buildSprites(header, body).then(entry.resolve);
}

function element(tag, className, parent, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

// Where epoch `e` falls in a timeline's frames: frame f and the share a of the way to frame f + 1.
function locate(t, e) {
  const epochs = t.header.epochs;
  if (e <= epochs[0]) return [0, 0];
  const last = epochs.length - 1;
  if (e >= epochs[last]) return [last, 0];
  let f = 0;
  while (epochs[f + 1] < e) f++;
  return [f, (e - epochs[f]) / (epochs[f + 1] - epochs[f])];
}

function fmt(v) {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

class Panel {
  constructor(parent, view) {
    this.view = view;
    this.root = element("div", "tl-panel", parent);
    this.title = element("div", "tl-title", this.root);
    this.canvas = element("canvas", "tl-points", this.root);
    this.card = element("div", "tl-card", this.root);
    this.cardCanvas = element("canvas", "", this.card);
    this.cardText = element("div", "", this.card);
    this.status = element("div", "tl-status", this.root);
    const lower = element("div", "tl-lower", this.root);
    this.recon = element("canvas", "tl-recon", lower);
    this.chart = element("canvas", "tl-chart", lower);
    this.timeline = null;
    this.hovered = -1;
    this.xy = null; // the points' canvas positions in the last drawing
    this.canvas.addEventListener("pointermove", (e) => this.hover(e, e.pointerType === "touch" ? TAP_RADIUS : HOVER_RADIUS));
    this.canvas.addEventListener("pointerdown", (e) => this.hover(e, e.pointerType === "touch" ? TAP_RADIUS : HOVER_RADIUS));
    this.canvas.addEventListener("pointerleave", (e) => { if (e.pointerType !== "touch") this.setHovered(-1); });
  }

  setTimeline(t, name) {
    this.timeline = t;
    this.root.dataset.model = name;
    this.title.textContent = name;
  }

  hover(event, radius) {
    if (!this.xy) return;
    const rect = this.canvas.getBoundingClientRect();
    const mx = event.clientX - rect.left, my = event.clientY - rect.top;
    let best = -1, bestD = radius * radius;
    for (let i = 0; i < this.xy.length / 2; i++) {
      const dx = this.xy[2 * i] - mx, dy = this.xy[2 * i + 1] - my;
      const d = dx * dx + dy * dy;
      if (d < bestD) { bestD = d; best = i; }
    }
    this.setHovered(best);
  }

  setHovered(i) {
    if (i === this.hovered) return;
    this.hovered = i;
    this.root.dataset.hovered = i < 0 ? "" : String(this.timeline.header.indices[i]);
    this.view.schedule();
  }

  size(canvas, cssWidth, cssHeight) {
    const ratio = window.devicePixelRatio || 1;
    const w = Math.round(cssWidth * ratio), h = Math.round(cssHeight * ratio);
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
      canvas.style.width = `${cssWidth}px`;
      canvas.style.height = `${cssHeight}px`;
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    return ctx;
  }

  draw(epoch, fixedScale, colors) {
    const t = this.timeline;
    if (!t) return;
    const width = Math.max(120, this.root.clientWidth);
    const side = Math.min(width, this.view.height);
    const ctx = this.size(this.canvas, width, side);
    ctx.clearRect(0, 0, width, side);
    const [f, a] = locate(t, epoch);
    const g = Math.min(f + 1, t.F - 1);
    const N = t.N, p = t.pos;
    let bx0, bx1, by0, by1;
    if (fixedScale) {
      [bx0, by0] = t.header.low;
      [bx1, by1] = t.header.high;
    } else {
      const b = t.bounds;
      bx0 = b[4 * f] + (b[4 * g] - b[4 * f]) * a;
      bx1 = b[4 * f + 1] + (b[4 * g + 1] - b[4 * f + 1]) * a;
      by0 = b[4 * f + 2] + (b[4 * g + 2] - b[4 * f + 2]) * a;
      by1 = b[4 * f + 3] + (b[4 * g + 3] - b[4 * f + 3]) * a;
    }
    const pad = 12;
    const span = Math.max(bx1 - bx0, by1 - by0, 1e-9); // one scale on both axes: distances stay true
    const scale = (side - 2 * pad) / span;
    const cx = (bx0 + bx1) / 2, cy = (by0 + by1) / 2;
    const xy = this.xy && this.xy.length === 2 * N ? this.xy : new Float32Array(2 * N);
    const o1 = f * N * 2, o2 = g * N * 2;
    for (let i = 0; i < N; i++) {
      const x = p[o1 + 2 * i] + (p[o2 + 2 * i] - p[o1 + 2 * i]) * a;
      const y = p[o1 + 2 * i + 1] + (p[o2 + 2 * i + 1] - p[o1 + 2 * i + 1]) * a;
      xy[2 * i] = width / 2 + (x - cx) * scale;
      xy[2 * i + 1] = side / 2 - (y - cy) * scale; // high y on top
    }
    this.xy = xy;
    const r = width < 400 ? 1.6 : 2;
    ctx.globalAlpha = 0.75;
    for (let d = 0; d < 10; d++) { // one fill colour a digit: 10 style changes a frame, not 2,000
      ctx.fillStyle = colors[d];
      const rows = t.byLabel[d];
      for (let k = 0; k < rows.length; k++) {
        const i = rows[k];
        ctx.fillRect(xy[2 * i] - r, xy[2 * i + 1] - r, 2 * r, 2 * r);
      }
    }
    ctx.globalAlpha = 1;
    this.drawCard(ctx, width, side, colors);
    const shown = locate(t, epoch);
    const frame = shown[1] < 0.5 ? shown[0] : Math.min(shown[0] + 1, t.F - 1);
    const knn = t.header.knn[frame];
    this.status.textContent = `epoch ${t.header.epochs[frame]}` +
      (knn !== undefined && knn !== null ? ` · 5-NN accuracy in these 2-D positions ${(100 * knn).toFixed(1)}%` : "");
    this.status.title = t.header.method_text;
    this.drawRecon(frame, width);
    this.drawChart(epoch, width);
  }

  drawCard(ctx, width, side, colors) {
    const i = this.hovered, sprites = this.view.sprites;
    if (i < 0 || !sprites || !this.xy) {
      this.card.style.display = "none";
      return;
    }
    const x = this.xy[2 * i], y = this.xy[2 * i + 1];
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.arc(x, y, 6, 0, 2 * Math.PI);
    ctx.stroke();
    const c = this.size(this.cardCanvas, CARD_SIDE, CARD_SIDE);
    c.imageSmoothingEnabled = false;
    const s = sprites.side, col = i % sprites.columns, row = Math.floor(i / sprites.columns);
    c.drawImage(sprites.bitmap, col * s, row * s, s, s, 0, 0, CARD_SIDE, CARD_SIDE);
    const label = this.timeline.labels[i];
    this.cardText.innerHTML = "";
    element("b", "", this.cardText, `digit ${label}`).style.color = colors[label];
    element("span", "", this.cardText, ` · test #${this.timeline.header.indices[i]}`);
    this.card.style.display = "block";
    const left = x + CARD_SIDE + 24 < width ? x + 12 : Math.max(0, x - CARD_SIDE - 24);
    this.card.style.left = `${left}px`;
    this.card.style.top = `${Math.min(Math.max(0, y - CARD_SIDE / 2), side - CARD_SIDE - 20) + this.canvas.offsetTop}px`;
  }

  drawRecon(frame, width) {
    const t = this.timeline;
    if (!t.recon) {
      this.recon.style.display = "none";
      return;
    }
    this.recon.style.display = "block";
    const w = Math.min(width, 420), cell = w / 10;
    const ctx = this.size(this.recon, w, 2 * cell);
    ctx.imageSmoothingEnabled = false;
    for (let d = 0; d < 10; d++) {
      ctx.drawImage(t.recon, d * 28, 0, 28, 28, d * cell, 0, cell, cell);
      ctx.drawImage(t.recon, d * 28, (frame + 1) * 28, 28, 28, d * cell, cell, cell, cell);
    }
  }

  drawChart(epoch, width) {
    const t = this.timeline, h = t.header;
    const w = Math.min(width, 420), height = 110;
    const ctx = this.size(this.chart, w, height);
    ctx.clearRect(0, 0, w, height);
    const series = [[h.train_loss, "#1f77b4"], [h.val_loss, "#ff7f0e"]];
    const values = [...h.train_loss, ...h.val_loss].filter(Number.isFinite);
    if (!values.length) return;
    const last = Math.max(h.planned_epochs || 0, h.epochs[h.epochs.length - 1], h.train_loss.length, 1);
    const lo = Math.min(...values), hi = Math.max(...values);
    const left = 44, right = 6, top = 14, bottom = 18;
    const X = (e) => left + ((e - 0) / last) * (w - left - right);
    const Y = (v) => top + (1 - (v - lo) / (hi - lo || 1)) * (height - top - bottom);
    ctx.font = "10px sans-serif";
    ctx.fillStyle = "#808495";
    ctx.fillText(fmt(hi), 2, top + 4);
    ctx.fillText(fmt(lo), 2, height - bottom);
    ctx.fillText("epoch", w - 34, height - 4);
    ctx.fillText(h.loss_unit, left, 10);
    ctx.fillStyle = "#1f77b4";
    ctx.fillText("training", w - 110, 10);
    ctx.fillStyle = "#ff7f0e";
    ctx.fillText("validation", w - 62, 10);
    for (const [ys, colour] of series) {
      ctx.strokeStyle = colour;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ys.forEach((v, k) => (k ? ctx.lineTo(X(k + 1), Y(v)) : ctx.moveTo(X(k + 1), Y(v))));
      ctx.stroke();
      if (ys.length <= 30) { // few epochs: each one a dot, so a single epoch shows too
        ctx.fillStyle = colour;
        ys.forEach((v, k) => ctx.fillRect(X(k + 1) - 2, Y(v) - 2, 4, 4));
      }
    }
    ctx.strokeStyle = "#31333f";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(X(epoch), top - 4);
    ctx.lineTo(X(epoch), height - bottom + 2);
    ctx.stroke();
  }
}

class TimelineView {
  constructor(parent) {
    this.parent = parent;
    this.root = element("div", "tl", parent);
    const bar = element("div", "tl-bar", this.root);
    this.play = element("button", "tl-play", bar, "▶ Play");
    this.play.type = "button";
    this.slider = element("input", "tl-slider", bar);
    this.slider.type = "range";
    this.slider.min = "0";
    this.slider.step = "any";
    this.slider.setAttribute("aria-label", "epoch");
    this.label = element("span", "tl-epoch", bar);
    const scaleBox = element("label", "tl-scale", bar);
    this.fixed = element("input", "", scaleBox);
    this.fixed.type = "checkbox";
    element("span", "", scaleBox, " same scale every epoch");
    this.panels = element("div", "tl-panels", this.root);
    this.legend = element("div", "tl-legend", this.root);
    this.list = [];
    this.epoch = 0;
    this.maxEpoch = 0;
    this.playing = false;
    this.pending = false;
    this.draws = 0;
    this.touched = false; // the visitor moved the scrubber: live epochs no longer pull it to the end
    this.ids = "";
    this.slider.addEventListener("input", () => {
      this.touched = true;
      this.stopPlaying();
      this.setEpoch(parseFloat(this.slider.value));
    });
    this.play.addEventListener("click", () => (this.playing ? this.stopPlaying() : this.startPlaying()));
    this.fixed.addEventListener("change", () => this.schedule());
    window.addEventListener("resize", () => this.schedule());
  }

  async update(data) {
    this.data = data;
    this.height = data.height || 420;
    this.colors = data.colors;
    const ids = data.models.map((m) => m.id).join(",");
    if (!this.sprites && data.sprites) slot(data.sprites).ready.then((s) => { this.sprites = s; this.schedule(); });
    if (ids === this.ids) return;
    if (data.follow) { // a live run's earlier bundles are never shown again: free them
      for (const old of this.ids.split(",")) if (old && !ids.split(",").includes(old)) bundles.delete(old);
    }
    this.ids = ids;
    const timelines = await Promise.all(data.models.map((m) => slot(m.id).ready));
    if (ids !== this.ids) return; // a newer update arrived meanwhile
    while (this.list.length > timelines.length) this.list.pop().root.remove();
    while (this.list.length < timelines.length) this.list.push(new Panel(this.panels, this));
    timelines.forEach((t, k) => this.list[k].setTimeline(t, data.models[k].name));
    this.root.dataset.models = String(timelines.length);
    const before = this.maxEpoch;
    this.maxEpoch = Math.max(...timelines.map((t) => t.header.epochs[t.header.epochs.length - 1]));
    this.slider.max = String(this.maxEpoch);
    this.legend.innerHTML = "";
    this.colors.forEach((c, d) => { element("span", "", this.legend, `● ${d}`).style.color = c; });
    if (data.follow && !this.touched) {
      this.glide(before, this.maxEpoch); // a live run: the points move on to the epoch that arrived
    } else if (!this.shownOnce) {
      this.setEpoch(data.start === "first" ? 0 : this.maxEpoch);
    } else {
      this.setEpoch(Math.min(this.epoch, this.maxEpoch));
    }
    this.shownOnce = true;
  }

  glide(from, to) {
    const start = performance.now();
    const step = (now) => {
      const a = Math.min(1, (now - start) / ARRIVAL_MS);
      this.setEpoch(from + (to - from) * a);
      if (a < 1 && !this.touched) requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  }

  setEpoch(e) {
    this.epoch = Math.max(0, Math.min(e, this.maxEpoch));
    this.slider.value = String(this.epoch);
    this.schedule();
  }

  startPlaying() {
    if (this.epoch >= this.maxEpoch) this.epoch = 0;
    this.playing = true;
    this.play.textContent = "❚❚ Pause";
    const rate = Math.max(2, this.maxEpoch / REPLAY_SECONDS); // epochs a second
    let last = performance.now();
    const tick = (now) => {
      if (!this.playing) return;
      this.setEpoch(this.epoch + ((now - last) / 1000) * rate);
      last = now;
      if (this.epoch >= this.maxEpoch) this.stopPlaying();
      else requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  stopPlaying() {
    this.playing = false;
    this.play.textContent = "▶ Play";
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.drawNow();
    });
  }

  drawNow() {
    if (!this.list.length) return; // the sprites may arrive before the timelines
    const shown = Math.round(this.epoch * 10) / 10;
    this.label.textContent = `epoch ${Number.isInteger(shown) ? shown : shown.toFixed(1)} of ${this.maxEpoch}`;
    for (const panel of this.list) panel.draw(this.epoch, this.fixed.checked, this.colors);
    this.draws += 1;
    this.root.dataset.draws = String(this.draws);
    this.root.dataset.epoch = this.epoch.toFixed(2);
    if (this.draws === 1) this.root.dataset.firstDrawnAt = String(performance.now());
  }
}

export default function ({ data, parentElement }) {
  if (data instanceof Uint8Array) {
    registerBundle(data);
    return;
  }
  let view = views.get(parentElement);
  if (!view) {
    view = new TimelineView(parentElement);
    views.set(parentElement, view);
  }
  view.update(data);
}
