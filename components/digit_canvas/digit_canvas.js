// A drawing box for one digit: black strokes on white, drawn with pointer events (finger, pen or
// mouse), Undo and Clear under it. Mounted by components/digit_canvas/__init__.py with
// {side, stroke}; sends the drawing as a PNG data URL ("png") when a stroke ends, and null when
// Undo or Clear leaves the box empty. The strokes live in the element, so a rerun keeps them.

const pads = new WeakMap(); // parent element -> Pad

function element(tag, className, parent) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  parent.appendChild(node);
  return node;
}

class Pad {
  constructor(parent) {
    this.root = element("div", "dc2", parent);
    this.canvas = element("canvas", "dc2-canvas", this.root);
    this.canvas.setAttribute("aria-label", "Drawing box: draw one digit, big, in the middle");
    const bar = element("div", "dc2-bar", this.root);
    this.undoButton = this.button(bar, "Undo", "Take back the last stroke", () => this.undo());
    this.clearButton = this.button(bar, "Clear", "Start again with an empty box", () => this.clear());
    this.strokes = [];
    this.current = null;
    this.listen();
  }

  button(bar, text, title, action) {
    const node = element("button", "dc2-button", bar);
    node.type = "button";
    node.textContent = text;
    node.title = title;
    node.addEventListener("click", action);
    return node;
  }

  update(data, setStateValue) {
    this.setStateValue = setStateValue;
    const side = Number(data && data.side) || 280;
    this.strokeWidth = Number(data && data.stroke) || 18;
    if (this.side !== side) {
      this.side = side;
      this.canvas.width = side; // the PNG is side x side; CSS scales the box to narrow screens
      this.canvas.height = side;
      this.root.style.maxWidth = `${side}px`;
      this.redraw();
    }
    this.refreshButtons();
  }

  point(event) { // canvas pixels under the pointer, whatever the box's CSS size
    const box = this.canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * (this.side / box.width), (event.clientY - box.top) * (this.side / box.height)];
  }

  listen() {
    const canvas = this.canvas;
    canvas.addEventListener("pointerdown", (event) => {
      if (event.button !== 0 || this.current) return;
      try {
        canvas.setPointerCapture(event.pointerId);
      } catch { /* a synthetic event's pointer cannot be captured */ }
      this.current = { id: event.pointerId, points: [this.point(event)] };
      this.drawStroke(this.current.points);
      event.preventDefault();
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!this.current || event.pointerId !== this.current.id) return;
      const points = this.current.points;
      points.push(this.point(event));
      this.drawStroke(points.slice(-2));
      event.preventDefault();
    });
    const end = (event) => {
      if (!this.current || event.pointerId !== this.current.id) return;
      this.strokes.push(this.current.points);
      this.current = null;
      this.send();
    };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
  }

  drawStroke(points) {
    const ctx = this.canvas.getContext("2d");
    ctx.strokeStyle = "#000";
    ctx.fillStyle = "#000";
    ctx.lineWidth = this.strokeWidth;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    if (points.length === 1) { // a dot
      ctx.beginPath();
      ctx.arc(points[0][0], points[0][1], this.strokeWidth / 2, 0, 2 * Math.PI);
      ctx.fill();
      return;
    }
    ctx.beginPath();
    ctx.moveTo(points[0][0], points[0][1]);
    for (const [x, y] of points.slice(1)) ctx.lineTo(x, y);
    ctx.stroke();
  }

  redraw() {
    const ctx = this.canvas.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, this.side, this.side);
    for (const stroke of this.strokes) this.drawStroke(stroke);
  }

  undo() {
    if (!this.strokes.length) return;
    this.strokes.pop();
    this.redraw();
    this.send();
  }

  clear() {
    if (!this.strokes.length) return;
    this.strokes = [];
    this.redraw();
    this.send();
  }

  refreshButtons() {
    this.undoButton.disabled = this.clearButton.disabled = this.strokes.length === 0;
    this.canvas.dataset.strokes = String(this.strokes.length);
  }

  send() {
    this.refreshButtons();
    if (this.setStateValue) this.setStateValue("png", this.strokes.length ? this.canvas.toDataURL("image/png") : null);
  }
}

export default function ({ data, parentElement, setStateValue }) {
  let pad = pads.get(parentElement);
  if (!pad) {
    pad = new Pad(parentElement);
    pads.set(parentElement, pad);
  }
  pad.update(data, setStateValue);
}
