// A saliency map over its input, read-only: the review screen shows it beside the editable
// annotation, and the blind comparison shows one per round.

import { renderInput, renderSaliency } from "./render.js";

export function displayScale(project, grid, maxDisplay) {
  const square = project.kind === "images" || project.kind === "raster_sequences";
  const x = Math.min(64, maxDisplay / (square ? Math.max(grid.cols, grid.rows) : grid.cols));
  const y = square ? x : Math.min(64, Math.max(x, Math.min(24, (0.75 * maxDisplay) / grid.rows)));
  return [x, y];
}

export class MapView {
  constructor(container) {
    this.stage = document.createElement("div");
    this.stage.className = "stage map";
    this.base = document.createElement("canvas");
    this.heat = document.createElement("canvas");
    this.base.className = "layer base";
    this.heat.className = "layer saliency";
    this.stage.append(this.base, this.heat);
    container.appendChild(this.stage);
  }

  show(project, grid, input, ranges, channel, saliency, maxDisplay) {
    const [x, y] = displayScale(project, grid, maxDisplay);
    this.stage.style.width = `${grid.cols * x}px`;
    this.stage.style.height = `${grid.rows * y}px`;
    for (const [canvas, draw] of [[this.base, (image) => renderInput(image, project, grid, input, ranges, channel)],
      [this.heat, (image) => renderSaliency(image, grid, saliency)]]) {
      canvas.width = grid.cols;
      canvas.height = grid.rows;
      const context = canvas.getContext("2d");
      const image = context.createImageData(grid.cols, grid.rows);
      draw(image);
      context.putImageData(image, 0, 0);
    }
  }

  setOpacity(opacity) {
    this.heat.style.opacity = String(opacity);
  }
}
