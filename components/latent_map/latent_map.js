// Latent map: test digits drawn on a 2-D canvas, in the browser, from data sent once.
// Mounted by components/latent_map/__init__.py in two roles:
//   bytes          a bundle from core/latent_view.py (a map, or a sprite sheet of digits); shows
//                  nothing. It is the same between reruns, so Streamlit re-sends only its hash.
//   {map, ...}     one map view naming its bundles by id.
// Hover, zoom, pan and the sprites need no server run; a box or lasso selection goes back to
// Python on release (setStateValue "selection"). Views of one group share what is hovered and
// selected, so a digit picked on one map is highlighted on the others.

// `bundles`, `slot` and `readBundle` come from components/bundles.js, prepended to this script.
const views = new WeakMap(); // parent element -> MapView, so new data updates the same view
const groups = new Map(); // group name -> {views: Set, hover, selection: Set|null}

const SPRITE_ZOOM = 4; // from this zoom on, points are drawn as their digits
const HOVER_RADIUS = 10; // px: how near the pointer a point must be to be hovered
const TAP_RADIUS = 24; // px: how near a finger's tap a point must be to be picked (a fingertip is ~40 px wide)
const TAP_SLOP = 10; // px a finger may move and still tap
const HINT_MS = 1600; // how long "hold Ctrl to zoom" stays up
const CARD_SIDE = 112; // px: the hovered digit, 4x

function buildMap(header, body) {
  const n = header.count;
  const quantised = new Uint16Array(body.buffer, 0, 2 * n);
  const index = new Uint16Array(body.buffer, 4 * n, n);
  const label = new Uint8Array(body.buffer, 6 * n, n);
  const x = new Float32Array(n), y = new Float32Array(n);
  const [x0, x1] = header.x, [y0, y1] = header.y;
  for (let i = 0; i < n; i++) {
    x[i] = x0 + (quantised[2 * i] / 65535) * (x1 - x0);
    y[i] = y0 + (quantised[2 * i + 1] / 65535) * (y1 - y0);
  }
  const row = new Map(); // test index -> row on this map
  for (let i = 0; i < n; i++) row.set(index[i], i);
  const byLabel = Array.from({ length: 10 }, () => []);
  for (let i = 0; i < n; i++) byLabel[label[i]].push(i);
  return { n, x, y, index, label, row, byLabel: byLabel.map((rows) => Int32Array.from(rows)),
           bounds: [x0, x1, y0, y1] };
}

async function buildSprites(header, body) {
  const bitmap = await createImageBitmap(new Blob([body], { type: "image/png" }));
  // An ink copy: the digit's grey as alpha over dark ink, so sprites on the map read on any background.
  const ink = document.createElement("canvas");
  ink.width = bitmap.width;
  ink.height = bitmap.height;
  const ctx = ink.getContext("2d");
  ctx.drawImage(bitmap, 0, 0);
  const image = ctx.getImageData(0, 0, ink.width, ink.height);
  const px = image.data;
  for (let i = 0; i < px.length; i += 4) {
    px[i + 3] = px[i];
    px[i] = px[i + 1] = px[i + 2] = 20;
  }
  ctx.putImageData(image, 0, 0);
  return { bitmap, ink, columns: header.columns, side: header.side, count: header.count };
}

function registerBundle(bytes) {
  const { header, body } = readBundle(bytes);
  performance.mark(`latent_map ${header.kind} ${header.id}`); // when each bundle arrived, for benchmarks
  const entry = slot(header.id);
  if (entry.loaded) return; // a rerun re-mounts the same bundle: build it once
  entry.loaded = true;
  if (header.kind === "map") entry.resolve(buildMap(header, body));
  else if (header.kind === "sprites") buildSprites(header, body).then(entry.resolve);
}

function group(name) {
  let g = groups.get(name);
  if (!g) {
    g = { views: new Set(), hover: null, selection: null };
    groups.set(name, g);
  }
  return g;
}

function rgb(colour) { // "#rrggbb" -> [r, g, b]; other CSS colours read as a light grey
  const m = /^#([0-9a-f]{6})$/i.exec(colour.trim());
  if (!m) return [240, 242, 246];
  const v = parseInt(m[1], 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

function element(tag, className, parent) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (parent) parent.appendChild(node);
  return node;
}

function inside(polygon, x, y) { // even-odd rule
  let hit = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i], [xj, yj] = polygon[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

class MapView {
  constructor(parent) {
    this.parent = parent;
    this.root = null;
    this.frames = 0;
    this.releases = 0;
    this.tool = "pan";
    this.zoom = 1;
    this.centre = null;
    this.hovered = null; // test index under the pointer
    this.gesture = null;
    this.pending = false;
  }

  update(options, setStateValue) {
    this.setStateValue = setStateValue;
    const previous = this.options;
    this.options = options;
    if (!this.root) this.build();
    if (previous && previous.group !== options.group) this.leaveGroup(previous.group);
    this.group = group(options.group);
    this.group.views.add(this);
    this.root.dataset.map = options.name;
    this.root.classList.toggle("lm-small", (options.point || 1) < 1);
    this.canvas.style.height = `${options.height}px`;
    const selected = options.selected; // what Python holds: shown after a rerun or a remount
    if (options.report && selected && selected.revision !== this.revision) {
      this.revision = selected.revision;
      this.group.selection = selected.indices.length ? new Set(selected.indices) : null;
    }
    // The dots are drawn as soon as the map is here; the digits join when their sheets are decoded.
    const current = (field, id) => this.options[field] === id;
    const mapId = options.map, spritesId = options.sprites, rebuiltId = options.rebuilt;
    if (!this.map || this.mapId !== mapId) {
      this.sprites = this.spritesId === spritesId ? this.sprites : null;
      slot(mapId).ready.then((map) => {
        if (!current("map", mapId)) return; // a newer update named another map meanwhile
        this.map = map;
        this.mapId = mapId;
        this.zoom = 1;
        this.centre = null;
        this.status.textContent = "";
        this.resize();
      });
    }
    slot(spritesId).ready.then((sprites) => {
      if (!current("sprites", spritesId)) return;
      this.sprites = sprites;
      this.spritesId = spritesId;
      this.requestRender();
    });
    this.rebuilt = rebuiltId && this.rebuiltId === rebuiltId ? this.rebuilt : null;
    if (rebuiltId) {
      slot(rebuiltId).ready.then((rebuilt) => {
        if (!current("rebuilt", rebuiltId)) return;
        this.rebuilt = rebuilt;
        this.rebuiltId = rebuiltId;
      });
    }
    if (this.map) this.requestRender(); // new marks, selection or own digit
  }

  leaveGroup(name) {
    const g = groups.get(name);
    if (g) g.views.delete(this);
  }

  build() {
    this.root = element("div", "lm", this.parent);
    const bar = element("div", "lm-bar", this.root);
    this.buttons = {};
    for (const [tool, text, title] of [["pan", "Pan", "Drag to move; Ctrl + wheel or a pinch zooms"],
                                        ["box", "Box", "Drag a box around points to select them"],
                                        ["lasso", "Lasso", "Draw around points to select them"]]) {
      const button = element("button", "lm-tool", bar);
      button.type = "button";
      button.textContent = text;
      button.title = title;
      button.dataset.tool = tool;
      button.addEventListener("click", () => this.setTool(tool));
      this.buttons[tool] = button;
    }
    for (const [text, title, action] of [["+", "Zoom in", () => this.zoomBy(2)],
                                          ["−", "Zoom out", () => this.zoomBy(0.5)],
                                          ["Reset", "Show the whole map", () => this.resetView()],
                                          ["Clear", "Clear the selection", () => this.select(null)]]) {
      const button = element("button", "lm-action", bar);
      button.type = "button";
      button.textContent = text;
      button.title = title;
      button.addEventListener("click", action);
    }
    this.zoomText = element("span", "lm-zoom", bar);
    const stage = element("div", "lm-stage", this.root);
    this.base = element("canvas", "lm-base", stage); // the points; the canvas above holds the marks
    this.baseContext = this.base.getContext("2d");
    this.canvas = element("canvas", "lm-canvas", stage);
    this.hint = element("div", "lm-hint", stage); // "Ctrl + scroll to zoom", "tap the map to use it"
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute("aria-label", "Map of test digits: hover a point to see its digit; arrow keys "
                             + "move the map, + and - zoom, 0 shows all of it");
    this.context = this.canvas.getContext("2d");
    this.card = element("div", "lm-card", stage);
    const pictures = element("div", "lm-card-pictures", this.card);
    this.cardOriginal = this.cardCanvas(pictures, "original");
    this.cardRebuilt = this.cardCanvas(pictures, "rebuilt");
    this.cardText = element("div", "lm-card-text", this.card);
    this.status = element("div", "lm-status", stage);
    this.status.textContent = "Loading the map…";
    this.legend = element("div", "lm-legend", this.root);
    this.setTool("pan");
    this.listen();
    new ResizeObserver(() => this.resize()).observe(stage);

    // For tests and benchmarks: where a digit is on screen, the view, and what was drawn.
    this.canvas.latentMap = {
      screenOf: (testIndex) => this.screenOf(testIndex),
      positionOf: (testIndex) => { // map coordinates, or null
        const i = this.map && this.map.row.get(testIndex);
        return i === undefined || i === null ? null : [this.map.x[i], this.map.y[i]];
      },
      setView: (zoom, cx, cy) => { this.zoom = zoom; this.centre = [cx, cy]; this.render(); },
      view: () => ({ zoom: this.zoom, centre: this.centre, mode: this.mode }),
      hovered: () => this.hovered,
      linkedHover: () => this.group.hover, // what any view of the group hovers
      selection: () => (this.group.selection ? Array.from(this.group.selection) : []),
      own: () => this.options.own,
      send: (value) => this.setStateValue("selection", value), // what a forged message would send
      frames: () => this.frames,
      render: () => this.render(),
    };
  }

  cardCanvas(parent, caption) {
    const figure = element("figure", `lm-card-${caption}`, parent);
    const canvas = element("canvas", "", figure);
    canvas.width = canvas.height = 28;
    canvas.style.width = canvas.style.height = `${CARD_SIDE}px`;
    element("figcaption", "", figure).textContent = caption;
    return canvas;
  }

  setTool(tool) {
    this.tool = tool;
    for (const [name, button] of Object.entries(this.buttons)) button.classList.toggle("lm-on", name === tool);
    this.canvas.style.cursor = tool === "pan" ? "grab" : "crosshair";
  }

  // --- view -----------------------------------------------------------------------------------

  resize() {
    const box = this.canvas.getBoundingClientRect();
    const scale = window.devicePixelRatio || 1;
    this.width = box.width;
    this.height = box.height;
    this.scale = scale;
    for (const [canvas, ctx] of [[this.canvas, this.context], [this.base, this.baseContext]]) {
      canvas.width = Math.max(1, Math.round(box.width * scale));
      canvas.height = Math.max(1, Math.round(box.height * scale));
      ctx.setTransform(scale, 0, 0, scale, 0, 0);
    }
    this.pixels = null; // the dots' ImageData, remade at the new size
    this.render();
  }

  baseScale() { // px per map unit at zoom 1: the whole map fits, square units
    const [x0, x1, y0, y1] = this.map.bounds;
    return 0.94 * Math.min(this.width / Math.max(x1 - x0, 1e-9), this.height / Math.max(y1 - y0, 1e-9));
  }

  transform() {
    const [x0, x1, y0, y1] = this.map.bounds;
    const [cx, cy] = this.centre || [(x0 + x1) / 2, (y0 + y1) / 2];
    const s = this.baseScale() * this.zoom;
    return { s, ox: this.width / 2 - cx * s, oy: this.height / 2 + cy * s }; // screen y grows downwards
  }

  toMap(px, py) {
    const { s, ox, oy } = this.transform();
    return [(px - ox) / s, (oy - py) / s];
  }

  screenOf(testIndex) { // client coordinates of a test digit's point, or null when not on this map
    if (!this.map || !this.map.row.has(testIndex)) return null;
    const i = this.map.row.get(testIndex);
    const { s, ox, oy } = this.transform();
    const box = this.canvas.getBoundingClientRect();
    return [box.left + ox + this.map.x[i] * s, box.top + oy - this.map.y[i] * s];
  }

  zoomBy(factor, px = this.width / 2, py = this.height / 2) {
    if (!this.map) return;
    const [mx, my] = this.toMap(px, py);
    this.zoom = Math.min(200, Math.max(0.5, this.zoom * factor));
    const s = this.baseScale() * this.zoom; // keep the map point under (px, py) where it is
    this.centre = [mx - (px - this.width / 2) / s, my + (py - this.height / 2) / s];
    this.requestRender();
  }

  resetView() {
    this.zoom = 1;
    this.centre = null;
    this.requestRender();
  }

  requestRender(marksOnly = false) { // marksOnly: the points have not moved (a hover, a gesture)
    if (!this.canvas.isConnected && this.frames) { // unmounted (another page, another space): leave the group
      this.leaveGroup(this.options.group);
      return;
    }
    this.pointsStale = this.pointsStale || !marksOnly;
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      if (this.pointsStale) this.render();
      else this.renderMarks();
    });
  }

  // --- drawing ----------------------------------------------------------------------------------

  render() { // the points, then the marks
    if (!this.map || !this.width) return;
    this.pointsStale = false;
    const map = this.map;
    const { s, ox, oy } = this.transform();
    const style = getComputedStyle(this.root);
    const background = style.getPropertyValue("--st-secondary-background-color").trim() || "#f0f2f6";
    const selection = this.group.selection;
    const sprites = this.zoom >= SPRITE_ZOOM && this.sprites;
    this.mode = sprites ? "sprites" : "dots";
    let drawn;
    if (sprites) {
      const ctx = this.baseContext;
      ctx.fillStyle = background;
      ctx.fillRect(0, 0, this.width, this.height);
      drawn = this.drawSprites(ctx, s, ox, oy, selection);
    } else drawn = this.drawDots(s, ox, oy, selection, background);
    this.renderMarks();
    this.frames += 1;
    this.canvas.dataset.frames = String(this.frames);
    this.canvas.dataset.mode = this.mode;
    this.canvas.dataset.drawn = String(drawn);
    if (!this.canvas.dataset.firstDrawnAt && drawn === map.n) this.canvas.dataset.firstDrawnAt = String(performance.now());
    this.zoomText.textContent = `${this.zoom.toFixed(this.zoom < 10 ? 1 : 0)}x${sprites ? " · digits" : ""}`;
    this.drawLegend();
  }

  renderMarks() { // what moves without the points moving: hover ring, your digit, a box or lasso
    if (!this.map || !this.width) return;
    const { s, ox, oy } = this.transform();
    this.context.clearRect(0, 0, this.width, this.height);
    this.drawMarks(this.context, s, ox, oy);
    this.drawGesture(this.context);
  }

  drawDots(s, ox, oy, selection, background) {
    // Squares written straight into the pixels and blended by hand: 10,000 fillRect calls with
    // alpha took 27 ms a frame in software rendering, too slow to follow a drag.
    const map = this.map, w = this.base.width, h = this.base.height, k = this.scale;
    if (!this.pixels || this.pixels.width !== w || this.pixels.height !== h) {
      this.pixels = this.baseContext.createImageData(w, h);
    }
    const data = this.pixels.data;
    const [br, bg, bb] = rgb(background);
    for (let p = 0; p < data.length; p += 4) {
      data[p] = br; data[p + 1] = bg; data[p + 2] = bb; data[p + 3] = 255;
    }
    const radius = Math.max(1.2, Math.min(4, 1.4 * Math.sqrt(this.zoom) * (this.options.point || 1)));
    const side = Math.max(2, Math.round(2 * radius * k));
    const colours = this.options.colors.map(rgb);
    let drawn = 0;
    // faded points first, so the selected ones are drawn over them
    for (const pass of selection ? [false, true] : [true]) {
      const alpha = pass ? 0.8 : 0.12;
      for (let d = 0; d < 10; d++) {
        const [r, g, b] = colours[d];
        const rows = map.byLabel[d];
        for (let n = 0; n < rows.length; n++) {
          const i = rows[n];
          if (selection && selection.has(map.index[i]) !== pass) continue;
          const x0 = Math.round((ox + map.x[i] * s) * k - side / 2), y0 = Math.round((oy - map.y[i] * s) * k - side / 2);
          if (x0 >= w || y0 >= h || x0 + side <= 0 || y0 + side <= 0) continue;
          drawn++;
          for (let y = Math.max(0, y0); y < Math.min(h, y0 + side); y++) {
            let p = 4 * (y * w + Math.max(0, x0));
            for (let x = Math.max(0, x0); x < Math.min(w, x0 + side); x++, p += 4) {
              data[p] += alpha * (r - data[p]);
              data[p + 1] += alpha * (g - data[p + 1]);
              data[p + 2] += alpha * (b - data[p + 2]);
            }
          }
        }
      }
    }
    this.baseContext.putImageData(this.pixels, 0, 0);
    return drawn;
  }

  drawSprites(ctx, s, ox, oy, selection) {
    const map = this.map, { ink, columns, side } = this.sprites, colors = this.options.colors;
    const size = Math.min(56, 5 * this.zoom); // px on screen: grows as you zoom in, up to 2x
    const half = size / 2;
    let drawn = 0;
    for (let i = 0; i < map.n; i++) {
      const px = ox + map.x[i] * s, py = oy - map.y[i] * s;
      if (px < -half || py < -half || px > this.width + half || py > this.height + half) continue;
      const t = map.index[i];
      const faded = selection && !selection.has(t);
      ctx.globalAlpha = faded ? 0.1 : 0.3;
      ctx.fillStyle = colors[map.label[i]];
      ctx.fillRect(px - half, py - half, size, size);
      ctx.globalAlpha = faded ? 0.2 : 1;
      ctx.drawImage(ink, (t % columns) * side, Math.floor(t / columns) * side, side, side,
                    px - half, py - half, size, size);
      drawn++;
    }
    ctx.globalAlpha = 1;
    this.canvas.dataset.sprites = String(drawn);
    return drawn;
  }

  drawMarks(ctx, s, ox, oy) {
    const ring = (testIndex, radius, color, width) => {
      if (testIndex === null || !this.map.row.has(testIndex)) return;
      const i = this.map.row.get(testIndex);
      ctx.strokeStyle = color;
      ctx.lineWidth = width;
      ctx.beginPath();
      ctx.arc(ox + this.map.x[i] * s, oy - this.map.y[i] * s, radius, 0, 2 * Math.PI);
      ctx.stroke();
    };
    const text = getComputedStyle(this.root).getPropertyValue("--st-text-color").trim() || "#31333f";
    ring(this.group.hover, 9, text, 2.5); // the digit hovered here or on a linked map
    for (const t of this.options.neighbours || []) ring(t, 5, "#222", 1.5);
    const own = this.options.own;
    if (own) { // your digit: a star with a light rim
      const px = ox + own[0] * s, py = oy - own[1] * s;
      ctx.beginPath();
      for (let k = 0; k < 10; k++) {
        const r = k % 2 ? 5 : 12, a = (Math.PI / 5) * k - Math.PI / 2;
        ctx.lineTo(px + r * Math.cos(a), py + r * Math.sin(a));
      }
      ctx.closePath();
      ctx.fillStyle = "#111";
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 2;
      ctx.stroke();
      ctx.fill();
    }
  }

  drawGesture(ctx) {
    const g = this.gesture;
    if (!g || g.tool === "pan") return;
    ctx.strokeStyle = "#31333f";
    ctx.fillStyle = "rgba(49, 51, 63, 0.08)";
    ctx.setLineDash([5, 4]);
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    if (g.tool === "box") {
      const [a, b] = [g.points[0], g.points[g.points.length - 1]];
      ctx.rect(a[0], a[1], b[0] - a[0], b[1] - a[1]);
    } else {
      g.points.forEach(([x, y], k) => (k ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.closePath();
    }
    ctx.fill();
    ctx.stroke();
    ctx.setLineDash([]);
  }

  drawLegend() {
    if (this.legend.childElementCount) return;
    const colors = this.options.colors;
    for (let d = 0; d < 10; d++) {
      const item = element("span", "lm-key", this.legend);
      element("i", "", item).style.background = colors[d];
      item.append(String(d));
    }
  }

  // --- hover --------------------------------------------------------------------------------------

  pointAt(px, py, reach = HOVER_RADIUS) { // the row of the nearest point within `reach` px, or -1
    const map = this.map;
    const { s, ox, oy } = this.transform();
    const sprites = this.mode === "sprites";
    const radius = sprites ? Math.max(reach, Math.min(28, 3.5 * this.zoom)) : reach;
    let best = -1, bestDistance = radius * radius;
    for (let i = 0; i < map.n; i++) { // 10,000 points: a linear scan costs ~0.1 ms
      const dx = ox + map.x[i] * s - px, dy = oy - map.y[i] * s - py;
      const d = dx * dx + dy * dy;
      if (d < bestDistance) { best = i; bestDistance = d; }
    }
    return best;
  }

  hover(event) {
    const box = this.canvas.getBoundingClientRect();
    const row = this.pointAt(event.clientX - box.left, event.clientY - box.top);
    const testIndex = row < 0 ? null : this.map.index[row];
    if (testIndex === this.hovered) return;
    this.hovered = testIndex;
    this.showCard(row);
    this.group.hover = testIndex;
    for (const view of this.group.views) view.requestRender(true);
    this.canvas.dataset.hovered = testIndex === null ? "" : String(testIndex);
    this.canvas.dataset.hoverMs = (performance.now() - event.timeStamp).toFixed(2);
  }

  showCard(row) {
    if (row < 0 || !this.sprites) {
      this.card.classList.remove("lm-show");
      return;
    }
    const t = this.map.index[row];
    const copy = (canvas, sheet) => {
      const ctx = canvas.getContext("2d");
      const { columns, side } = this.sprites;
      ctx.drawImage(sheet, (t % columns) * side, Math.floor(t / columns) * side, side, side, 0, 0, 28, 28);
    };
    copy(this.cardOriginal, this.sprites.bitmap);
    this.cardRebuilt.parentElement.hidden = !this.rebuilt;
    if (this.rebuilt) copy(this.cardRebuilt, this.rebuilt.bitmap);
    this.cardText.textContent = `digit ${this.map.label[row]} · test digit #${t}`;
    this.card.dataset.index = String(t);
    this.card.classList.add("lm-show");
  }

  // --- gestures -------------------------------------------------------------------------------------
  // As map widgets do: the page scrolls over the map until the map is engaged. A mouse drags the map
  // and zooms with Ctrl (or a trackpad pinch, which sends Ctrl + wheel); a finger scrolls the page
  // until a tap engages the map, and that tap also picks the nearest digit; two fingers always pinch.

  showHint(text) {
    this.hint.textContent = text;
    this.hint.classList.add("lm-show");
    clearTimeout(this.hintTimer);
    this.hintTimer = setTimeout(() => this.hint.classList.remove("lm-show"), HINT_MS);
  }

  engage(on) {
    this.engaged = on;
    this.root.classList.toggle("lm-engaged", on);
    if (on) this.showHint("Map in use: drag to move, pinch to zoom; tap outside it to scroll the page");
  }

  listen() {
    const canvas = this.canvas;
    const local = (event) => {
      const box = canvas.getBoundingClientRect();
      return [event.clientX - box.left, event.clientY - box.top];
    };
    const fingers = new Map(); // pointerId -> position, for taps and pinches
    document.addEventListener("pointerdown", (event) => {
      if (this.engaged && !this.root.contains(event.target)) this.engage(false);
    }, true);
    canvas.addEventListener("pointerdown", (event) => {
      if (!this.map || event.button !== 0) return;
      if (event.pointerType === "touch") {
        fingers.set(event.pointerId, local(event));
        if (fingers.size === 2) { // a pinch: zoom about the midpoint, whatever the engagement
          const [a, b] = [...fingers.values()];
          this.pinch = { distance: Math.hypot(a[0] - b[0], a[1] - b[1]) || 1 };
          this.gesture = null;
          return;
        }
        this.tap = { at: local(event), time: event.timeStamp };
        if (!this.engaged) return; // the page scrolls: the browser takes the drag (touch-action)
      }
      try {
        canvas.setPointerCapture(event.pointerId);
      } catch { /* a synthetic event's pointer (tests, benchmarks) cannot be captured */ }
      this.gesture = { tool: this.tool, points: [local(event)], centre: this.transform() };
      if (this.tool === "pan") canvas.style.cursor = "grabbing";
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!this.map) return;
      const point = local(event);
      if (fingers.has(event.pointerId)) {
        fingers.set(event.pointerId, point);
        if (this.tap && Math.hypot(point[0] - this.tap.at[0], point[1] - this.tap.at[1]) > TAP_SLOP) this.tap = null;
        if (this.pinch && fingers.size === 2) {
          const [a, b] = [...fingers.values()];
          const distance = Math.hypot(a[0] - b[0], a[1] - b[1]) || 1;
          this.zoomBy(distance / this.pinch.distance, (a[0] + b[0]) / 2, (a[1] + b[1]) / 2);
          this.pinch.distance = distance;
          return;
        }
      }
      const g = this.gesture;
      if (!g) return event.pointerType === "touch" ? undefined : this.hover(event);
      if (g.tool === "pan") {
        const [sx, sy] = g.points[0];
        const { s } = this.transform();
        if (!g.start) g.start = this.centre || this.toMap(this.width / 2, this.height / 2);
        this.centre = [g.start[0] - (point[0] - sx) / s, g.start[1] + (point[1] - sy) / s];
        this.requestRender();
      } else {
        g.points.push(point);
        this.requestRender(true);
      }
    });
    const release = (event) => {
      const tapped = event.type === "pointerup" && fingers.has(event.pointerId) && this.tap && !this.pinch;
      fingers.delete(event.pointerId);
      if (fingers.size < 2) this.pinch = null;
      if (tapped) { // a finger's tap: pick the nearest digit, and engage the map
        this.tap = null;
        this.gesture = null;
        const [px, py] = local(event);
        const row = this.pointAt(px, py, TAP_RADIUS);
        this.hovered = row < 0 ? null : this.map.index[row];
        this.showCard(row);
        this.group.hover = this.hovered;
        if (row >= 0) this.select([this.map.index[row]]);
        if (!this.engaged) this.engage(true);
        this.requestRender(true);
        return;
      }
      const g = this.gesture;
      if (!g) return;
      this.gesture = null;
      if (g.tool === "pan") {
        canvas.style.cursor = "grab";
        if (!g.start && this.hovered !== null) this.select([this.hovered]); // a click, not a drag: that digit
      } else if (g.points.length > 1) this.select(this.enclosed(g));
      this.requestRender();
    };
    canvas.addEventListener("pointerup", release);
    canvas.addEventListener("pointercancel", release); // a finger that became a page scroll ends here
    canvas.addEventListener("pointerleave", (event) => {
      if (event.pointerType === "touch" || this.gesture || this.hovered === null) return;
      this.hovered = null;
      this.showCard(-1);
      this.group.hover = null;
      for (const view of this.group.views) view.requestRender(true);
    });
    canvas.addEventListener("wheel", (event) => {
      if (!this.map) return;
      if (!event.ctrlKey && !event.metaKey && !this.engaged) { // the page scrolls on
        this.showHint("Hold Ctrl (⌘ on a Mac) and scroll to zoom the map");
        return;
      }
      event.preventDefault(); // the wheel zooms the map, not the page
      const [px, py] = local(event);
      this.zoomBy(Math.exp(-event.deltaY / 500), px, py);
    }, { passive: false });
    canvas.addEventListener("dblclick", (event) => this.zoomBy(2, ...local(event)));
    canvas.addEventListener("keydown", (event) => { // arrows pan, + and - zoom, 0 shows the whole map
      if (!this.map) return;
      const step = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[event.key];
      if (step) {
        const [cx, cy] = this.toMap(this.width / 2 + step[0] * this.width / 8, this.height / 2 + step[1] * this.height / 8);
        this.centre = [cx, cy];
        this.requestRender();
      } else if (event.key === "+" || event.key === "=") this.zoomBy(1.5);
      else if (event.key === "-") this.zoomBy(1 / 1.5);
      else if (event.key === "0") this.resetView();
      else return;
      event.preventDefault();
    });
  }

  enclosed(g) { // test indices of the points inside a box or lasso (screen space)
    const map = this.map, { s, ox, oy } = this.transform();
    const [a, b] = [g.points[0], g.points[g.points.length - 1]];
    const [left, right] = [Math.min(a[0], b[0]), Math.max(a[0], b[0])];
    const [top, bottom] = [Math.min(a[1], b[1]), Math.max(a[1], b[1])];
    const picked = [];
    for (let i = 0; i < map.n; i++) {
      const px = ox + map.x[i] * s, py = oy - map.y[i] * s;
      const hit = g.tool === "box" ? px >= left && px <= right && py >= top && py <= bottom
                                   : inside(g.points, px, py);
      if (hit) picked.push(map.index[i]);
    }
    return picked;
  }

  select(indices) {
    this.group.selection = indices && indices.length ? new Set(indices) : null;
    for (const view of this.group.views) view.requestRender();
    const reporter = [...this.group.views].find((v) => v.options.report && v.map);
    // Python hears only points of the reporting map (a small map may hold digits the big one lacks).
    if (reporter) reporter.report((indices || []).filter((t) => reporter.map.row.has(t)));
  }

  report(indices) {
    this.releases += 1; // makes every release a change, even to the same selection
    this.setStateValue("selection", { indices, release: this.releases });
  }
}

export default function ({ data, parentElement, setStateValue }) {
  if (data instanceof Uint8Array) {
    registerBundle(data);
    return;
  }
  let view = views.get(parentElement);
  if (!view) {
    view = new MapView(parentElement);
    views.set(parentElement, view);
  }
  view.update(data, setStateValue);
}
