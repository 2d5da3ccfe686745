// The review panel: the round whose saliency is shown, its opacity, the prediction, and the
// "right reason / wrong reason / unsure" rating (nothing pre-selected). With several finished
// rounds, "compare blind" shows their maps as A, B, C... in a shuffled order, each rated alone.

import { getArray, getJSON, sendJSON } from "./api.js";
import { escapeText } from "./list.js";
import { MapView } from "./mapview.js";

export const RATINGS = [["right", "Right reason"], ["wrong", "Wrong reason"], ["unsure", "Unsure"]];

export function ratingButtons(container, current, onRate, prefix) {
  container.innerHTML = "";
  for (const [value, text] of RATINGS) {
    const button = document.createElement("button");
    button.className = `rate ${value}`;
    button.textContent = text;
    button.id = `${prefix}-${value}`;
    button.setAttribute("aria-pressed", String(current === value));
    button.addEventListener("click", () => onRate(current === value ? null : value));
    container.appendChild(button);
  }
}

export async function rate(sample, annotator, round, rating) {
  return sendJSON("PUT", `/api/samples/${sample}/rating`, { annotator }, { round, rating });
}

export function describeReview(review, label) {
  if (!review) return "No finished round yet: train one in the Rounds tab.";
  const parts = [`round ${review.round}`];
  if (review.prediction !== undefined) parts.push(`predicted ${escapeText(review.prediction)}`);
  if (label !== null && label !== undefined) parts.push(`label ${escapeText(label)}`);
  if (review.correct === false) parts.push('<b class="wrong-prediction">misclassified</b>');
  if (review.iou !== null && review.iou !== undefined) parts.push(`IoU ${review.iou.toFixed(2)}`);
  if (review.uncertainty !== null && review.uncertainty !== undefined) {
    parts.push(`uncertainty ${review.uncertainty.toFixed(2)}`);
  }
  return parts.join(" · ");
}

// Blind comparison: maps over the input labelled A, B, ... with their own rating buttons.
export async function renderComparison(container, { project, grid, sample, annotator, frame, input, ranges, channel, opacity }) {
  container.innerHTML = "";
  const { maps } = await getJSON(`/api/samples/${sample}/compare`, { annotator });
  for (const map of maps) {
    const card = document.createElement("figure");
    card.className = "compare-card";
    card.innerHTML = `<figcaption class="compare-label">Map ${map.label}</figcaption>`;
    const params = { round: map.round };
    if (project.kind === "raster_sequences") params.frame = frame;
    const saliency = await getArray(`/api/samples/${sample}/saliency`, params);
    const view = new MapView(card);
    view.show(project, grid, input, ranges, channel, saliency.data, 200);
    view.setOpacity(opacity);
    const buttons = document.createElement("div");
    buttons.className = "ratings";
    const draw = (current) => ratingButtons(buttons, current, async (value) => {
      await rate(sample, annotator, map.round, value);
      draw(value);
    }, `compare-${map.label}`);
    draw(map.rating);
    card.appendChild(buttons);
    container.appendChild(card);
  }
  return maps.length;
}
