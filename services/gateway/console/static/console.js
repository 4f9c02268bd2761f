// Small progressive enhancements; every page works without this file.
"use strict";
document.addEventListener("click", (ev) => {
  const button = ev.target.closest("button.copy");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const done = () => { button.textContent = "Copied"; setTimeout(() => { button.textContent = "Copy"; }, 2000); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(source.textContent.trim()).then(done, () => selectText(source));
  } else { selectText(source); }
});
function selectText(node) {
  const range = document.createRange(); range.selectNodeContents(node);
  const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
}
// Pages with data-refresh="N" reload themselves every N seconds (the connection check).
document.addEventListener("DOMContentLoaded", () => {
  const every = Number(document.body.dataset.refresh || 0);
  if (every > 0) setTimeout(() => window.location.reload(), every * 1000);
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (ev) => { if (!window.confirm(form.dataset.confirm)) ev.preventDefault(); });
  });
});
