// Sky positions: parsing what people type, dates, WCS of FITS headers, and a tangent plane.

const D2R = Math.PI / 180;

/** Parse "53.1 -27.8", "53.1, -27.8", "03:32:24 -27:48:00" or "3h32m24s -27d48m00s" (RA hours if sexagesimal). */
export function parsePosition(text) {
  const parts = text.trim().replace(/,/g, " ").split(/\s+/).filter(Boolean);
  if (parts.length === 2 && parts.every((p) => /^[+-]?\d+(\.\d*)?([eE][+-]?\d+)?$/.test(p))) {
    return check(Number(parts[0]), Number(parts[1]));
  }
  const sexagesimal = text.trim().replace(/[hdms:°'"]/g, " ").replace(/,/g, " ").split(/\s+/).filter(Boolean);
  if (sexagesimal.length === 6) {
    const [h, m, s, d, dm, ds] = sexagesimal.map(Number);
    if ([h, m, s, d, dm, ds].some(Number.isNaN)) throw new Error(`not a position: ${text}`);
    const sign = sexagesimal[3].startsWith("-") ? -1 : 1;
    return check(15 * (h + m / 60 + s / 3600), sign * (Math.abs(d) + dm / 60 + ds / 3600));
  }
  throw new Error(`not a position: "${text}"; give RA and Dec in degrees (53.1 -27.8) or sexagesimal (03:32:24 -27:48:00)`);
}

function check(ra, dec) {
  if (!(ra >= 0 && ra < 360) || !(dec >= -90 && dec <= 90)) {
    throw new Error(`RA must be in [0, 360) and Dec in [-90, 90] degrees, got ${ra} ${dec}`);
  }
  return { ra, dec };
}

export function mjdToDate(mjd) {
  return new Date((Number(mjd) - 40587) * 86400000);
}

export function dateToMjd(date) {
  return date.getTime() / 86400000 + 40587;
}

export function isoDay(mjd) {
  return mjd === "" || mjd === undefined || Number.isNaN(Number(mjd)) ? "" : mjdToDate(mjd).toISOString().slice(0, 10);
}

/** Gnomonic projection of (ra, dec) about (ra0, dec0): [x east, y north] in radians, or null behind. */
export function tangent(ra, dec, ra0, dec0) {
  const [a, d, a0, d0] = [ra * D2R, dec * D2R, ra0 * D2R, dec0 * D2R];
  const cosc = Math.sin(d0) * Math.sin(d) + Math.cos(d0) * Math.cos(d) * Math.cos(a - a0);
  if (cosc <= 0) return null;
  const x = (Math.cos(d) * Math.sin(a - a0)) / cosc;
  const y = (Math.cos(d0) * Math.sin(d) - Math.sin(d0) * Math.cos(d) * Math.cos(a - a0)) / cosc;
  return [x, y];
}

/**
 * Pixel-to-sky of a FITS header with a TAN (optionally TAN-SIP) celestial WCS: a function
 * (x, y) 0-based pixel -> {ra, dec} in degrees, or null if the header has no such WCS.
 */
export function pixelToSky(header) {
  const ctype1 = String(header.get("CTYPE1") ?? "");
  if (!ctype1.startsWith("RA---TAN")) return null;
  const num = (k, dflt = 0) => Number(header.get(k) ?? dflt);
  const crpix = [num("CRPIX1"), num("CRPIX2")];
  const crval = [num("CRVAL1"), num("CRVAL2")];
  let cd;
  if (header.has("CD1_1")) cd = [[num("CD1_1"), num("CD1_2")], [num("CD2_1"), num("CD2_2")]];
  else {
    const c = [num("CDELT1", 1), num("CDELT2", 1)];
    cd = [[c[0] * num("PC1_1", 1), c[0] * num("PC1_2")], [c[1] * num("PC2_1"), c[1] * num("PC2_2", 1)]];
  }
  const sip = ctype1.endsWith("-SIP") ? [polynomial(header, "A"), polynomial(header, "B")] : null;
  const [a0, d0] = [crval[0] * D2R, crval[1] * D2R];
  return (x, y) => {
    let u = x + 1 - crpix[0];
    let v = y + 1 - crpix[1];
    if (sip) [u, v] = [u + sip[0](u, v), v + sip[1](u, v)];
    const xi = (cd[0][0] * u + cd[0][1] * v) * D2R;
    const eta = (cd[1][0] * u + cd[1][1] * v) * D2R;
    const rho = Math.hypot(xi, eta);
    const c = Math.atan(rho);
    const dec = rho === 0 ? d0 : Math.asin(Math.cos(c) * Math.sin(d0) + (eta * Math.sin(c) * Math.cos(d0)) / rho);
    const ra = a0 + Math.atan2(xi * Math.sin(c), rho * Math.cos(d0) * Math.cos(c) - eta * Math.sin(d0) * Math.sin(c));
    return { ra: ((ra / D2R) % 360 + 360) % 360, dec: dec / D2R };
  };
}

function polynomial(header, name) {
  const order = Number(header.get(`${name}_ORDER`) ?? 0);
  const terms = [];
  for (let p = 0; p <= order; p++) {
    for (let q = 0; p + q <= order; q++) {
      const c = header.get(`${name}_${p}_${q}`);
      if (c !== undefined) terms.push([p, q, Number(c)]);
    }
  }
  return (u, v) => terms.reduce((sum, [p, q, c]) => sum + c * u ** p * v ** q, 0);
}

export function formatRa(ra) {
  const h = ra / 15;
  const hh = Math.floor(h);
  const mm = Math.floor((h - hh) * 60);
  const ss = ((h - hh) * 60 - mm) * 60;
  return `${String(hh).padStart(2, "0")}:${String(mm).padStart(2, "0")}:${ss.toFixed(2).padStart(5, "0")}`;
}

export function formatDec(dec) {
  const sign = dec < 0 ? "-" : "+";
  const a = Math.abs(dec);
  const dd = Math.floor(a);
  const mm = Math.floor((a - dd) * 60);
  const ss = ((a - dd) * 60 - mm) * 60;
  return `${sign}${String(dd).padStart(2, "0")}:${String(mm).padStart(2, "0")}:${ss.toFixed(1).padStart(4, "0")}`;
}
