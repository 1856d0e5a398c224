// The download menu's file links (.ipynb, .md) save the file instead of opening it.
// sphinx-book-theme renders them as plain links that open in a new tab; a site that sends a
// notebook as JSON (GitHub Pages does) then shows raw JSON (sphinx-book-theme#918,
// jupyter-book#2237). A `download` attribute makes the browser save the file, whatever its type.
// Jupyter Book loads every .js file in _static/ on every page. Tested by tests/browser/test_download.py.
document.addEventListener("DOMContentLoaded", () => {
  const links = document.querySelectorAll(
    ".dropdown-download-buttons a.btn-download-source-button, " +
    ".dropdown-download-buttons a.btn-download-notebook-button");
  for (const link of links) {
    const name = decodeURIComponent(new URL(link.href, document.baseURI).pathname.split("/").pop());
    link.setAttribute("download", name);
    link.removeAttribute("target");
  }
});
