// Mosaic: a mosaic of a region, made at once (the service's mosaic/sync) when it is within
// the deployment's limits for that, else as a job (<base>/mosaic) followed to its end;
// previewed and saved either way: grey as a FITS file, colour (three bands) as a PNG.

import { FINAL, blobUrl, call, download, followJob } from "./api.js";
import { FILTERS, bandParam } from "./filters.js";
import { parsePosition } from "./sky.js";

/** The deployment's mosaic limits (<base>/ui/limits.json), once they have come. */
let limits = null;

/** The size in pixels the form asks for: what the service makes of WIDTH and HEIGHT. */
export function mosaicSize(form) {
  const pixscale = Number(form.pixscale.value) / 3600;
  const side = (arcmin) => Math.max(1, Math.round((Number(arcmin) / 60) / pixscale));
  return { width: side(form.width.value), height: side(form.height.value), pixscale };
}

/** The mosaic parameters of the form (RESPONSEFORMAT and the job's own added by the caller). */
export function mosaicParams(form) {
  const { ra, dec } = parsePosition(form.position.value);
  const { width, height, pixscale } = mosaicSize(form);
  const params = new URLSearchParams({
    CRVAL: `${ra} ${dec}`,
    WIDTH: String(width),
    HEIGHT: String(height),
    PIXSCALE: String(pixscale),
    PROJECTION: form.projection.value,
    ROTATION: form.rotation.value || "0",
    METHOD: form.method.value,
    COMBINE: form.combine.value,
    BACKGROUND: form.background.value,
  });
  if (form.color.value === "rgb") {
    const bands = [form.red.value, form.green.value, form.blue.value];
    if (bands.some((b) => !b) || new Set(bands).size !== 3) {
      throw new Error("a colour mosaic needs three different bands");
    }
    params.set("COLOR", "rgb");
    for (const band of bands) params.append("BAND", bandParam(band));
  } else if (form.band.value) {
    params.append("BAND", bandParam(form.band.value));
  }
  for (const name of form.collection.value.split(/\s+/).filter(Boolean)) params.append("COLLECTION", name);
  return params;
}

const count = (n) => n.toLocaleString("en");

/**
 * How the form's mosaic will be made: "sync", "job", or null when no way can make it
 * (with the reason); without the limits, "sync" and the service says what it refuses.
 */
function plan(form) {
  const { width, height, pixscale } = mosaicSize(form);
  const pixels = width * height;
  const area = pixels * pixscale * pixscale; // square degrees, as the service counts them
  const size = `${width}×${height} = ${count(pixels)} pixels`;
  if (!limits || !Number.isFinite(pixels)) return { how: "sync", note: "" };
  if (pixels > limits.mosaic_max_pixels) {
    return { how: null, note: `${size}: over the limit of ${count(limits.mosaic_max_pixels)} pixels for a mosaic; use a coarser pixel or a smaller size` };
  }
  if (area > limits.mosaic_max_area) {
    return { how: null, note: `${size} over ${area.toPrecision(3)} square degrees: over the limit of ${limits.mosaic_max_area} for a mosaic; use a smaller size` };
  }
  if (pixels <= limits.mosaic_sync_max_pixels && area <= limits.mosaic_sync_max_area) {
    return { how: "sync", note: `${size}: made at once, or run as a job` };
  }
  const over = pixels > limits.mosaic_sync_max_pixels
    ? `more than the ${count(limits.mosaic_sync_max_pixels)} pixels`
    : `more than the ${limits.mosaic_sync_max_area} square degrees`;
  return { how: "job", note: `${size}: ${over} made at once, so it runs as a job` };
}

let preview = null;

/** Show a preview (a blob: URL), or none (null) while the next mosaic is being made. */
function showPreview(url, alt = "") {
  if (preview) URL.revokeObjectURL(preview);
  preview = url;
  const img = document.getElementById("mosaic-preview");
  if (url) img.src = url;
  else img.removeAttribute("src");
  img.alt = alt;
}

export function setupMosaic() {
  const form = document.getElementById("mosaic-form");
  const status = document.getElementById("mosaic-status");
  const sizeNote = document.getElementById("mosaic-size");
  const save = document.getElementById("mosaic-fits");
  let file = null; // what the download button saves: the last mosaic's { url, name }
  let attempt = 0; // a newer submission takes over the status from an older one

  const fail = (e) => {
    status.textContent = e.message;
    status.classList.add("error");
  };
  const update = () => {
    for (const part of form.querySelectorAll("[data-color]")) part.hidden = part.dataset.color !== form.color.value;
    const { how, note } = plan(form);
    sizeNote.textContent = note;
    sizeNote.classList.toggle("error", how === null);
  };
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
  call("/ui/limits.json")
    .then((r) => r.json())
    .then((value) => {
      limits = value;
      update();
    })
    .catch((e) => console.warn(`no mosaic limits: ${e.message}`));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const mine = ++attempt;
    status.classList.remove("error");
    save.hidden = true;
    file = null;
    showPreview(null);
    document.getElementById("mosaic-job-panel").hidden = true;
    try {
      const params = mosaicParams(form);
      const asJob = event.submitter?.id === "mosaic-run-job" || plan(form).how === "job";
      const made = asJob ? await runAsJob(params, form, () => mine === attempt) : await makeNow(params, form);
      if (mine !== attempt || !made) return;
      file = made;
      save.textContent = made.name.endsWith(".fits") ? "Download the FITS mosaic" : `Download ${made.name}`;
      save.hidden = false;
    } catch (e) {
      if (mine === attempt) fail(e);
    }
  });
  save.addEventListener("click", () => {
    if (!file) return;
    if (file.url.startsWith("blob:")) saveBlob(file.url, file.name);
    else download(file.url, file.name).catch(fail);
  });
}

/** Save what a blob: URL holds (a preview already here) under a file name. */
function saveBlob(url, name) {
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
}

/** mosaic/sync: the preview now; the FITS file (with coverage and count) when asked, or the colour PNG. */
async function makeNow(params, form) {
  const status = document.getElementById("mosaic-status");
  const colour = params.get("COLOR") === "rgb";
  const size = `${params.get("WIDTH")}×${params.get("HEIGHT")}`;
  status.textContent = `Making a ${size} ${colour ? "colour " : ""}mosaic…`;
  const png = new URLSearchParams(params);
  png.set("RESPONSEFORMAT", "image/png");
  const url = await blobUrl(`/mosaic/sync?${png}`);
  showPreview(url, `${colour ? "colour " : ""}mosaic preview at ${form.position.value}`);
  const bands = colour ? `, ${colours([form.red.value, form.green.value, form.blue.value])}` : "";
  status.textContent = `${size} pixels, ${form.projection.value}${bands}`;
  if (colour) return { url, name: "mosaic.png" }; // a colour mosaic is its preview
  const fits = new URLSearchParams(params);
  fits.set("DETAIL", "coverage,count");
  return { url: `/mosaic/sync?${fits}`, name: "mosaic.fits" };
}

/** Which band the service shows in which colour: the reddest red, whatever the menus' order. */
function colours(bands) {
  const [red, green, blue] = [...bands].sort((a, b) => FILTERS[b] - FILTERS[a]);
  return `${red} red, ${green} green, ${blue} blue`;
}

/** <base>/mosaic: create and run a job, show its progress until it ends, then its results. */
async function runAsJob(params, form, current) {
  const status = document.getElementById("mosaic-status");
  const panel = document.getElementById("mosaic-job-panel");
  const abort = document.getElementById("mosaic-job-abort");
  const body = new URLSearchParams(params);
  // grey: the FITS file with its coverage and count, and a preview; colour: the colour PNG
  if (params.get("COLOR") === "rgb") body.set("RESPONSEFORMAT", "image/png");
  else body.set("DETAIL", "coverage,count");
  body.set("RUNID", `mosaic at ${form.position.value.trim()}`.slice(0, 64));
  body.set("PHASE", "RUN");
  status.textContent = "Submitting the mosaic job…";
  // the service answers 303 to the new job; fetch followed it to the job document
  const jobUrl = (await call("/mosaic", { method: "POST", body })).url;
  status.textContent = `A ${params.get("WIDTH")}×${params.get("HEIGHT")} mosaic, running as a job.`;
  panel.hidden = false;
  abort.hidden = false;
  abort.onclick = () => {
    call(`${jobUrl}/phase`, { method: "POST", body: new URLSearchParams({ PHASE: "ABORT" }) }).catch((e) => {
      status.textContent = e.message;
      status.classList.add("error");
    });
  };
  const state = await followJob(jobUrl, (seen) => {
    if (current()) showJob(seen);
  });
  abort.hidden = true;
  if (!current()) return null;
  if (state.phase !== "COMPLETED") {
    const ended = state.phase === "ABORTED" ? "was aborted" : `ended in ${state.phase}`;
    status.textContent = `Mosaic job ${state.id} ${ended}` + (state.error ? `: ${state.error}` : ".");
    status.classList.add("error");
    return null;
  }
  const mosaic = state.results.find((r) => r.id === "mosaic");
  const image = state.results.find((r) => r.id === "preview") ?? (mosaic?.type.startsWith("image/") ? mosaic : null);
  const colour = params.get("COLOR") === "rgb";
  if (image) showPreview(await blobUrl(image.href), `${colour ? "colour " : ""}mosaic preview of job ${state.id} at ${form.position.value}`);
  const bands = colour ? `, ${colours([form.red.value, form.green.value, form.blue.value])}` : "";
  status.textContent = `${params.get("WIDTH")}×${params.get("HEIGHT")} pixels, ${form.projection.value}${bands}, made by job ${state.id}`;
  if (!mosaic) return null;
  return { url: mosaic.href, name: mosaic.type === "application/fits" ? "mosaic.fits" : `mosaic.${mosaic.type === "image/jpeg" ? "jpg" : "png"}` };
}

function showJob(state) {
  document.getElementById("mosaic-job-id").textContent = state.id;
  document.getElementById("mosaic-job-phase").textContent = state.phase;
  const bar = document.getElementById("mosaic-job-progress");
  bar.max = Math.max(state.total, 1);
  bar.value = state.done + state.failed;
  const percent = state.total ? Math.round((100 * state.done) / state.total) : 0;
  document.getElementById("mosaic-job-counts").textContent = FINAL.has(state.phase) && !state.total
    ? ""
    : `${state.done} of ${state.total} steps done (${percent} %)`;
}
