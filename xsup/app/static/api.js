// The JSON API, as the page uses it. Requests carry the token cookie set on the first visit;
// the page never sends a file path, only sample ids, round numbers and annotator names.

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

async function check(response) {
  if (response.ok) return response;
  let body = null;
  try { body = await response.json(); } catch { /* not JSON */ }
  throw new ApiError(response.status, (body && body.error) || response.statusText, body);
}

function query(params) {
  const entries = Object.entries(params || {}).filter(([, v]) => v !== undefined && v !== null);
  return entries.length ? "?" + new URLSearchParams(entries).toString() : "";
}

export async function getJSON(path, params) {
  const response = await check(await fetch(path + query(params), { credentials: "same-origin" }));
  return response.json();
}

export async function sendJSON(method, path, params, body, headers = {}) {
  const response = await check(await fetch(path + query(params), {
    method, credentials: "same-origin",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body ?? {}),
  }));
  return response.json();
}

// A float32 array and its shape, from the binary routes (input, saliency).
export async function getArray(path, params) {
  const response = await check(await fetch(path + query(params), { credentials: "same-origin" }));
  const shape = response.headers.get("x-array-shape").split(",").map(Number);
  return { shape, data: new Float32Array(await response.arrayBuffer()) };
}

// The annotation as {shape, data: Float32Array with NaN, version, filled: Set of frames}.
export async function getAnnotation(sample, annotator) {
  const body = await getJSON(`/api/samples/${sample}/annotation`, { annotator });
  const data = Float32Array.from(body.data, (v) => (v === null ? NaN : v));
  return { shape: body.shape, data, version: body.version, filled: new Set(body.filled) };
}

export async function putAnnotation(sample, annotator, annotation, strokes) {
  const values = Array.from(annotation.data, (v) => (Number.isNaN(v) ? null : v));
  return sendJSON("PUT", `/api/samples/${sample}/annotation`, { annotator }, {
    shape: annotation.shape, data: values, version: annotation.version, strokes,
    filled: [...annotation.filled].sort((a, b) => a - b),
  }, { "If-Match": String(annotation.version) });
}
