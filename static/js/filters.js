// Events list: the filter panel is a <details> folded on phones so results come first; on wide screens open it.
// Without JavaScript it stays folded and opens with one tap on its summary.
(function () {
  "use strict";
  if (!window.matchMedia || !window.matchMedia("(min-width: 48rem)").matches) {
    return;
  }
  document.querySelectorAll("details[data-open-wide]").forEach(function (panel) {
    panel.open = true;
  });
})();
