// API help: ready-to-paste examples for this deployment's URL.

import { serviceBase } from "./api.js";

function examples(base) {
  const id = "gs://skycut-sources/sample/deepcoadd-i-0001.fits";
  return [
    ["Find the images covering a position (SIA 2.0)", "sh",
      `curl -s "${base}/sia/query?POS=CIRCLE%2053.1%20-27.8%200.0001&BAND=6e-7%206e-7"`],
    ["One cutout (SODA sync)", "sh",
      `curl -L -o cutout.fits "${base}/sync?ID=${id}&CIRCLE=150.1%202.2%200.002"`],
    ["Every image covering a position (async, COLLECTION instead of ID)", "sh",
      `curl -i -X POST "${base}/async" -d COLLECTION=calexp -d "CIRCLE=53.1 -27.8 0.0014" -d PHASE=RUN`],
    ["A bulk file: rows without id are cut from every image covering them", "sh",
      `printf 'ra,dec,radius,label\\n53.1,-27.8,0.0014,star\\n' > stamps.csv\n`
      + `curl -i -X POST "${base}/async" -F BULK=@stamps.csv -F package=epochs\n`
      + `curl -s -X POST "${base}/bulk/check" -F BULK=@stamps.csv   # each row's outcome, nothing run`],
    ["A mosaic across image edges (sync: 303 to the FITS file)", "sh",
      `curl -L -o mosaic.fits "${base}/mosaic/sync?CRVAL=150.095%202.225&WIDTH=167&HEIGHT=167&PIXSCALE=0.0002&COLLECTION=calexp"`],
    ["A larger mosaic as a job (UWS, like async): create and run, then its results", "sh",
      `curl -i -X POST "${base}/mosaic" -d "POS=RANGE 150.07 150.12 2.2 2.25" \\\n`
      + `     -d PIXSCALE=0.0002 -d COLLECTION=calexp -d BACKGROUND=match -d PHASE=RUN\n`
      + `curl -s "${base}/mosaic/<job id>/results"   # mosaic (FITS) and preview (PNG)`],
    ["pyvo: SIA → DataLink → SODA", "python",
      `import pyvo\nfrom astropy import units as u\n\n`
      + `images = pyvo.dal.SIA2Service("${base}").search(pos=(53.1 * u.deg, -27.8 * u.deg, 0.0001 * u.deg))\n`
      + `soda = images[0].getdatalink().get_first_proc()\n`
      + `open("stamp.fits", "wb").write(soda.processed(circle=(53.1, -27.8, 0.0014)).read())`],
    ["pyvo: one SODA cutout", "python",
      `from pyvo.dal.adhoc import SodaQuery\n\n`
      + `query = SodaQuery("${base}/sync", circle=(150.1, 2.2, 0.002))\nquery["ID"] = "${id}"\n`
      + `open("cutout.fits", "wb").write(query.submit().content)`],
    ["The command line", "sh",
      `skycut --url ${base} find 53.1 -27.8 --band r\n`
      + `skycut --url ${base} submit stamps.csv --package epochs\n`
      + `skycut --url ${base} mosaic "POS=RANGE 150.07 150.12 2.2 2.25" PIXSCALE=0.0002 \\\n`
      + `       COLLECTION=calexp --out results/\n`
      + `skycut --url ${base} jobs --last 5   # cutout and mosaic jobs; status, results, abort take either`],
    ["Jobs (UWS 1.1: cutouts under async, mosaics under mosaic), capabilities, DataLink", "sh",
      `curl -s "${base}/async?LAST=5"\ncurl -s "${base}/mosaic?LAST=5"\ncurl -s "${base}/capabilities"\n`
      + `curl -s "${base}/links?ID=${id}"`],
  ];
}

export function setupHelp() {
  const body = document.getElementById("help-body");
  const base = serviceBase();
  const note = document.createElement("p");
  note.textContent = `Service base URL: ${base}. Behind the gateway add -H "Authorization: Bearer $TOKEN" to curl, or --token to skycut.`;
  body.replaceChildren(note);
  for (const [title, language, code] of examples(base)) {
    const heading = document.createElement("h3");
    heading.textContent = title;
    const pre = document.createElement("pre");
    const block = document.createElement("code");
    block.className = `language-${language}`;
    block.textContent = code;
    pre.append(block);
    body.append(heading, pre);
  }
}
