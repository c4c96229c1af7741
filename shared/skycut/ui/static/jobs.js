// My jobs: the caller's UWS jobs with their progress, abort, delete and results.

import { FINAL, button, call, download, fillTable, jobRefs, jobState, xml } from "./api.js";

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

export async function refresh() {
  const status = document.getElementById("jobs-status");
  status.classList.remove("error");
  status.textContent = "Loading…";
  const params = new URLSearchParams({ LAST: "50" });
  for (const box of document.querySelectorAll("#jobs-form input[name=phase]:checked")) {
    params.append("PHASE", box.value);
  }
  const { doc } = await xml(`/async?${params}`);
  const refs = jobRefs(doc);
  const states = await Promise.all(refs.map((r) => xml(r.href).then(({ doc: d }) => jobState(d))));
  status.textContent = `${refs.length} job${refs.length === 1 ? "" : "s"}`;
  fillTable(
    document.getElementById("jobs-table"),
    ["job", "name", "phase", "created (UTC)", "progress", ""],
    refs.map((ref, k) => {
      const state = states[k];
      const bar = document.createElement("progress");
      bar.max = Math.max(state.total, 1);
      bar.value = state.done + state.failed;
      bar.title = `${state.done} done, ${state.failed} failed, ${state.total} in all`;
      const progress = document.createElement("span");
      progress.append(bar, ` ${state.done}/${state.total}` + (state.failed ? ` (${state.failed} failed)` : ""));
      const actions = document.createElement("span");
      if (state.phase === "PENDING") {
        actions.append(button("Run", () => act(ref.href, { method: "POST", body: new URLSearchParams({ PHASE: "RUN" }) }, "/phase")));
      }
      if (!FINAL.has(state.phase)) {
        actions.append(button("Abort", () => act(ref.href, { method: "POST", body: new URLSearchParams({ PHASE: "ABORT" }) }, "/phase")));
      }
      actions.append(button("Delete", () => act(ref.href, { method: "DELETE" })));
      if (state.results.length) {
        const manifest = state.results.find((r) => r.id === "manifest-csv") ?? state.results[0];
        actions.append(button(`Get ${manifest.id}`, () => download(manifest.href, manifest.id).catch(report)));
      }
      return [ref.id, ref.runId, state.phase, ref.created.replace("T", " ").slice(0, 19), progress, actions];
    }),
  );
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
