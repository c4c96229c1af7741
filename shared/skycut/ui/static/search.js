// Search: the images covering a position (SIA 2.0), a sketch of their footprints, a filmstrip.

import { call, fillTable, votableRows, xml } from "./api.js";
import { bandName, bandParam } from "./filters.js";
import { dateToMjd, isoDay, parsePosition, tangent } from "./sky.js";
import { openViewer } from "./viewer.js";

/** The SIA 2.0 parameters of the search form. */
export function siaParams(form) {
  const { ra, dec } = parsePosition(form.position.value);
  const radius = Math.max(Number(form.radius.value || 0) / 3600, 1e-7);
  const params = new URLSearchParams({
    POS: `CIRCLE ${ra} ${dec} ${radius}`,
    RESPONSEFORMAT: "application/x-votable+xml;serialization=TABLEDATA",
  });
  if (form.band.value) params.append("BAND", bandParam(form.band.value));
  if (form.from.value || form.to.value) {
    const lo = form.from.value ? dateToMjd(new Date(`${form.from.value}T00:00:00Z`)) : "-Inf";
    const hi = form.to.value ? dateToMjd(new Date(`${form.to.value}T23:59:59Z`)) : "+Inf";
    params.append("TIME", `${lo} ${hi}`);
  }
  for (const name of form.collection.value.split(/\s+/).filter(Boolean)) params.append("COLLECTION", name);
  return { params, ra, dec };
}

export function setupSearch() {
  const form = document.getElementById("search-form");
  const status = document.getElementById("search-status");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.classList.remove("error");
    let query;
    try {
      query = siaParams(form);
    } catch (e) {
      status.textContent = e.message;
      status.classList.add("error");
      return;
    }
    status.textContent = "Searching…";
    try {
      const { doc } = await xml(`/sia/query?${query.params}`);
      const rows = votableRows(doc).sort((a, b) => Number(a.t_min || Infinity) - Number(b.t_min || Infinity));
      const overflow = [...doc.getElementsByTagName("INFO")].some((i) => i.getAttribute("value") === "OVERFLOW");
      status.textContent = `${rows.length} image${rows.length === 1 ? "" : "s"} cover ${form.position.value.trim()}`
        + (overflow ? " (more matched than the service returns; narrow the search)" : "");
      showTable(rows);
      sketch(rows, query.ra, query.dec);
      filmstrip(rows, query.ra, query.dec);
    } catch (e) {
      status.textContent = e.message;
      status.classList.add("error");
    }
  });
  document.getElementById("stamp-size").addEventListener("change", () => form.requestSubmit());
}

function showTable(rows) {
  fillTable(
    document.getElementById("images"),
    ["image", "collection", "band", "date (UTC)", "exposure (s)", "pixels"],
    rows.map((r) => [
      r.obs_publisher_did, r.obs_collection, bandName(r.em_min, r.em_max), isoDay(r.t_min),
      r.t_exptime, r.s_xel1 && `${r.s_xel1}×${r.s_xel2}`,
    ]),
  );
}

/** Parse an ObsCore s_region ("POLYGON ICRS ra dec ..." or "POLYGON ra dec ..."). */
function vertices(region) {
  const numbers = region.split(/\s+/).map(Number).filter((n) => !Number.isNaN(n));
  const out = [];
  for (let k = 0; k + 1 < numbers.length; k += 2) out.push([numbers[k], numbers[k + 1]]);
  return out;
}

function sketch(rows, ra, dec) {
  const svg = document.getElementById("sketch");
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  const shapes = rows.map((r) => vertices(r.s_region).map(([a, d]) => tangent(a, d, ra, dec)).filter(Boolean));
  const extent = Math.max(1e-9, ...shapes.flat().map(([x, y]) => Math.max(Math.abs(x), Math.abs(y))));
  for (const [k, shape] of shapes.entries()) {
    const polygon = document.createElementNS(ns, "polygon");
    // east to the left, north up, as on the sky
    polygon.setAttribute("points", shape.map(([x, y]) => `${-x / extent},${-y / extent}`).join(" "));
    const title = document.createElementNS(ns, "title");
    title.textContent = rows[k].obs_publisher_did;
    polygon.append(title);
    svg.append(polygon);
  }
  const target = document.createElementNS(ns, "circle");
  target.setAttribute("class", "target");
  target.setAttribute("r", "0.025");
  svg.append(target);
  const label = document.createElementNS(ns, "text");
  label.setAttribute("x", "-1.05");
  label.setAttribute("y", "1.05");
  label.textContent = `N up, E left; ${(2 * extent * 180 / Math.PI * 60).toFixed(1)}′ across`;
  svg.append(label);
}

const previews = [];

function filmstrip(rows, ra, dec) {
  const list = document.getElementById("filmstrip");
  for (const url of previews.splice(0)) URL.revokeObjectURL(url);
  list.replaceChildren();
  const radius = Number(document.getElementById("stamp-size").value || 10) / 2 / 3600;
  for (const row of rows) {
    const item = document.createElement("li");
    const open = document.createElement("button");
    open.type = "button";
    const img = document.createElement("img");
    const band = bandName(row.em_min, row.em_max);
    img.alt = `${band} ${isoDay(row.t_min)} stamp of ${row.obs_publisher_did}`;
    open.append(img);
    open.addEventListener("click", () => openViewer(row, ra, dec, radius));
    const caption = document.createElement("div");
    caption.textContent = `${band} ${isoDay(row.t_min)}`;
    item.append(open, caption);
    list.append(item);
    const params = new URLSearchParams({
      ID: row.obs_publisher_did, CIRCLE: `${ra} ${dec} ${radius}`, RESPONSEFORMAT: "image/png",
    });
    call(`/sync?${params}`).then(async (response) => {
      if (response.status === 204) {
        caption.textContent += " (no overlap)";
        return;
      }
      const url = URL.createObjectURL(await response.blob());
      previews.push(url);
      img.src = url;
      item.dataset.loaded = "true";
    }).catch((e) => {
      caption.textContent += ` — ${e.message}`;
      caption.classList.add("error");
    });
  }
}
