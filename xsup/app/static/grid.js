// How one frame of a sample maps onto a grid of cells on screen, for each input kind:
// images and raster frames are H x W pixels; a time series is a heat map with time across and
// features down; a tabular sample is one row of features.

export function frameCount(project) {
  return project.kind === "raster_sequences" ? project.annotation_shape[0] : 1;
}

// The cells of frame `frame`: rows, cols and the index of cell (r, c) in the annotation array.
export function gridFor(project, frame = 0) {
  const a = project.annotation_shape;
  switch (project.kind) {
    case "images":
      return { rows: a[0], cols: a[1], offset: 0, rowStride: a[1], colStride: 1 };
    case "raster_sequences":
      return { rows: a[1], cols: a[2], offset: frame * a[1] * a[2], rowStride: a[2], colStride: 1 };
    case "time_series": // (T, F): column = time step, row = feature
      return { rows: a[1], cols: a[0], offset: 0, rowStride: 1, colStride: a[1] };
    default: // tabular (F,)
      return { rows: 1, cols: a[0], offset: 0, rowStride: 0, colStride: 1 };
  }
}

export function cellIndex(grid, r, c) {
  return grid.offset + r * grid.rowStride + c * grid.colStride;
}

export function frameSize(grid) {
  return grid.rows * grid.cols;
}

// Words for a cell under the pointer.
export function describeCell(project, r, c) {
  const feature = (f) => (project.feature_names ? project.feature_names[f] : f);
  switch (project.kind) {
    case "time_series": return `t=${c} feature=${feature(r)}`;
    case "tabular": return `feature ${feature(c)}`;
    default: return `x=${c} y=${r}`;
  }
}

// Index of the input value shown at cell (r, c) of a heat map or a row of features, and of
// the range (per feature) that normalises it. Images are drawn channel by channel instead.
export function inputIndex(project, grid, r, c) {
  return project.kind === "time_series" ? [c * grid.rows + r, r] : [c, c];
}
