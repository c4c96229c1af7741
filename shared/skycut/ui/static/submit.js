// Submit: pasted positions or a file, each row checked before it runs, then live progress.

import { call, download, fillTable, followJob } from "./api.js";
import { parsePosition } from "./sky.js";

/** The bulk file to send: the chosen file, or the pasted lines as CSV. */
export function bulkFile(form) {
  const chosen = form.file.files[0];
  if (chosen) return chosen;
  const text = form.positions.value.trim();
  if (!text) throw new Error("paste positions or choose a file");
  const lines = text.split(/\r?\n/).filter((l) => l.trim());
  if (/[a-z]/i.test(lines[0].split(",")[0]) && lines[0].includes(",")) {
    return new File([`${text}\n`], "pasted.csv", { type: "text/csv" }); // a CSV with its header
  }
  const radius = Number(form.radius.value) / 3600;
  const rows = ["ra,dec,radius,label"];
  for (const [k, line] of lines.entries()) {
    const words = line.trim().split(/\s+/);
    let position = null;
    let label = line.trim();
    // the position is the first two words (degrees, or hh:mm:ss dd:mm:ss) or six (h m s d m s)
    for (const take of [2, 6]) {
      try {
        position = parsePosition(words.slice(0, take).join(" "));
        label = words.slice(take).join(" ");
        break;
      } catch {
        position = null;
      }
    }
    const csvLabel = `"${(label || `position ${k + 1}`).replace(/"/g, '""')}"`;
    rows.push(position ? `${position.ra},${position.dec},${radius},${csvLabel}` : `,,,${csvLabel}`);
  }
  return new File([`${rows.join("\n")}\n`], "pasted.csv", { type: "text/csv" });
}

function formData(form, file) {
  const data = new FormData();
  data.append("BULK", file, file.name);
  for (const name of ["detail", "format", "package"]) {
    const value = form[name].value;
    if (value && !(name === "detail" && value === "image") && !(name === "package" && value === "none")) {
      data.append(name, value);
    }
  }
  return data;
}

export function setupSubmit() {
  const form = document.getElementById("submit-form");
  const status = document.getElementById("submit-status");
  const fail = (e) => {
    status.textContent = e.message;
    status.classList.add("error");
  };
  document.getElementById("check-button").addEventListener("click", () => check(form).catch(fail));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(form).catch(fail);
  });
}

async function check(form) {
  const status = document.getElementById("submit-status");
  status.classList.remove("error");
  status.textContent = "Checking every row…";
  const response = await call("/bulk/check", { method: "POST", body: formData(form, bulkFile(form)) });
  const report = await response.json();
  const bad = report.lines.filter((l) => l.status !== "ok").length;
  status.textContent = `${report.rows} rows: ${report.cutouts} cutouts would be made`
    + (bad ? `, ${bad} row${bad === 1 ? "" : "s"} would not run (see below)` : ", every row is good");
  fillTable(
    document.getElementById("check-table"),
    ["line", "label", "status", "cutouts", "reason"],
    report.lines.map((l) => ({
      cells: [String(l.line), l.label, l.status, String(l.cutouts), l.reason],
      className: l.status,
    })),
  );
  return report;
}

async function submit(form) {
  const status = document.getElementById("submit-status");
  status.classList.remove("error");
  status.textContent = "Submitting…";
  const response = await call("/async", { method: "POST", body: formData(form, bulkFile(form)) });
  // the service answers 303 to the new job; fetch followed it to the job document
  const jobUrl = response.url;
  status.textContent = "Submitted.";
  await follow(jobUrl);
}

/** Long-poll a job, showing its progress, until it ends; then list its results. */
export async function follow(jobUrl) {
  const panel = document.getElementById("job-panel");
  panel.hidden = false;
  const state = await followJob(jobUrl, (seen) => {
    document.getElementById("job-id").textContent = seen.id;
    show(seen);
  });
  const list = document.getElementById("job-results");
  list.replaceChildren();
  const order = (r) => (r.id.startsWith("manifest") ? 0 : r.id.startsWith("cutout") ? 2 : 1);
  for (const result of [...state.results].sort((a, b) => order(a) - order(b) || a.id.localeCompare(b.id))) {
    const item = document.createElement("li");
    const get = document.createElement("button");
    get.type = "button";
    get.textContent = `Download ${result.id}`;
    get.addEventListener("click", () => download(result.href, result.id));
    item.append(get);
    list.append(item);
  }
  if (state.error) {
    const status = document.getElementById("submit-status");
    status.textContent = state.error;
    status.classList.add("error");
  }
}

function show(state) {
  document.getElementById("job-phase").textContent = state.phase;
  const bar = document.getElementById("job-progress");
  bar.max = Math.max(state.total, 1);
  bar.value = state.done + state.failed;
  const percent = state.total ? Math.round((100 * (state.done + state.failed)) / state.total) : 0;
  document.getElementById("job-counts").textContent =
    `${state.done} done, ${state.failed} failed, ${state.total} in all (${percent} %)`;
}
