// Display stretches of an image: the range from percentiles of its finite pixels, then a curve.

/** Low and high display limits: the (100 - p)/2 and (100 + p)/2 percentiles, or min and max. */
export function limits(pixels, percentile) {
  const finite = Array.from(pixels).filter(Number.isFinite).sort((a, b) => a - b);
  if (!finite.length) return [0, 1];
  const at = (q) => finite[Math.min(finite.length - 1, Math.max(0, Math.round((q / 100) * (finite.length - 1))))];
  const p = Number(percentile);
  const [lo, hi] = p >= 100 ? [finite[0], finite[finite.length - 1]] : [at((100 - p) / 2), at((100 + p) / 2)];
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}

const CURVES = {
  linear: (t) => t,
  asinh: (t) => Math.asinh(10 * t) / Math.asinh(10),
  log: (t) => Math.log10(1 + 1000 * t) / 3,
};

/** Draw the pixels (FITS order: row 0 at the bottom) onto a canvas, north up as stored. */
export function draw(canvas, image, { stretch, percentile }) {
  const { width, height, pixels } = image;
  canvas.width = width;
  canvas.height = height;
  const [lo, hi] = limits(pixels, percentile);
  const curve = CURVES[stretch] ?? CURVES.asinh;
  const context = canvas.getContext("2d");
  const out = context.createImageData(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = pixels[y * width + x];
      const t = Number.isFinite(v) ? Math.min(1, Math.max(0, (v - lo) / (hi - lo))) : 0;
      const grey = Math.round(255 * curve(t));
      const at = ((height - 1 - y) * width + x) * 4;
      out.data[at] = out.data[at + 1] = out.data[at + 2] = grey;
      out.data[at + 3] = 255;
    }
  }
  context.putImageData(out, 0, 0);
}
