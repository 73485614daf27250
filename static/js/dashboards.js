// Utilization dashboards: draw each <canvas data-chart="ID"> from the JSON block #ID (no inline script),
// and print the page from any [data-print] button. The same numbers are in the table under each chart.
(function () {
  "use strict";

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source || typeof Chart === "undefined") { return; }
    var spec = JSON.parse(source.textContent);
    var scales = { y: { beginAtZero: true } };
    if (spec.percent) { scales.y.max = 100; scales.y.ticks = { callback: function (v) { return v + "%"; } }; }
    new Chart(canvas, {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (d) { return { label: d.label, data: d.data, spanGaps: false }; })
      },
      options: { responsive: true, animation: false, scales: scales }
    });
  }

  document.querySelectorAll("canvas[data-chart]").forEach(draw);
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
