// Latent pad: sliders or a 2-D pad whose digit is decoded here, in the browser, on every input
// event, with no server round trip. Mounted by components/latent_pad/__init__.py in two roles:
//   bytes         the JSON of a decoder exported by core/export.py; shows nothing. It stays the
//                 same between reruns, so Streamlit re-sends only its hash.
//   {decoder,...} one set of controls and a digit; names its decoder by export id.
// The code comes back to Python when the user lets go (setStateValue "z"), not per frame.

const decoders = new Map(); // export id -> {ready: Promise<decoder>, resolve}
const pads = new WeakMap(); // parent element -> Pad, so new data updates the same controls

function decoderSlot(id) {
  let slot = decoders.get(id);
  if (!slot) {
    let resolve;
    const ready = new Promise((r) => (resolve = r));
    slot = { ready, resolve, loaded: false };
    decoders.set(id, slot);
  }
  return slot;
}

function floats(base64) {
  // little-endian float32, as written by core/export.py (every browser runs little-endian)
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

// The forward pass of core/export.py's run_exported, accumulating in double precision.
export function buildDecoder(spec) {
  const layers = spec.layers.map((layer) => {
    if (layer.type === "linear") {
      return { type: "linear", in: layer.in, out: layer.out,
               weight: floats(layer.weight), bias: floats(layer.bias) }; // weight (out, in), row-major
    }
    if (layer.type === "relu" || layer.type === "sigmoid") return { type: layer.type };
    throw new Error(`The latent pad cannot run a ${layer.type} layer.`);
  });
  const inputSize = spec.latent + spec.classes;
  const width = Math.max(inputSize, ...layers.filter((l) => l.type === "linear").map((l) => l.out));
  let current = new Float64Array(width);
  let next = new Float64Array(width);

  function decode(z, label) {
    let x = current, y = next, size = inputSize;
    for (let i = 0; i < spec.latent; i++) x[i] = z[i];
    for (let k = 0; k < spec.classes; k++) x[spec.latent + k] = k === label ? 1 : 0; // one-hot digit
    for (const layer of layers) {
      if (layer.type === "linear") {
        const { weight, bias } = layer, n = layer.in;
        for (let o = 0; o < layer.out; o++) {
          let sum = bias[o];
          const row = o * n;
          for (let i = 0; i < n; i++) sum += weight[row + i] * x[i];
          y[o] = sum;
        }
        [x, y] = [y, x];
        size = layer.out;
      } else if (layer.type === "relu") {
        for (let i = 0; i < size; i++) if (x[i] < 0) x[i] = 0;
      } else {
        for (let i = 0; i < size; i++) x[i] = 1 / (1 + Math.exp(-x[i]));
      }
    }
    return x.subarray(0, size); // (784,) pixels in [0, 1], valid until the next call
  }
  return { latent: spec.latent, classes: spec.classes, decode };
}

function registerDecoder(spec) {
  const slot = decoderSlot(spec.id);
  if (!slot.loaded) { // a rerun re-mounts the same decoder: build it once
    slot.loaded = true;
    slot.resolve(buildDecoder(spec));
  }
}

function element(tag, className, parent) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (parent) parent.appendChild(node);
  return node;
}

const round2 = (v) => Math.round(v * 100) / 100;

class Pad {
  constructor(parent) {
    this.parent = parent;
    this.root = null;
    this.layout = "";
    this.revision = null;
    this.frames = 0;
    this.releases = 0;
    this.pixels = new Float64Array(784);
    this.dragging = false;
  }

  update(options, setStateValue) {
    this.setStateValue = setStateValue;
    this.options = options;
    const layout = [options.decoder, options.mode, options.latent, options.limit].join("|");
    if (layout !== this.layout) {
      this.layout = layout;
      this.build();
      this.revision = null;
    }
    if (this.revision !== options.revision) { // Python set the code (a button, a plain slider)
      this.revision = options.revision;
      this.z = options.z.slice();
    }
    this.label = options.label ?? null;
    const slot = decoderSlot(options.decoder);
    const wanted = this.layout;
    slot.ready.then((decoder) => {
      if (this.layout !== wanted) return; // a newer update rebuilt the pad meanwhile
      this.decoder = decoder;
      this.status.textContent = "";
      this.render();
    });
  }

  build() {
    const { mode, latent, limit, name } = this.options;
    if (this.root) this.root.remove();
    this.root = element("div", `lp lp-mode-${mode}`, this.parent);
    this.root.dataset.pad = name;
    const view = element("div", "lp-view", this.root);
    this.canvas = element("canvas", "lp-digit", view);
    this.canvas.width = this.canvas.height = 28;
    this.canvas.dataset.frames = "0";
    this.context = this.canvas.getContext("2d");
    this.image = this.context.createImageData(28, 28);
    this.readout = element("div", "lp-readout", view);
    this.status = element("div", "lp-status", view);
    this.status.textContent = "Loading the decoder…";
    const controls = element("div", "lp-controls", this.root);
    if (mode === "pad") this.buildPad(controls, limit);
    else this.buildSliders(controls, latent, limit);

    // For tests and benchmarks: decode a code as a drag would, and read the pixels back.
    this.canvas.latentPad = {
      setLatent: (z) => { this.z = z.slice(); this.render(); return Array.from(this.pixels); },
      pixels: () => Array.from(this.pixels),
      latent: () => this.z.slice(),
      frames: () => this.frames,
    };
  }

  buildSliders(controls, latent, limit) {
    this.sliders = [];
    for (let i = 0; i < latent; i++) {
      const row = element("label", "lp-row", controls);
      element("span", "lp-name", row).textContent = `z${i}`;
      const input = element("input", "", row);
      Object.assign(input, { type: "range", min: -limit, max: limit, step: 0.01 });
      input.dataset.index = i;
      const value = element("output", "lp-value", row);
      input.addEventListener("input", () => { this.z[i] = Number(input.value); this.render(); });
      input.addEventListener("change", () => this.report()); // fires once, on release
      this.sliders.push({ input, value });
    }
  }

  buildPad(controls, limit) {
    const size = 280;
    const scale = window.devicePixelRatio || 1;
    this.pad = element("canvas", "lp-pad", controls);
    this.pad.width = this.pad.height = Math.round(size * scale);
    this.pad.style.width = this.pad.style.height = `${size}px`;
    this.pad.tabIndex = 0;
    this.pad.setAttribute("aria-label", "2-D latent pad: drag, or use the arrow keys");
    const toLatent = (event) => {
      const box = this.pad.getBoundingClientRect();
      const clamp = (v) => Math.max(-limit, Math.min(limit, v));
      return [clamp(((event.clientX - box.left) / box.width * 2 - 1) * limit),
              clamp((1 - (event.clientY - box.top) / box.height * 2) * limit)]; // up = high z1
    };
    this.pad.addEventListener("pointerdown", (event) => {
      this.pad.setPointerCapture(event.pointerId);
      this.dragging = true;
      this.z = toLatent(event);
      this.render();
    });
    this.pad.addEventListener("pointermove", (event) => {
      if (!this.dragging) return;
      this.z = toLatent(event);
      this.render();
    });
    const release = () => {
      if (!this.dragging) return;
      this.dragging = false;
      this.report();
    };
    this.pad.addEventListener("pointerup", release);
    this.pad.addEventListener("pointercancel", release);
    const keys = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
    this.pad.addEventListener("keydown", (event) => {
      const move = keys[event.key];
      if (!move) return;
      event.preventDefault();
      const stepSize = limit / 50;
      this.z = this.z.map((v, i) => Math.max(-limit, Math.min(limit, v + move[i] * stepSize)));
      this.render();
    });
    this.pad.addEventListener("keyup", (event) => { if (keys[event.key]) this.report(); });
  }

  render() {
    if (!this.decoder) return;
    const pixels = this.decoder.decode(this.z, this.label);
    this.pixels.set(pixels);
    const data = this.image.data;
    for (let i = 0; i < 784; i++) {
      const grey = Math.round(pixels[i] * 255);
      data[4 * i] = data[4 * i + 1] = data[4 * i + 2] = grey;
      data[4 * i + 3] = 255;
    }
    this.context.putImageData(this.image, 0, 0);
    this.frames += 1;
    this.canvas.dataset.frames = String(this.frames);
    if (this.sliders) {
      this.sliders.forEach(({ input, value }, i) => {
        if (Number(input.value) !== this.z[i]) input.value = this.z[i];
        value.textContent = this.z[i].toFixed(2);
      });
      this.readout.textContent = "";
    } else {
      this.drawPad();
      this.readout.textContent = `z0 ${this.z[0].toFixed(2)}   z1 ${this.z[1].toFixed(2)}`;
    }
  }

  drawPad() {
    const { limit, marks = [] } = this.options;
    const ctx = this.pad.getContext("2d");
    const size = this.pad.width;
    const style = getComputedStyle(this.root);
    const color = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
    const toPixel = (x, y) => [(x / limit + 1) / 2 * size, (1 - y / limit) / 2 * size];
    ctx.clearRect(0, 0, size, size);
    ctx.fillStyle = color("--st-secondary-background-color", "#f0f2f6");
    ctx.fillRect(0, 0, size, size);
    ctx.strokeStyle = color("--st-border-color", "#d5d8de");
    ctx.lineWidth = 1;
    for (let v = -Math.floor(limit); v <= limit; v++) { // a line at every whole z, heavier at 0
      const [p] = toPixel(v, 0);
      ctx.globalAlpha = v === 0 ? 1 : 0.45;
      ctx.beginPath(); ctx.moveTo(p, 0); ctx.lineTo(p, size); ctx.stroke();
      ctx.beginPath(); ctx.moveTo(0, size - p); ctx.lineTo(size, size - p); ctx.stroke();
    }
    ctx.globalAlpha = 1;
    const font = size / 22;
    ctx.fillStyle = color("--st-text-color", "#31333f");
    ctx.font = `${font}px sans-serif`;
    ctx.textBaseline = "bottom";
    ctx.textAlign = "right";
    ctx.fillText(`z0 ${limit}`, size - font / 2, size / 2 - font / 4);
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    ctx.fillText(`z1 ${limit}`, size / 2 + font / 3, font / 3);
    ctx.font = `600 ${font}px sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    // Digit centroids, coloured as in the scatter. A badge pushed away from its centroid (so that
    // it does not hide another) keeps a dot at the centroid and a line to it.
    for (const [x, y, , fill, bx = x, by = y] of marks) {
      if (bx === x && by === y) continue;
      const [px, py] = toPixel(x, y);
      const [qx, qy] = toPixel(bx, by);
      ctx.strokeStyle = fill;
      ctx.fillStyle = fill;
      ctx.lineWidth = Math.max(1, size / 280);
      ctx.beginPath(); ctx.moveTo(px, py); ctx.lineTo(qx, qy); ctx.stroke();
      ctx.beginPath(); ctx.arc(px, py, font * 0.2, 0, 2 * Math.PI); ctx.fill();
    }
    for (const [x, y, text, fill, bx = x, by = y] of marks) {
      const [px, py] = toPixel(bx, by);
      ctx.fillStyle = fill;
      ctx.beginPath(); ctx.arc(px, py, font * 0.8, 0, 2 * Math.PI); ctx.fill();
      ctx.fillStyle = "#fff";
      ctx.fillText(text, px, py + 1);
    }
    const [px, py] = toPixel(this.z[0], this.z[1]);
    ctx.strokeStyle = color("--st-primary-color", "#ff4b4b");
    ctx.lineWidth = size / 140;
    ctx.beginPath(); ctx.arc(px, py, size / 28, 0, 2 * Math.PI); ctx.stroke();
    ctx.beginPath(); ctx.moveTo(px - size / 16, py); ctx.lineTo(px + size / 16, py);
    ctx.moveTo(px, py - size / 16); ctx.lineTo(px, py + size / 16); ctx.stroke();
  }

  report() {
    this.releases += 1; // makes every release a change, even back to an earlier code
    this.setStateValue("z", { values: this.z.map(round2), release: this.releases });
  }
}

export default function ({ data, parentElement, setStateValue }) {
  if (data instanceof Uint8Array) {
    registerDecoder(JSON.parse(new TextDecoder().decode(data)));
    return;
  }
  let pad = pads.get(parentElement);
  if (!pad) {
    pad = new Pad(parentElement);
    pads.set(parentElement, pad);
  }
  pad.update(data, setStateValue);
}
