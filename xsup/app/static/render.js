// Pixels of the three layers: the input (grey levels or RGB), the annotation (green: should
// matter, red: should not, alpha by strength) and the saliency map (a heat colour map).

import { cellIndex, inputIndex } from "./grid.js";

const ALPHA = 0.6 * 255;

function normalise(value, range) {
  const [low, high] = range;
  return high > low ? (value - low) / (high - low) : 0.5;
}

// Fill `image` (ImageData of the grid's size) with the input of one frame.
export function renderInput(image, project, grid, input, ranges, channel) {
  const px = image.data;
  if (project.kind === "images" || project.kind === "raster_sequences") { // (C, H, W): no index maths per pixel
    const size = grid.rows * grid.cols;
    const channels = channel === "rgb" ? [0, 1, 2] : [channel, channel, channel];
    for (let k = 0; k < 3; k++) {
      const ch = channels[k];
      const [low, high] = ranges[ch];
      const scale = high > low ? 255 / (high - low) : 0;
      const start = ch * size;
      for (let i = 0; i < size; i++) px[4 * i + k] = scale ? (input[start + i] - low) * scale : 128;
    }
    for (let i = 0; i < size; i++) px[4 * i + 3] = 255;
    return;
  }
  for (let r = 0; r < grid.rows; r++) {
    for (let c = 0; c < grid.cols; c++) {
      const [index, rangeIndex] = inputIndex(project, grid, r, c);
      const v = 255 * Math.min(1, Math.max(0, normalise(input[index], ranges[rangeIndex])));
      const o = 4 * (r * grid.cols + c);
      px[o] = v; px[o + 1] = v; px[o + 2] = v; px[o + 3] = 255;
    }
  }
}

function setAnnotationPixel(px, o, v) {
  if (Number.isNaN(v) || v === 0) {
    px[o] = 0; px[o + 1] = 0; px[o + 2] = 0; px[o + 3] = 0;
  } else if (v > 0) {
    px[o] = 0; px[o + 1] = 220; px[o + 2] = 90; px[o + 3] = ALPHA * Math.min(1, v);
  } else {
    px[o] = 255; px[o + 1] = 40; px[o + 2] = 90; px[o + 3] = ALPHA * Math.min(1, -v);
  }
}

// Redraw the annotation pixels of the rectangle [c0, c1) x [r0, r1) of the frame.
export function renderAnnotation(image, grid, data, r0 = 0, c0 = 0, r1 = grid.rows, c1 = grid.cols) {
  const px = image.data;
  for (let r = r0; r < r1; r++) {
    const row = grid.offset + r * grid.rowStride;
    for (let c = c0; c < c1; c++) {
      setAnnotationPixel(px, 4 * (r * grid.cols + c), data[row + c * grid.colStride]);
    }
  }
}

// Saliency in [0, 1] as a heat map (black-red-yellow-white), more opaque where higher.
export function renderSaliency(image, grid, saliency) {
  const px = image.data;
  const frame = { ...grid, offset: 0 }; // the map holds this frame only
  for (let r = 0; r < grid.rows; r++) {
    for (let c = 0; c < grid.cols; c++) {
      const s = Math.min(1, Math.max(0, saliency[cellIndex(frame, r, c)]));
      const o = 4 * (r * grid.cols + c);
      px[o] = 255 * Math.min(1, 3 * s);
      px[o + 1] = 255 * Math.min(1, Math.max(0, 3 * s - 1));
      px[o + 2] = 255 * Math.min(1, Math.max(0, 3 * s - 2));
      px[o + 3] = 255 * Math.min(1, 0.15 + s);
    }
  }
}

// Is every cell of the frame NaN (a frame nobody annotated)?
export function frameMissing(grid, data) {
  for (let r = 0; r < grid.rows; r++) {
    const row = grid.offset + r * grid.rowStride;
    for (let c = 0; c < grid.cols; c++) {
      if (data[row + c * grid.colStride] === data[row + c * grid.colStride]) return false; // not NaN
    }
  }
  return true;
}
