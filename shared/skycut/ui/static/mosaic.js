// Mosaic: one synchronous mosaic of a region (the service's mosaic/sync), previewed and saved.

import { call, download } from "./api.js";
import { bandParam } from "./filters.js";
import { parsePosition } from "./sky.js";

/** The mosaic/sync parameters of the form (RESPONSEFORMAT added by the caller). */
export function mosaicParams(form) {
  const { ra, dec } = parsePosition(form.position.value);
  const pixscale = Number(form.pixscale.value) / 3600;
  const size = (arcmin) => Math.max(1, Math.round((Number(arcmin) / 60) / pixscale));
  const params = new URLSearchParams({
    CRVAL: `${ra} ${dec}`,
    WIDTH: String(size(form.width.value)),
    HEIGHT: String(size(form.height.value)),
    PIXSCALE: String(pixscale),
    PROJECTION: form.projection.value,
    ROTATION: form.rotation.value || "0",
    METHOD: form.method.value,
    COMBINE: form.combine.value,
    BACKGROUND: form.background.value,
  });
  if (form.band.value) params.append("BAND", bandParam(form.band.value));
  for (const name of form.collection.value.split(/\s+/).filter(Boolean)) params.append("COLLECTION", name);
  return params;
}

let preview = null;

export function setupMosaic() {
  const form = document.getElementById("mosaic-form");
  const status = document.getElementById("mosaic-status");
  const save = document.getElementById("mosaic-fits");
  let last = null;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.classList.remove("error");
    save.hidden = true;
    try {
      last = mosaicParams(form);
      status.textContent = `Making a ${last.get("WIDTH")}×${last.get("HEIGHT")} mosaic…`;
      const png = new URLSearchParams(last);
      png.set("RESPONSEFORMAT", "image/png");
      const response = await call(`/mosaic/sync?${png}`);
      if (preview) URL.revokeObjectURL(preview);
      preview = URL.createObjectURL(await response.blob());
      const img = document.getElementById("mosaic-preview");
      img.src = preview;
      img.alt = `mosaic preview at ${form.position.value}`;
      status.textContent = `${last.get("WIDTH")}×${last.get("HEIGHT")} pixels, ${form.projection.value}`;
      save.hidden = false;
    } catch (e) {
      status.textContent = e.message;
      status.classList.add("error");
    }
  });
  save.addEventListener("click", () => {
    if (!last) return;
    const fits = new URLSearchParams(last);
    fits.set("DETAIL", "coverage,count");
    download(`/mosaic/sync?${fits}`, "mosaic.fits").catch((e) => {
      status.textContent = e.message;
      status.classList.add("error");
    });
  });
}
