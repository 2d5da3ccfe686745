// The frame strip of a raster sequence: one button per frame showing whether a person drew it,
// it is "not annotated" (NaN), or it was filled by interpolation; and the fill itself.

import { frameMissing, } from "./render.js";
import { frameSize, gridFor } from "./grid.js";

export function renderStrip(container, project, annotation, current, onSelect) {
  container.innerHTML = "";
  const n = project.annotation_shape[0];
  for (let t = 0; t < n; t++) {
    const grid = gridFor(project, t);
    const state = annotation.filled.has(t) ? "filled" : frameMissing(grid, annotation.data) ? "missing" : "drawn";
    const button = document.createElement("button");
    button.className = `frame ${state}${t === current ? " current" : ""}`;
    button.textContent = String(t);
    button.title = { filled: "filled by interpolation", missing: "not annotated", drawn: "annotated" }[state];
    button.dataset.frame = String(t);
    button.addEventListener("click", () => onSelect(t));
    container.appendChild(button);
  }
}

// Fill each unannotated (or previously filled) frame that lies between two frames a person drew,
// by linear interpolation of their values; frames a person drew are never changed.
// Returns false when there is nothing to fill.
export function fillGaps(project, annotation, recorder) {
  const n = project.annotation_shape[0];
  const size = frameSize(gridFor(project, 0));
  const drawn = [];
  for (let t = 0; t < n; t++) {
    if (!annotation.filled.has(t) && !frameMissing(gridFor(project, t), annotation.data)) drawn.push(t);
  }
  const filled = new Set();
  for (let k = 0; k + 1 < drawn.length; k++) {
    const [a, b] = [drawn[k], drawn[k + 1]];
    for (let t = a + 1; t < b; t++) {
      const w = (t - a) / (b - a);
      for (let i = 0; i < size; i++) {
        const va = annotation.data[a * size + i], vb = annotation.data[b * size + i];
        const value = (1 - w) * (Number.isNaN(va) ? 0 : va) + w * (Number.isNaN(vb) ? 0 : vb);
        recorder.set(annotation.data, t * size + i, value);
      }
      filled.add(t);
    }
  }
  if (!filled.size) return false;
  recorder.setFilled(annotation.filled, new Set([...annotation.filled, ...filled]));
  annotation.filled = new Set([...annotation.filled, ...filled]);
  return true;
}

// Mark a frame "not annotated": every cell NaN, and no longer counted as filled.
export function markMissing(project, annotation, frame, recorder) {
  const grid = gridFor(project, frame);
  const start = grid.offset, end = start + frameSize(grid);
  const everything = project.kind === "time_series" || project.kind === "tabular";
  for (let i = everything ? 0 : start; i < (everything ? annotation.data.length : end); i++) {
    recorder.set(annotation.data, i, NaN);
  }
  if (annotation.filled.has(frame)) {
    const after = new Set(annotation.filled);
    after.delete(frame);
    recorder.setFilled(annotation.filled, after);
    annotation.filled = after;
  }
}
