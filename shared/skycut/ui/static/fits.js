// A small FITS reader for cutouts: headers of every HDU and the pixels of image HDUs.

const BLOCK = 2880;

/** Read every HDU of a FITS file: [{header: Map, width, height, pixels: Float64Array|null}]. */
export function readFits(buffer) {
  const bytes = new Uint8Array(buffer);
  const hdus = [];
  let offset = 0;
  while (offset + BLOCK <= bytes.length) {
    const { header, end } = readHeader(bytes, offset);
    const bitpix = Number(header.get("BITPIX"));
    const naxis = Number(header.get("NAXIS") ?? 0);
    const dims = Array.from({ length: naxis }, (_, k) => Number(header.get(`NAXIS${k + 1}`)));
    const count = naxis ? dims.reduce((a, b) => a * b, 1) : 0;
    const size = (count * Math.abs(bitpix)) / 8;
    const compressed = header.get("XTENSION") === "BINTABLE";
    const pixels = naxis >= 2 && !compressed ? readPixels(buffer, end, bitpix, count, header) : null;
    hdus.push({ header, width: dims[0] ?? 0, height: dims[1] ?? 0, pixels });
    offset = end + Math.ceil(size / BLOCK) * BLOCK;
  }
  return hdus;
}

function readHeader(bytes, start) {
  const header = new Map();
  const decoder = new TextDecoder("ascii");
  for (let at = start; at + 80 <= bytes.length; at += 80) {
    const card = decoder.decode(bytes.subarray(at, at + 80));
    const key = card.slice(0, 8).trim();
    if (key === "END") {
      return { header, end: start + Math.ceil((at + 80 - start) / BLOCK) * BLOCK };
    }
    if (card.slice(8, 10) !== "= ") continue;
    header.set(key, value(card.slice(10)));
  }
  throw new Error("not a FITS file: no END card");
}

function value(text) {
  const t = text.trim();
  if (t.startsWith("'")) {
    const m = t.match(/^'((?:[^']|'')*)'/);
    return m ? m[1].replace(/''/g, "'").trimEnd() : t;
  }
  const raw = t.split("/")[0].trim();
  if (raw === "T") return true;
  if (raw === "F") return false;
  const n = Number(raw.replace(/D/g, "E"));
  return Number.isNaN(n) ? raw : n;
}

function readPixels(buffer, start, bitpix, count, header) {
  const view = new DataView(buffer, start);
  const scale = Number(header.get("BSCALE") ?? 1);
  const zero = Number(header.get("BZERO") ?? 0);
  const blank = header.get("BLANK");
  const out = new Float64Array(count);
  const width = Math.abs(bitpix) / 8;
  if (start + count * width > buffer.byteLength) throw new Error("the FITS file is cut short");
  for (let k = 0; k < count; k++) {
    const at = k * width;
    let v;
    switch (bitpix) {
      case 8: v = view.getUint8(at); break;
      case 16: v = view.getInt16(at); break;
      case 32: v = view.getInt32(at); break;
      case -32: v = view.getFloat32(at); break;
      case -64: v = view.getFloat64(at); break;
      default: throw new Error(`BITPIX ${bitpix} is not supported`);
    }
    out[k] = bitpix > 0 && blank !== undefined && v === blank ? NaN : v * scale + zero;
  }
  return out;
}

/** The image a cutout holds: the HDU named IMAGE, else the first with 2-D pixels. */
export function cutoutImage(hdus) {
  return hdus.find((h) => h.pixels && h.header.get("EXTNAME") === "IMAGE") ?? hdus.find((h) => h.pixels);
}
