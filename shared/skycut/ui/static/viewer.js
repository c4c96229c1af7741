// A larger look at one stamp: the FITS pixels with a chosen stretch, position under the pointer.

import { call, download, votableRows, xml } from "./api.js";
import { cutoutImage, readFits } from "./fits.js";
import { formatDec, formatRa, isoDay, pixelToSky } from "./sky.js";
import { draw } from "./stretch.js";

let current = null;

export function setupViewer() {
  const dialog = document.getElementById("viewer");
  const redraw = () => current && draw(document.getElementById("viewer-canvas"), current.image, options());
  document.getElementById("viewer-stretch").addEventListener("change", redraw);
  document.getElementById("viewer-percentile").addEventListener("change", redraw);
  document.getElementById("viewer-close").addEventListener("click", () => dialog.close());
  document.getElementById("viewer-fits").addEventListener("click", () => {
    if (current) download(current.url, `${current.name}-cutout.fits`).catch(report);
  });
  document.getElementById("viewer-image").addEventListener("click", () => whole().catch(report));
  document.getElementById("viewer-canvas").addEventListener("mousemove", pointer);
}

function options() {
  return {
    stretch: document.getElementById("viewer-stretch").value,
    percentile: document.getElementById("viewer-percentile").value,
  };
}

function report(e) {
  const status = document.getElementById("viewer-status");
  status.textContent = e.message;
  status.classList.add("error");
}

export async function openViewer(row, ra, dec, radius) {
  const dialog = document.getElementById("viewer");
  const status = document.getElementById("viewer-status");
  status.textContent = "Loading the FITS cutout…";
  status.classList.remove("error");
  document.getElementById("viewer-title").textContent =
    `${row.obs_publisher_did} — ${isoDay(row.t_min)}`;
  document.getElementById("viewer-pointer").textContent = "";
  if (!dialog.open) dialog.showModal();
  const params = new URLSearchParams({ ID: row.obs_publisher_did, CIRCLE: `${ra} ${dec} ${radius}` });
  const url = `/sync?${params}`;
  try {
    const response = await call(url);
    if (response.status === 204) throw new Error("the stamp misses this image (no overlap)");
    const image = cutoutImage(readFits(await response.arrayBuffer()));
    if (!image) throw new Error("the cutout holds no image");
    current = { row, image, url, sky: pixelToSky(image.header), name: row.obs_publisher_did.split("/").pop().replace(/\.fits?$/, "") };
    draw(document.getElementById("viewer-canvas"), image, options());
    status.textContent = `${image.width}×${image.height} pixels; move the pointer over the image`;
  } catch (e) {
    report(e);
  }
}

function pointer(event) {
  if (!current) return;
  const canvas = event.currentTarget;
  const box = canvas.getBoundingClientRect();
  const { width, height, pixels, header } = current.image;
  const x = Math.floor(((event.clientX - box.left) / box.width) * width);
  const yDown = Math.floor(((event.clientY - box.top) / box.height) * height);
  const y = height - 1 - yDown; // FITS rows run upwards
  if (x < 0 || y < 0 || x >= width || y >= height) return;
  const value = pixels[y * width + x];
  const x0 = -Number(header.get("LTV1") ?? 0);
  const y0 = -Number(header.get("LTV2") ?? 0);
  let text = `pixel (${x + x0}, ${y + y0}) of the image, value ${Number.isFinite(value) ? value.toPrecision(6) : "NaN"}`;
  if (current.sky) {
    const { ra, dec } = current.sky(x, y);
    text += `; RA ${ra.toFixed(6)} Dec ${dec.toFixed(6)} (${formatRa(ra)} ${formatDec(dec)})`;
  }
  document.getElementById("viewer-pointer").textContent = text;
}

/** The whole image, through its DataLink document's #this link. */
async function whole() {
  if (!current) return;
  const { doc } = await xml(`/links?${new URLSearchParams({ ID: current.row.obs_publisher_did })}`);
  const self = votableRows(doc).find((r) => r.semantics === "#this" && r.access_url);
  if (!self) throw new Error("DataLink lists no link to the whole image");
  const link = document.createElement("a");
  link.href = self.access_url; // a signed storage URL: the browser downloads it itself
  link.rel = "noopener";
  link.download = `${current.name}.fits`;
  document.body.append(link);
  link.click();
  link.remove();
}
