// One sample's annotation while it is edited: autosave after each stroke (one save in flight,
// later strokes folded into the next), the saved / unsaved / saving / failed / conflict state,
// retries with back-off, and a draft kept in this browser while a save has not gone through.

import { ApiError, getAnnotation, putAnnotation } from "./api.js";

const RETRY_MS = [1000, 2000, 5000, 10000, 30000];

function draftKey(project, annotator, sample) {
  return `xsup-draft:${project.name}:${project.n_samples}:${annotator}:${sample}`;
}

function encode(data) {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

function decode(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

export class Session {
  constructor(project, annotator, sample, onState) {
    this.project = project;
    this.annotator = annotator;
    this.sample = sample;
    this.onState = onState;
    this.state = "saved";
    this.changes = 0;      // strokes since the session began
    this.savedChanges = 0; // of which saved
    this.strokes = 0;      // strokes not yet reported to the server
    this.inFlight = null;
    this.retry = 0;
    this.timer = null;
  }

  async load() {
    this.annotation = await getAnnotation(this.sample, this.annotator);
    return this.annotation;
  }

  get dirty() {
    return this.changes !== this.savedChanges;
  }

  setState(state, detail) {
    this.state = state;
    this.onState(state, detail, this);
  }

  // A stroke changed the annotation: save it.
  changed(strokes = 1) {
    this.changes += 1;
    this.strokes += strokes;
    if (this.state === "conflict") return; // the reviewer answers the conflict first
    this.setState("unsaved");
    this.save();
  }

  save() {
    if (this.inFlight || this.state === "conflict" || !this.dirty) return this.inFlight;
    clearTimeout(this.timer);
    const target = this.changes;
    const strokes = this.strokes;
    this.setState("saving");
    this.inFlight = putAnnotation(this.sample, this.annotator, this.annotation, strokes)
      .then((answer) => {
        this.annotation.version = answer.version;
        this.savedChanges = target;
        this.strokes -= strokes;
        this.retry = 0;
        this.inFlight = null;
        if (this.dirty) return this.save();
        this.dropDraft();
        this.setState("saved");
        return null;
      })
      .catch((error) => {
        this.inFlight = null;
        if (error instanceof ApiError && error.status === 409) {
          this.keepDraft();
          this.setState("conflict", error.body && error.body.version);
        } else if (error instanceof ApiError && error.status === 400) {
          this.keepDraft();
          this.setState("failed", error.message);
        } else {
          this.keepDraft();
          this.setState("failed", error.message);
          const wait = RETRY_MS[Math.min(this.retry, RETRY_MS.length - 1)];
          this.retry += 1;
          this.timer = setTimeout(() => this.save(), wait);
        }
      });
    return this.inFlight;
  }

  // Conflict answers: keep mine (write over the newer version) or take theirs (reload).
  async overwrite(serverVersion) {
    this.annotation.version = serverVersion;
    this.state = "unsaved";
    return this.save();
  }

  async reload() {
    clearTimeout(this.timer);
    this.dropDraft();
    this.changes = this.savedChanges = this.strokes = 0;
    await this.load();
    this.setState("saved");
    return this.annotation;
  }

  download() {
    const values = Array.from(this.annotation.data, (v) => (Number.isNaN(v) ? null : v));
    const blob = new Blob([JSON.stringify({
      sample: this.sample, annotator: this.annotator, shape: this.annotation.shape,
      data: values, version: this.annotation.version, filled: [...this.annotation.filled],
    })], { type: "application/json" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `annotation-${this.sample}-${this.annotator}.json`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  // Drafts: the unsaved annotation in localStorage, with the version it started from.
  keepDraft() {
    try {
      localStorage.setItem(draftKey(this.project, this.annotator, this.sample), JSON.stringify({
        base: this.annotation.version, time: Date.now(), data: encode(this.annotation.data),
        filled: [...this.annotation.filled],
      }));
    } catch { /* storage full: the page still shows the save as failed */ }
  }

  dropDraft() {
    localStorage.removeItem(draftKey(this.project, this.annotator, this.sample));
  }

  draft() {
    const text = localStorage.getItem(draftKey(this.project, this.annotator, this.sample));
    if (!text) return null;
    const draft = JSON.parse(text);
    return { ...draft, data: decode(draft.data) };
  }

  restoreDraft(draft) {
    this.annotation.data.set(draft.data);
    this.annotation.filled = new Set(draft.filled);
    this.annotation.version = draft.base;
    this.changed(0);
  }
}
