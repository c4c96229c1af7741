// Calls to the service's public endpoints, with the caller's token if one is given.

const TOKEN_KEY = "skycut-token";

/** The service's base URL: the page lives at <base>/ui/. */
export function serviceBase() {
  const path = window.location.pathname.replace(/\/ui\/.*$/, "").replace(/\/ui$/, "");
  return window.location.origin + path;
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** An error the service answered, with its own words. */
export class ServiceError extends Error {
  constructor(status, text) {
    super(text.trim() || `HTTP ${status}`);
    this.status = status;
  }
}

/** fetch() a path under the service (or an absolute URL of it), failing on HTTP errors. */
export async function call(pathOrUrl, options = {}) {
  const url = pathOrUrl.startsWith("http") ? pathOrUrl : serviceBase() + pathOrUrl;
  const headers = new Headers(options.headers || {});
  const sameService = url.startsWith(serviceBase());
  if (token() && sameService) headers.set("Authorization", `Bearer ${token()}`);
  const response = await fetch(url, { ...options, headers });
  if (!response.ok) {
    throw new ServiceError(response.status, await errorText(response));
  }
  return response;
}

/** The message of an error response: a DALI error VOTable's INFO, or the text itself. */
async function errorText(response) {
  const body = await response.text();
  if (body.includes("<VOTABLE")) {
    const doc = new DOMParser().parseFromString(body, "application/xml");
    const info = [...doc.getElementsByTagName("INFO")].find((i) => i.getAttribute("name") === "QUERY_STATUS");
    if (info) return info.textContent.trim() || info.getAttribute("value");
  }
  return body;
}

export async function xml(pathOrUrl, options) {
  const response = await call(pathOrUrl, options);
  return { doc: new DOMParser().parseFromString(await response.text(), "application/xml"), response };
}

/** The rows of a TABLEDATA VOTable as objects keyed by FIELD name. */
export function votableRows(doc) {
  const fields = [...doc.getElementsByTagName("FIELD")].map((f) => f.getAttribute("name"));
  return [...doc.getElementsByTagName("TR")].map((tr) => {
    const cells = [...tr.getElementsByTagName("TD")].map((td) => td.textContent);
    return Object.fromEntries(fields.map((name, k) => [name, cells[k] ?? ""]));
  });
}

const UWS = "http://www.ivoa.net/xml/UWS/v1.0";
const PROGRESS = "https://skycut.dev/xml/progress/v1";
const XLINK = "http://www.w3.org/1999/xlink";

/** What a UWS job document says: phase, progress, results, error. */
export function jobState(doc) {
  const text = (name) => doc.getElementsByTagNameNS(UWS, name)[0]?.textContent ?? "";
  const count = (name) => Number(doc.getElementsByTagNameNS(PROGRESS, name)[0]?.textContent ?? 0);
  const results = [...doc.getElementsByTagNameNS(UWS, "result")].map((r) => ({
    id: r.getAttribute("id"),
    href: r.getAttributeNS(XLINK, "href"),
    type: r.getAttribute("mime-type") ?? "",
  }));
  return {
    id: text("jobId"),
    phase: text("phase"),
    created: text("creationTime"),
    runId: text("runId"),
    total: count("total"),
    done: count("done"),
    failed: count("failed"),
    results,
    error: doc.getElementsByTagNameNS(UWS, "errorSummary")[0]?.textContent.trim() ?? "",
  };
}

export function jobRefs(doc) {
  return [...doc.getElementsByTagNameNS(UWS, "jobref")].map((ref) => ({
    id: ref.getAttribute("id"),
    href: ref.getAttributeNS(XLINK, "href"),
    phase: ref.getElementsByTagNameNS(UWS, "phase")[0]?.textContent ?? "",
    created: ref.getElementsByTagNameNS(UWS, "creationTime")[0]?.textContent ?? "",
    runId: ref.getElementsByTagNameNS(UWS, "runId")[0]?.textContent ?? "",
  }));
}

export const FINAL = new Set(["COMPLETED", "ERROR", "ABORTED", "ARCHIVED"]);

/** The service's job lists (their path under the base URL) and the kind of job each holds. */
export const JOB_LISTS = [
  { path: "/async", kind: "cutout" },
  { path: "/mosaic", kind: "mosaic" },
];

/**
 * Follow a job until it ends, calling onState with each state; return the last one.
 * WAIT returns at a phase change, so a queued job is long-polled; while it executes its
 * progress changes within the phase, so it is asked again every two seconds.
 */
export async function followJob(jobUrl, onState) {
  let state = jobState((await xml(jobUrl)).doc);
  while (true) {
    onState(state);
    if (FINAL.has(state.phase)) return state;
    const seconds = state.phase === "EXECUTING" ? "2" : "30";
    const wait = new URLSearchParams({ WAIT: seconds, PHASE: state.phase });
    state = jobState((await xml(`${jobUrl}?${wait}`)).doc);
  }
}

/** A blob: URL of what a service URL (or a result link) serves, e.g. to show it in an <img>. */
export async function blobUrl(url) {
  return URL.createObjectURL(await (await call(url)).blob());
}

/** Save what a URL of the service (or a link it gave) serves under a file name. */
export async function download(url, name) {
  const blob = await (await call(url)).blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
}

/** Replace an element's children with rows of cells (strings or nodes); the first row is the header. */
export function fillTable(table, header, rows) {
  table.replaceChildren();
  const head = table.createTHead().insertRow();
  for (const name of header) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = name;
    head.append(th);
  }
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const cell of row.cells ?? row) {
      const td = tr.insertCell();
      if (cell instanceof Node) td.append(cell);
      else td.textContent = cell ?? "";
    }
    if (row.className) tr.className = row.className;
  }
}

export function button(label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}
