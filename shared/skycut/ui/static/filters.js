// The deployment's filter table (<base>/ui/filters.json: the built-in names and
// SKYCUT_FILTERS), so a filter name asks for what the index calls that band.

import { call } from "./api.js";

/** Filter name → central wavelength (m), in wavelength order; filled by loadFilters(). */
export const FILTERS = {};

/** Read the filter table and offer its names in every band menu of the page (data-filters). */
export async function loadFilters() {
  const response = await call("/ui/filters.json");
  const { filters } = await response.json();
  for (const { name, em_min: lo, em_max: hi } of filters) FILTERS[name] = (lo + hi) / 2;
  for (const select of document.querySelectorAll("select[data-filters]")) {
    for (const name of Object.keys(FILTERS)) select.add(new Option(name, name));
    // a menu's preferred filter (the colour mosaic's i, r, g), if this deployment has it
    if (select.dataset.default in FILTERS) select.value = select.dataset.default;
  }
}

/** The BAND parameter of a filter name: its central wavelength, as `skycut find --band` asks. */
export function bandParam(name) {
  return `${FILTERS[name]} ${FILTERS[name]}`;
}

/** The filter whose central wavelength lies in [em_min, em_max], or the range in nm. */
export function bandName(emMin, emMax) {
  const [lo, hi] = [Number(emMin), Number(emMax)];
  if (!emMin || !emMax || Number.isNaN(lo)) return "";
  const name = Object.keys(FILTERS).find((f) => FILTERS[f] >= lo && FILTERS[f] <= hi);
  return name ?? `${Math.round(lo * 1e9)}–${Math.round(hi * 1e9)} nm`;
}
