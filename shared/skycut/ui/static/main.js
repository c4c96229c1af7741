// The page's pages (tabs), the token, and each page's setup.

import { setToken, token } from "./api.js";
import { loadFilters } from "./filters.js";
import { setupHelp } from "./help.js";
import { refresh, setupJobs } from "./jobs.js";
import { setupMosaic } from "./mosaic.js";
import { setupSearch } from "./search.js";
import { setupSubmit } from "./submit.js";
import { setupViewer } from "./viewer.js";

function show(page) {
  for (const b of document.querySelectorAll("nav button")) {
    if (b.dataset.page === page) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  }
  for (const section of document.querySelectorAll("main > section")) {
    section.hidden = section.id !== `page-${page}`;
  }
  if (page === "jobs") refresh().catch(() => {});
  if (window.location.hash !== `#${page}`) history.replaceState(null, "", `#${page}`);
}

const tokenInput = document.getElementById("token");
tokenInput.value = token();
tokenInput.addEventListener("change", () => setToken(tokenInput.value.trim()));

for (const b of document.querySelectorAll("nav button")) {
  b.addEventListener("click", () => show(b.dataset.page));
}
setupSearch();
setupViewer();
setupSubmit();
setupJobs();
setupMosaic();
setupHelp();
show(window.location.hash.slice(1) || "search");
// the forms work at once; the band menus gain the deployment's filters when they come
loadFilters().catch((e) => console.warn(`no filter table: ${e.message}`));
