// The page: wires the sample list, the editor, the session (autosave), review and rounds.

import { getArray, getJSON } from "./api.js";
import { Editor } from "./editor.js";
import { fillGaps, markMissing, renderStrip } from "./frames.js";
import { cellIndex, frameCount, gridFor } from "./grid.js";
import { History, StrokeRecorder } from "./history.js";
import { bindKeys } from "./keys.js";
import { SampleList, escapeText } from "./list.js";
import { MapView } from "./mapview.js";
import { describeReview, rate, ratingButtons, renderComparison } from "./review.js";
import { RoundsPanel } from "./rounds.js";
import { Session } from "./session.js";

const $ = (selector) => document.querySelector(selector);
const STATUS_TEXT = { saved: "saved", unsaved: "unsaved", saving: "saving…", failed: "save failed", conflict: "conflict" };

const app = {
  project: null, tab: "annotate", sample: null, frame: 0, channel: 0, info: null,
  session: null, history: new History(), rounds: [], round: null, inputs: new Map(),
};
window.xsupApp = app; // for tests and the benchmark (which time app.openSample and app.loadList)

const ANNOTATOR = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/; // as the server checks it

function annotator() {
  const name = $("#annotator").value.trim();
  return ANNOTATOR.test(name) ? name : "default";
}

// Failures the page did not expect (the server stopped, a bad request) shown in the banner.
function showError(message) {
  const banner = $("#banner");
  banner.hidden = false;
  banner.textContent = `Error: ${message}`;
}

function setSaveState(state, detail, session) {
  if (session !== app.session) return; // an earlier sample's save, still retrying in the background
  const label = $("#save-status");
  label.textContent = STATUS_TEXT[state] + (state === "failed" && detail ? `: ${detail}` : "");
  label.className = state;
  if (state === "conflict") {
    $("#conflict-version").textContent = detail ?? "?";
    if (!$("#conflict-dialog").open) $("#conflict-dialog").showModal();
  }
  if (state === "saved") {
    app.list.update(app.sample, "status", statusOf(app.session.annotation));
  }
}

function statusOf(annotation) {
  const frames = frameCount(app.project);
  let marked = 0;
  for (let t = 0; t < frames; t++) {
    const grid = gridFor(app.project, t);
    const size = grid.rows * grid.cols;
    const start = app.project.kind === "raster_sequences" ? t * size : 0;
    const end = app.project.kind === "raster_sequences" ? start + size : annotation.data.length;
    for (let i = start; i < end; i++) {
      const v = annotation.data[i];
      if (v === v && v !== 0) { marked += 1; break; }
    }
  }
  return marked === 0 ? "unannotated" : marked < frames ? "partial" : "annotated";
}

// ------------------------------------------------------------------ the list
async function loadList() {
  const params = { annotator: annotator(), sort: $("#sort").value, filter: $("#filter").value,
    round: app.round ?? "" };
  const table = await getJSON("/api/samples", params);
  app.list.setTable(table);
  $("#list-count").textContent = `${table.ids.length} of ${table.n_samples} samples`;
  app.list.select(app.sample);
  return table;
}

function enableReviewOptions() {
  for (const option of document.querySelectorAll("[data-needs-round]")) option.disabled = app.round === null;
  for (const select of [$("#sort"), $("#filter")]) {
    if (select.selectedOptions[0] && select.selectedOptions[0].disabled) select.value = select.options[0].value;
  }
}

// ------------------------------------------------------------------ a sample
async function frameInput(sample, frame) {
  const key = `${sample}:${frame}`;
  if (!app.inputs.has(key)) {
    const params = app.project.kind === "raster_sequences" ? { frame } : {};
    app.inputs.set(key, await getArray(`/api/samples/${sample}/input`, params));
    if (app.inputs.size > 64) app.inputs.delete(app.inputs.keys().next().value);
  }
  return app.inputs.get(key).data;
}

async function saliencyFor(sample, frame) {
  if (app.tab !== "review" || app.round === null || $("#compare").checked) return null;
  const params = { round: app.round };
  if (app.project.kind === "raster_sequences") params.frame = frame;
  return (await getArray(`/api/samples/${sample}/saliency`, params)).data;
}

async function leaveSample() {
  if (!app.session || !app.session.dirty) return true;
  await app.session.save();
  return !app.session.dirty || confirm("This sample has unsaved changes (a draft is kept in this browser). Leave it?");
}

async function openSample(id, frame = 0) {
  if (id === null || id === undefined) return;
  if (id !== app.sample && !(await leaveSample())) return;
  const session = new Session(app.project, annotator(), id, setSaveState);
  const [, info] = await Promise.all([ // the input is fetched meanwhile, for showFrame
    session.load(), getJSON(`/api/samples/${id}`, { annotator: annotator(), round: app.round ?? undefined }),
    frameInput(id, frame)]);
  app.session = session;
  app.sample = id;
  app.history.clear();
  app.info = info;
  app.list.select(id);
  location.hash = `#/${app.tab}/${id}`;
  setSaveState("saved", null, session);
  showDraftBanner();
  await showFrame(frame);
}

async function showFrame(frame) {
  const sample = app.sample;
  app.frame = Math.max(0, Math.min(frameCount(app.project) - 1, frame));
  const grid = gridFor(app.project, app.frame);
  const [input, saliency] = await Promise.all([frameInput(sample, app.frame), saliencyFor(sample, app.frame)]);
  if (sample !== app.sample) return;
  const size = saliency ? 360 : 640; // side by side in review
  app.editor.show(app.project, grid, app.session.annotation, input, app.info.range, app.channel, size);
  $("#saliency-view").hidden = !saliency;
  if (saliency) {
    app.mapView.show(app.project, grid, input, app.info.range, app.channel, saliency, size);
    app.mapView.setOpacity($("#opacity").value);
    $("#saliency-caption").textContent = `Saliency of round ${app.round} over the input`;
  }
  renderTitle();
  renderFrames();
  if (app.tab === "review") await renderReview();
}

function renderTitle() {
  const label = app.info.label === null ? "" : ` · label ${escapeText(app.info.label)}`;
  const frames = app.project.n_frames ? ` · frame ${app.frame + 1} of ${app.project.n_frames}` : "";
  $("#sample-title").innerHTML = `Sample #${app.sample}${label}${frames}`;
}

function renderFrames() {
  if (app.project.kind !== "raster_sequences") return;
  renderStrip($("#frame-strip"), app.project, app.session.annotation, app.frame, (t) => showFrame(t));
}

function showDraftBanner() {
  const banner = $("#banner");
  const draft = app.session.draft();
  banner.hidden = !draft;
  if (!draft) return;
  banner.innerHTML = `Unsaved changes of this sample from ${new Date(draft.time).toLocaleString()} are kept in this browser. ` +
    '<button id="draft-restore">Restore them</button> <button id="draft-discard">Discard</button>';
  $("#draft-restore").onclick = () => { app.session.restoreDraft(draft); app.editor.redraw(); renderFrames(); banner.hidden = true; };
  $("#draft-discard").onclick = () => { app.session.dropDraft(); banner.hidden = true; };
}

// ------------------------------------------------------------------ editing
function changed(entry, strokes) {
  if (entry) app.history.push(entry);
  app.editor.redraw();
  renderFrames();
  app.session.changed(strokes);
}

function frameOperation(operation) {
  const recorder = new StrokeRecorder(app.session.annotation.data.length);
  if (operation(recorder) === false || recorder.empty) return;
  changed(recorder.finish(app.session.annotation.data), 1);
}

const actions = {
  undo() { if (app.history.undo(app.session.annotation)) changed(null, 0); },
  redo() { if (app.history.redo(app.session.annotation)) changed(null, 0); },
  markMissing() { frameOperation((r) => markMissing(app.project, app.session.annotation, app.frame, r)); },
  fillGaps() {
    if (app.project.kind === "raster_sequences") frameOperation((r) => fillGaps(app.project, app.session.annotation, r));
  },
  step(delta) { openSample(app.list.neighbour(delta)); },
  frame(delta) { if (app.project.n_frames) showFrame(app.frame + delta); },
  tool(mode) { app.editor.tool.mode = mode; renderTools(); },
  value(value) { app.editor.tool.value = value; renderTools(); },
  size(delta) { setSize(app.editor.tool.size + delta); },
  rate(value) { if (app.tab === "review") rateCurrent(value); },
};

function setSize(size) {
  const max = Number($("#size").max);
  app.editor.tool.size = Math.max(1, Math.min(max, size));
  $("#size").value = String(app.editor.tool.size);
  $("#size-value").textContent = String(app.editor.tool.size);
}

function renderTools() {
  for (const button of document.querySelectorAll("[data-tool]")) {
    button.classList.toggle("active", button.dataset.tool === app.editor.tool.mode);
  }
  for (const button of document.querySelectorAll("[data-value]")) {
    button.classList.toggle("active", Number(button.dataset.value) === app.editor.tool.value);
  }
}

function beforeStroke(recorder) {
  const filled = app.session.annotation.filled;
  if (filled.has(app.frame)) { // a person draws on it: no longer an interpolated frame
    const after = new Set(filled);
    after.delete(app.frame);
    recorder.setFilled(filled, after);
    app.session.annotation.filled = after;
  }
}

// ------------------------------------------------------------------ review
async function rateCurrent(value) {
  if (app.round === null) return;
  await rate(app.sample, annotator(), app.round, value);
  app.info.review.rating = value;
  app.list.update(app.sample, "rating", value);
  await renderReview();
}

async function renderReview() {
  const review = app.info.review;
  $("#review-facts").innerHTML = describeReview(review, app.info.label);
  const compare = $("#compare").checked;
  $("#ratings").hidden = compare || !review;
  if (review && !compare) ratingButtons($("#ratings"), review.rating, rateCurrent, "rate");
  $("#comparison").hidden = !compare;
  if (compare) {
    await renderComparison($("#comparison"), { project: app.project, grid: gridFor(app.project, app.frame),
      sample: app.sample, annotator: annotator(), frame: app.frame, channel: app.channel,
      input: await frameInput(app.sample, app.frame), ranges: app.info.range, opacity: $("#opacity").value });
  }
}

function roundsChanged(done) {
  app.rounds = done;
  const select = $("#review-round");
  select.innerHTML = done.map((k) => `<option value="${k}">round ${k}</option>`).join("");
  app.round = done.length ? done[done.length - 1] : null;
  if (app.round !== null) select.value = String(app.round);
  enableReviewOptions();
  loadList().then(() => app.sample !== null && openSample(app.sample, app.frame));
}

// ------------------------------------------------------------------ tabs and start-up
async function setTab(tab) {
  app.tab = tab;
  for (const button of document.querySelectorAll(".tab")) button.classList.toggle("active", button.dataset.tab === tab);
  $("#workspace").hidden = tab === "rounds";
  $("#rounds-panel").hidden = tab !== "rounds";
  $("#review-panel").hidden = tab !== "review";
  if (tab === "rounds") { await app.roundsPanel.refresh(); return; }
  if (app.sample !== null) {
    location.hash = `#/${tab}/${app.sample}`;
    await showFrame(app.frame);
  }
}

function setUpControls() {
  for (const button of document.querySelectorAll(".tab")) button.onclick = () => setTab(button.dataset.tab);
  for (const button of document.querySelectorAll("[data-tool]")) button.onclick = () => actions.tool(button.dataset.tool);
  for (const button of document.querySelectorAll("[data-value]")) button.onclick = () => actions.value(Number(button.dataset.value));
  $("#size").oninput = () => setSize(Number($("#size").value));
  $("#undo").onclick = actions.undo;
  $("#redo").onclick = actions.redo;
  $("#mark-missing").onclick = actions.markMissing;
  $("#fill-gaps").onclick = actions.fillGaps;
  $("#sort").onchange = loadList;
  $("#filter").onchange = loadList;
  $("#opacity").oninput = () => app.mapView.setOpacity($("#opacity").value);
  $("#compare").onchange = () => showFrame(app.frame);
  $("#review-round").onchange = () => { app.round = Number($("#review-round").value); loadList(); openSample(app.sample, app.frame); };
  $("#channel").onchange = () => { app.channel = $("#channel").value === "rgb" ? "rgb" : Number($("#channel").value); showFrame(app.frame); };
  $("#annotator").onchange = async () => {
    const field = $("#annotator");
    field.setCustomValidity(ANNOTATOR.test(field.value.trim()) ? "" : "1 to 64 letters, digits, _ . - (not starting with . or -)");
    if (!field.reportValidity()) return;
    localStorage.setItem("xsup-annotator", annotator());
    await loadList();
    await openSample(app.sample, app.frame);
  };
  $("#conflict-reload").onclick = async () => { $("#conflict-dialog").close(); await app.session.reload(); app.history.clear(); showFrame(app.frame); };
  $("#conflict-overwrite").onclick = () => { $("#conflict-dialog").close(); app.session.overwrite(Number($("#conflict-version").textContent)); };
  $("#conflict-download").onclick = () => app.session.download();
  window.addEventListener("unhandledrejection", (event) => showError(event.reason?.message ?? String(event.reason)));
  window.addEventListener("beforeunload", (event) => {
    if (app.session && app.session.state !== "saved") { app.session.keepDraft(); event.preventDefault(); event.returnValue = ""; }
  });
}

function setUpChannels() {
  const shape = app.project.shape;
  const channels = app.project.kind === "images" ? shape[0] : app.project.kind === "raster_sequences" ? shape[1] : 0;
  $("#channel-group").hidden = channels < 2;
  const options = channels === 3 ? ['<option value="rgb">RGB</option>'] : [];
  for (let c = 0; c < channels; c++) options.push(`<option value="${c}">${c}</option>`);
  $("#channel").innerHTML = options.join("");
  app.channel = channels === 3 ? "rgb" : 0;
}

async function start() {
  app.project = await getJSON("/api/project");
  $("#project-name").textContent = app.project.name;
  $("#annotator").value = localStorage.getItem("xsup-annotator") || "default";
  $("#estimator").textContent = `Estimator: ${JSON.stringify(app.project.estimator)}`;
  $("#export").href = "/api/export.npy";
  const framed = app.project.kind === "images" || app.project.kind === "raster_sequences";
  app.editor = new Editor($("#stage"), { onStroke: (entry) => changed(entry, 1), beforeStroke,
    onHover: (text, index) => {
      const value = app.session.annotation.data[index];
      $("#hover").textContent = `${text} · annotation ${Number.isNaN(value) ? "not annotated" : value.toFixed(2)}`;
    } });
  app.editor.tool.mode = framed ? "brush" : "box";
  const longest = Math.max(...gridSize());
  $("#size").max = String(Math.max(2, Math.ceil(longest / 2)));
  setSize(Math.max(1, Math.round(longest / 16)));
  $("#fill-gaps").hidden = app.project.kind !== "raster_sequences";
  $("#review-model").hidden = !app.project.has_model;
  setUpChannels();
  renderTools();
  app.mapView = new MapView($("#saliency-view"));
  app.list = new SampleList($("#sample-list"), (id) => openSample(id));
  app.roundsPanel = new RoundsPanel($("#rounds-panel"), { onChange: roundsChanged, annotator });
  setUpControls();
  bindKeys(actions);
  Object.assign(app, { openSample, loadList });
  const [, tab, id] = location.hash.match(/^#\/(annotate|review|rounds)\/?(\d+)?/) || [];
  const rounds = await app.roundsPanel.refresh(); // sets app.round and loads the list
  if (!rounds.some((info) => info.status === "done")) await loadList();
  app.sample = null;
  await openSample(id !== undefined ? Number(id) : app.list.table.ids[0] ?? 0);
  await setTab(tab || "annotate");
  document.body.dataset.ready = "true";
}

function gridSize() {
  const grid = gridFor(app.project, 0);
  return [grid.rows, grid.cols];
}

start();
