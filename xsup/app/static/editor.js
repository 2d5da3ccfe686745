// The drawing surface: input and annotation canvases stacked, with a brush and a box
// tool. A stroke changes cells of the annotation array in place, redraws only the rectangle it
// touched, and hands an undo entry to `onStroke` when the pointer is released.

import { StrokeRecorder } from "./history.js";
import { cellIndex, describeCell, frameSize } from "./grid.js";
import { displayScale } from "./mapview.js";
import { frameMissing, renderAnnotation, renderInput } from "./render.js";

// Brush timings (ms per stroke segment), read by the benchmark.
window.xsupPerf = window.xsupPerf || { brush: [] };

function layer(container, className) {
  const canvas = document.createElement("canvas");
  canvas.className = className;
  container.appendChild(canvas);
  return canvas;
}

export class Editor {
  constructor(container, { onStroke, onHover, beforeStroke }) {
    this.container = container;
    this.base = layer(container, "layer base");
    this.overlay = layer(container, "layer overlay");
    this.overlay.id = "overlay";
    this.cursor = document.createElement("div");
    this.cursor.className = "brush-cursor";
    this.box = document.createElement("div");
    this.box.className = "box-selection";
    container.append(this.cursor, this.box);
    this.onStroke = onStroke;
    this.onHover = onHover;
    this.beforeStroke = beforeStroke;
    this.tool = { mode: "brush", value: 1, size: 4 };
    this.stroke = null;
    this.enabled = true;
    this.overlay.addEventListener("pointerdown", (e) => this.down(e));
    this.overlay.addEventListener("pointermove", (e) => this.move(e));
    this.overlay.addEventListener("pointerup", (e) => this.up(e));
    this.overlay.addEventListener("pointercancel", (e) => this.up(e));
    this.overlay.addEventListener("pointerleave", () => { this.cursor.style.display = "none"; });
  }

  // Show frame `grid` of a sample, at most `maxDisplay` pixels wide: everything redrawn.
  show(project, grid, annotation, input, ranges, channel, maxDisplay) {
    this.project = project;
    this.grid = grid;
    this.annotation = annotation;
    for (const canvas of [this.base, this.overlay]) {
      canvas.width = grid.cols;
      canvas.height = grid.rows;
    }
    // Square pixels for images; for a heat map or a row of features, rows stay tall enough to hit.
    [this.scaleX, this.scaleY] = displayScale(project, grid, maxDisplay);
    this.container.style.width = `${grid.cols * this.scaleX}px`;
    this.container.style.height = `${grid.rows * this.scaleY}px`;
    this.recorder = new StrokeRecorder(annotation.data.length);
    const base = this.base.getContext("2d");
    const image = base.createImageData(grid.cols, grid.rows);
    renderInput(image, project, grid, input, ranges, channel);
    base.putImageData(image, 0, 0);
    this.overlayContext = this.overlay.getContext("2d");
    this.overlayImage = this.overlayContext.createImageData(grid.cols, grid.rows);
    this.redraw();
  }

  // Redraw the whole annotation layer (after undo, reload, frame operations).
  redraw() {
    renderAnnotation(this.overlayImage, this.grid, this.annotation.data);
    this.overlayContext.putImageData(this.overlayImage, 0, 0);
    this.container.classList.toggle("missing", frameMissing(this.grid, this.annotation.data));
  }

  cellAt(event) {
    const rect = this.overlay.getBoundingClientRect();
    return [
      ((event.clientY - rect.top) / rect.height) * this.grid.rows,
      ((event.clientX - rect.left) / rect.width) * this.grid.cols,
    ];
  }

  down(event) {
    if (!this.enabled || event.button !== 0 || !this.grid) return;
    event.preventDefault();
    this.overlay.setPointerCapture(event.pointerId);
    const [y, x] = this.cellAt(event);
    this.stroke = { start: [y, x], last: [y, x] };
    this.beforeStroke(this.recorder);
    // A stroke on a frame nobody annotated makes it annotated: its NaN cells become 0.
    const data = this.annotation.data;
    const start = this.grid.offset;
    if (this.project.kind === "images" || this.project.kind === "raster_sequences") {
      for (let i = start; i < start + frameSize(this.grid); i++) {
        if (Number.isNaN(data[i])) this.recorder.set(data, i, 0);
      }
    } else {
      for (let i = 0; i < data.length; i++) if (Number.isNaN(data[i])) this.recorder.set(data, i, 0);
    }
    if (this.tool.mode === "brush") this.segment(y, x, y, x);
    else this.showBox(y, x);
    if (!this.recorder.empty) this.redraw();
  }

  move(event) {
    if (!this.grid) return;
    const [y, x] = this.cellAt(event);
    const r = Math.floor(y), c = Math.floor(x);
    if (r >= 0 && r < this.grid.rows && c >= 0 && c < this.grid.cols) {
      this.onHover(`${describeCell(this.project, r, c)}`, cellIndex(this.grid, r, c));
    }
    this.moveCursor(event, y, x);
    if (!this.stroke) return;
    if (this.tool.mode === "brush") {
      const [y0, x0] = this.stroke.last;
      this.segment(y0, x0, y, x);
    } else {
      this.showBox(y, x);
    }
    this.stroke.last = [y, x];
  }

  up(event) {
    if (!this.stroke) return;
    if (this.tool.mode === "box") {
      const [y, x] = this.cellAt(event);
      this.fillBox(this.stroke.start, [y, x]);
      this.box.style.display = "none";
    }
    this.stroke = null;
    if (this.recorder.empty) return;
    const entry = this.recorder.finish(this.annotation.data);
    this.redraw();
    this.onStroke(entry);
  }

  moveCursor(event, y, x) {
    if (this.tool.mode !== "brush") { this.cursor.style.display = "none"; return; }
    const width = this.tool.size * this.scaleX, height = this.tool.size * this.scaleY;
    Object.assign(this.cursor.style, {
      display: "block", width: `${width}px`, height: `${height}px`,
      left: `${x * this.scaleX - width / 2}px`, top: `${y * this.scaleY - height / 2}px`,
    });
  }

  // Paint every cell whose centre lies within size/2 of the segment (y0, x0)-(y1, x1).
  segment(y0, x0, y1, x1) {
    const t0 = performance.now();
    const { rows, cols } = this.grid;
    const radius = this.tool.size / 2;
    const top = Math.max(0, Math.floor(Math.min(y0, y1) - radius));
    const bottom = Math.min(rows, Math.ceil(Math.max(y0, y1) + radius));
    const left = Math.max(0, Math.floor(Math.min(x0, x1) - radius));
    const right = Math.min(cols, Math.ceil(Math.max(x0, x1) + radius));
    if (top >= bottom || left >= right) return;
    const dy = y1 - y0, dx = x1 - x0;
    const length2 = dx * dx + dy * dy;
    const r2 = Math.max(radius * radius, 0.25);
    const data = this.annotation.data;
    for (let r = top; r < bottom; r++) {
      for (let c = left; c < right; c++) {
        const py = r + 0.5 - y0, px = c + 0.5 - x0;
        const t = length2 > 0 ? Math.min(1, Math.max(0, (py * dy + px * dx) / length2)) : 0;
        const ey = py - t * dy, ex = px - t * dx;
        if (ey * ey + ex * ex <= r2) this.recorder.set(data, cellIndex(this.grid, r, c), this.tool.value);
      }
    }
    renderAnnotation(this.overlayImage, this.grid, data, top, left, bottom, right);
    this.overlayContext.putImageData(this.overlayImage, 0, 0, left, top, right - left, bottom - top);
    const times = window.xsupPerf.brush;
    times.push(performance.now() - t0);
    if (times.length > 1000) times.shift();
  }

  boxCells(start, end) {
    const clampRow = (v) => Math.min(this.grid.rows - 1, Math.max(0, Math.floor(v)));
    const clampCol = (v) => Math.min(this.grid.cols - 1, Math.max(0, Math.floor(v)));
    return [Math.min(clampRow(start[0]), clampRow(end[0])), Math.min(clampCol(start[1]), clampCol(end[1])),
      Math.max(clampRow(start[0]), clampRow(end[0])) + 1, Math.max(clampCol(start[1]), clampCol(end[1])) + 1];
  }

  showBox(y, x) {
    const [top, left, bottom, right] = this.boxCells(this.stroke.start, [y, x]);
    Object.assign(this.box.style, {
      display: "block", left: `${left * this.scaleX}px`, top: `${top * this.scaleY}px`,
      width: `${(right - left) * this.scaleX}px`, height: `${(bottom - top) * this.scaleY}px`,
    });
  }

  // Set every cell of the box (time ranges x features on a heat map, or features in a row).
  fillBox(start, end) {
    const [top, left, bottom, right] = this.boxCells(start, end);
    for (let r = top; r < bottom; r++) {
      for (let c = left; c < right; c++) {
        this.recorder.set(this.annotation.data, cellIndex(this.grid, r, c), this.tool.value);
      }
    }
  }
}
