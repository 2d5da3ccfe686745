// Keyboard shortcuts; ignored while typing in a field.

export function bindKeys(actions) {
  window.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement && target.type !== "range" && target.type !== "checkbox") return;
    if (target instanceof HTMLSelectElement) return;
    const key = event.key.toLowerCase();
    const command = event.ctrlKey || event.metaKey;
    if (command && key === "z") { event.preventDefault(); event.shiftKey ? actions.redo() : actions.undo(); return; }
    if (command && key === "y") { event.preventDefault(); actions.redo(); return; }
    if (command || event.altKey) return;
    const bindings = {
      b: () => actions.tool("brush"), r: () => actions.tool("box"),
      1: () => actions.value(1), 2: () => actions.value(-1), e: () => actions.value(0),
      "[": () => actions.size(-1), "]": () => actions.size(1),
      arrowright: () => actions.step(1), k: () => actions.step(1),
      arrowleft: () => actions.step(-1), j: () => actions.step(-1),
      ".": () => actions.frame(1), ",": () => actions.frame(-1),
      x: () => actions.markMissing(), f: () => actions.fillGaps(),
      g: () => actions.rate("right"), w: () => actions.rate("wrong"), u: () => actions.rate("unsure"),
    };
    if (bindings[key]) { event.preventDefault(); bindings[key](); }
  });
}
