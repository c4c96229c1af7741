// My jobs: the caller's UWS jobs of both job lists (cutouts and mosaics), newest first,
// with their progress, run, abort, delete and results (a mosaic's preview shown). While a
// listed job is queued or executing, its progress is asked for again every few seconds.

import { FINAL, JOB_LISTS, blobUrl, button, call, download, fillTable, jobRefs, jobState, xml } from "./api.js";

const LAST = 50;
const FORMATS = { "application/fits": ["FITS", ".fits"], "image/png": ["PNG", ".png"], "image/jpeg": ["JPEG", ".jpg"] };

export function setupJobs() {
  const form = document.getElementById("jobs-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    refresh().catch(report);
  });
}

function report(e) {
  const status = document.getElementById("jobs-status");
  status.textContent = e.message;
  status.classList.add("error");
}

let thumbnails = []; // blob: URLs of the previews shown, let go at the next refresh
let shown = []; // the listed jobs: { ref, state, progress (its cell's content) }
let timer = null;
const POLL_MS = 3000;
const RUNNING = new Set(["QUEUED", "EXECUTING"]);

export async function refresh() {
  clearTimeout(timer);
  const status = document.getElementById("jobs-status");
  status.classList.remove("error");
  status.textContent = "Loading…";
  const params = new URLSearchParams({ LAST: String(LAST) });
  for (const box of document.querySelectorAll("#jobs-form input[name=phase]:checked")) {
    params.append("PHASE", box.value);
  }
  const lists = await Promise.all(
    JOB_LISTS.map(async ({ path, kind }) => jobRefs((await xml(`${path}?${params}`)).doc).map((ref) => ({ ...ref, kind }))),
  );
  // both lists write creationTime alike (UTC, ms, Z), so the text sorts as the time
  const refs = lists.flat().sort((a, b) => b.created.localeCompare(a.created)).slice(0, LAST);
  const states = await Promise.all(refs.map((r) => xml(r.href).then(({ doc: d }) => jobState(d))));
  status.textContent = `${refs.length} job${refs.length === 1 ? "" : "s"}`;
  for (const url of thumbnails) URL.revokeObjectURL(url);
  thumbnails = [];
  shown = refs.map((ref, k) => ({ ref, state: states[k], progress: progressCell(states[k]) }));
  fillTable(
    document.getElementById("jobs-table"),
    ["job", "kind", "name", "phase", "created (UTC)", "progress", "results", ""],
    shown.map(({ ref, state, progress }) => {
      const actions = document.createElement("span");
      if (state.phase === "PENDING") {
        actions.append(button("Run", () => act(ref.href, { method: "POST", body: new URLSearchParams({ PHASE: "RUN" }) }, "/phase")));
      }
      if (!FINAL.has(state.phase)) {
        actions.append(button("Abort", () => act(ref.href, { method: "POST", body: new URLSearchParams({ PHASE: "ABORT" }) }, "/phase")));
      }
      actions.append(button("Delete", () => act(ref.href, { method: "DELETE" })));
      return {
        cells: [ref.id, ref.kind, ref.runId, state.phase, ref.created.replace("T", " ").slice(0, 19), progress, results(ref, state), actions],
        className: ref.kind,
      };
    }),
  );
  schedule();
}

function progressCell(state) {
  const cell = document.createElement("span");
  const bar = document.createElement("progress");
  bar.setAttribute("aria-label", "steps done");
  cell.append(bar, "");
  showProgress(cell, state);
  return cell;
}

function showProgress(cell, state) {
  const [bar, text] = cell.childNodes;
  bar.max = Math.max(state.total, 1);
  bar.value = state.done + state.failed;
  bar.title = `${state.done} done, ${state.failed} failed, ${state.total} in all`;
  text.textContent = ` ${state.done}/${state.total}` + (state.failed ? ` (${state.failed} failed)` : "");
}

/** Ask again, in a while, for the listed jobs that are still running. */
function schedule() {
  clearTimeout(timer);
  const live = shown.filter(({ state }) => RUNNING.has(state.phase));
  if (live.length) timer = setTimeout(() => poll(live).catch(report), POLL_MS);
}

async function poll(live) {
  if (document.getElementById("page-jobs").hidden) return; // asked again when shown
  const states = await Promise.all(live.map(({ ref }) => xml(ref.href).then(({ doc }) => jobState(doc))));
  if (states.some((state, k) => state.phase !== live[k].state.phase)) {
    await refresh(); // a phase changed: the job's actions and results change with it
    return;
  }
  states.forEach((state, k) => {
    live[k].state = state;
    showProgress(live[k].progress, state); // in place: the rest of the table stays as it is
  });
  schedule();
}

/** A job's results cell: its error, a mosaic's preview and file, a cutout job's manifest. */
function results(ref, state) {
  const cell = document.createElement("span");
  if (state.error) {
    const error = document.createElement("span");
    error.className = "error";
    error.textContent = state.error;
    cell.append(error);
  }
  if (ref.kind === "mosaic") {
    const mosaic = state.results.find((r) => r.id === "mosaic");
    // a colour job's one result is its preview (a PNG), a grey job's FITS file has one beside it
    const preview = state.results.find((r) => r.id === "preview") ?? (mosaic?.type.startsWith("image/") ? mosaic : null);
    if (preview) {
      const img = document.createElement("img");
      img.className = "thumb";
      img.alt = `preview of mosaic job ${ref.id}`;
      blobUrl(preview.href)
        .then((url) => {
          thumbnails.push(url);
          img.src = url;
        })
        .catch((e) => {
          img.alt = `no preview: ${e.message}`;
        });
      cell.append(img);
    }
    if (mosaic) {
      const [format, suffix] = FORMATS[mosaic.type] ?? ["mosaic", ""];
      const name = `mosaic-${ref.id.slice(0, 8)}${suffix}`;
      cell.append(button(`Get ${format}`, () => download(mosaic.href, name).catch(report)));
    }
  } else if (state.results.length) {
    const manifest = state.results.find((r) => r.id === "manifest-csv") ?? state.results[0];
    cell.append(button(`Get ${manifest.id}`, () => download(manifest.href, manifest.id).catch(report)));
  }
  return cell;
}

async function act(href, options, suffix = "") {
  try {
    await call(href + suffix, options);
  } catch (e) {
    report(e);
    return;
  }
  await refresh().catch(report);
}
