// Undo and redo per stroke, kept as diffs (the cells a stroke changed, before and after),
// so that a long session on a large frame costs memory in proportion to what was drawn.

export const HISTORY_LIMIT = 200;

// Records the cells one stroke changes; `finish` turns it into an undo entry.
export class StrokeRecorder {
  constructor(size) {
    this.touched = new Uint8Array(size);
    this.indices = [];
    this.before = [];
    this.filledBefore = null;
    this.filledAfter = null;
  }

  // Set cell `index` of `data` to `value`, remembering its first old value.
  set(data, index, value) {
    if (!this.touched[index]) {
      this.touched[index] = 1;
      this.indices.push(index);
      this.before.push(data[index]);
    }
    data[index] = value;
  }

  setFilled(before, after) {
    if (this.filledBefore === null) this.filledBefore = new Set(before);
    this.filledAfter = new Set(after);
  }

  get empty() {
    return this.indices.length === 0 && this.filledAfter === null;
  }

  finish(data) {
    const indices = Int32Array.from(this.indices);
    for (const index of indices) this.touched[index] = 0;
    return {
      indices,
      before: Float32Array.from(this.before),
      after: Float32Array.from(indices, (index) => data[index]),
      filledBefore: this.filledBefore,
      filledAfter: this.filledAfter,
    };
  }
}

export class History {
  constructor(limit = HISTORY_LIMIT) {
    this.limit = limit;
    this.done = [];
    this.undone = [];
  }

  push(entry) {
    this.done.push(entry);
    if (this.done.length > this.limit) this.done.shift();
    this.undone = [];
  }

  // Apply the last entry backwards to `annotation`; returns it (or null).
  undo(annotation) {
    const entry = this.done.pop();
    if (!entry) return null;
    apply(annotation, entry.indices, entry.before, entry.filledBefore);
    this.undone.push(entry);
    return entry;
  }

  redo(annotation) {
    const entry = this.undone.pop();
    if (!entry) return null;
    apply(annotation, entry.indices, entry.after, entry.filledAfter);
    this.done.push(entry);
    return entry;
  }

  clear() {
    this.done = [];
    this.undone = [];
  }
}

function apply(annotation, indices, values, filled) {
  for (let i = 0; i < indices.length; i++) annotation.data[indices[i]] = values[i];
  if (filled) annotation.filled = new Set(filled);
}
