// The Rounds tab: the round history (what each used, its scores, how many strokes and ratings
// led to it), "train next round", and the progress of a running round.

import { getJSON, sendJSON } from "./api.js";
import { escapeText } from "./list.js";

const ACTIVE = new Set(["starting", "training", "explaining"]);

function percent(info) {
  if (info.status === "training" && info.max_epochs) {
    const within = info.n_batches ? (info.batch || 0) / info.n_batches : 0;
    return Math.min(100, (100 * ((info.epoch || 0) + (info.status === "training" ? within : 0))) / info.max_epochs);
  }
  if (info.status === "explaining" && info.total) return (100 * (info.done || 0)) / info.total;
  return info.status === "done" ? 100 : 0;
}

function score(value) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(3);
}

function progressText(info) {
  if (info.status === "training") return `training: epoch ${info.epoch || 0}/${info.max_epochs ?? "?"}`;
  if (info.status === "explaining") return `explaining ${info.done || 0}/${info.total || "?"}`;
  if (info.status === "failed") return `failed: ${escapeText(info.message || "")}`;
  return info.status;
}

export class RoundsPanel {
  constructor(container, { onChange, annotator }) {
    this.container = container;
    this.onChange = onChange;
    this.annotator = annotator;
    this.timer = null;
    this.lastDone = null;
    container.querySelector("#train-round").addEventListener("click", () => this.start("train"));
    container.querySelector("#review-model").addEventListener("click", () => this.start("model"));
  }

  async start(source) {
    const onlyMine = this.container.querySelector("#only-mine").checked;
    const body = {
      source,
      merge: this.container.querySelector("#merge").value,
      wrong_reason_only: this.container.querySelector("#wrong-only").checked,
      annotators: onlyMine ? [this.annotator()] : null,
    };
    const message = this.container.querySelector("#round-message");
    try {
      await sendJSON("POST", "/api/rounds", null, body);
      message.textContent = "";
    } catch (error) {
      message.textContent = error.message;
    }
    this.refresh();
  }

  async refresh() {
    clearTimeout(this.timer);
    const { rounds } = await getJSON("/api/rounds");
    const table = this.container.querySelector("#rounds-table tbody");
    table.innerHTML = rounds.slice().reverse().map((info) => {
      const s = info.scores || {};
      const used = info.source === "model" ? "model/ (review)" :
        `${info.n_supervised} of ${info.n_annotated} annotated${info.wrong_reason_only ? " (wrong reason only)" : ""}`;
      const action = ACTIVE.has(info.status) ? `<button data-cancel="${info.round}">Cancel</button>` :
        ["interrupted", "cancelled", "failed"].includes(info.status) ? `<button data-resume="${info.round}">Resume</button>` : "";
      return `<tr data-round="${info.round}" class="status-${info.status}"><td>${info.round}</td>` +
        `<td><div class="progress"><div style="width:${percent(info)}%"></div></div>` +
        `<span class="round-status">${progressText(info)}</span> ${action}</td>` +
        `<td>${used}</td><td>${info.strokes}</td><td>${info.ratings}</td>` +
        `<td>${score(s.accuracy)}</td><td>${score(s.valid_acc)}</td><td>${score(s.mean_iou)}</td></tr>`;
    }).join("");
    for (const button of table.querySelectorAll("[data-cancel]")) {
      button.addEventListener("click", () => sendJSON("POST", `/api/rounds/${button.dataset.cancel}/cancel`).then(() => this.refresh()));
    }
    for (const button of table.querySelectorAll("[data-resume]")) {
      button.addEventListener("click", () => sendJSON("POST", `/api/rounds/${button.dataset.resume}/resume`).then(() => this.refresh()));
    }
    const done = rounds.filter((info) => info.status === "done").map((info) => info.round);
    const latest = done.length ? done[done.length - 1] : null;
    if (latest !== this.lastDone) {
      this.lastDone = latest;
      this.onChange(done);
    }
    if (rounds.some((info) => ACTIVE.has(info.status))) this.timer = setTimeout(() => this.refresh(), 1000);
    return rounds;
  }
}
