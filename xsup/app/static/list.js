// The sample list: a virtual list (only the visible rows exist), so 10,000 samples load at once.

const ROW_HEIGHT = 26;

function formatNumber(value) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(2);
}

export class SampleList {
  constructor(container, onOpen) {
    this.container = container;
    this.onOpen = onOpen;
    this.table = null;
    this.current = null;
    this.spacer = document.createElement("div");
    this.rows = document.createElement("div");
    this.rows.className = "rows";
    this.spacer.appendChild(this.rows);
    container.appendChild(this.spacer);
    container.addEventListener("scroll", () => this.render());
  }

  setTable(table) {
    this.table = table;
    this.position = new Map(table.ids.map((id, index) => [id, index]));
    this.spacer.style.height = `${table.ids.length * ROW_HEIGHT}px`;
    this.render();
  }

  // The sample `step` places after (or before) the current one in the list's order.
  neighbour(step) {
    if (!this.table || !this.table.ids.length) return null;
    const index = this.position.get(this.current);
    if (index === undefined) return this.table.ids[0];
    const next = index + step;
    return next >= 0 && next < this.table.ids.length ? this.table.ids[next] : null;
  }

  select(id) {
    this.current = id;
    const index = this.position ? this.position.get(id) : undefined;
    if (index !== undefined) {
      const top = index * ROW_HEIGHT;
      if (top < this.container.scrollTop || top > this.container.scrollTop + this.container.clientHeight - ROW_HEIGHT) {
        this.container.scrollTop = top - this.container.clientHeight / 2;
      }
    }
    this.render();
  }

  // Update one row after a save or a rating, without reloading the list.
  update(id, column, value) {
    const index = this.position && this.position.get(id);
    if (index === undefined || !this.table[column]) return;
    this.table[column][index] = value;
    this.render();
  }

  render() {
    if (!this.table) return;
    const first = Math.max(0, Math.floor(this.container.scrollTop / ROW_HEIGHT) - 5);
    const last = Math.min(this.table.ids.length, first + Math.ceil(this.container.clientHeight / ROW_HEIGHT) + 10);
    this.rows.style.transform = `translateY(${first * ROW_HEIGHT}px)`;
    const t = this.table;
    const html = [];
    for (let i = first; i < last; i++) {
      const id = t.ids[i];
      const label = t.label ? ` <span class="label">${escapeText(t.label[i])}</span>` : "";
      const review = t.iou ? ` <span class="iou" title="IoU of saliency and annotation">${formatNumber(t.iou[i])}</span>` +
        (t.correct && t.correct[i] === false ? ' <span class="wrong-prediction" title="misclassified">✗</span>' : "") +
        (t.rating && t.rating[i] ? ` <span class="rating ${t.rating[i]}">${t.rating[i]}</span>` : "") : "";
      html.push(`<div class="row${id === this.current ? " current" : ""}" data-id="${id}">` +
        `<span class="dot ${t.status[i]}" title="${t.status[i]}"></span>#${id}${label}${review}</div>`);
    }
    this.rows.innerHTML = html.join("");
    for (const row of this.rows.children) {
      row.addEventListener("click", () => this.onOpen(Number(row.dataset.id)));
    }
  }
}

export function escapeText(value) {
  return String(value).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
