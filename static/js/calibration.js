// The calibration histograms (templates/tiering/_calibration.html): one bar chart per condition,
// bars coloured by whether the condition holds over them, the threshold (or cut) and floor as
// vertical lines. Loads Chart.js when the page has not, and draws again after an htmx swap.
(function () {
  const BARS = { pass: "#2f855a", mixed: "#9ccfb0", fail: "#c3cad3" };
  const LINES = { threshold: ["#b42318", []], cut: ["#b42318", []], floor: ["#52606d", [4, 3]] };

  // Vertical lines at fractional bar positions ("at" counts bars from the left edge).
  const markers = {
    id: "tbMarkers",
    afterDatasetsDraw(chart, args, options) {
      const x = chart.scales.x;
      const area = chart.chartArea;
      const band = (x.right - x.left) / chart.data.labels.length;
      const ctx = chart.ctx;
      ctx.save();
      ctx.font = "11px system-ui, sans-serif";
      (options.list || []).forEach((m, i) => {
        const px = Math.round(x.left + m.at * band) + 0.5;
        const [colour, dash] = LINES[m.kind] || LINES.threshold;
        ctx.strokeStyle = colour;
        ctx.fillStyle = colour;
        ctx.lineWidth = 2;
        ctx.setLineDash(dash);
        ctx.beginPath();
        ctx.moveTo(px, area.top);
        ctx.lineTo(px, area.bottom);
        ctx.stroke();
        const right = px > area.left + (area.right - area.left) * 0.6;
        ctx.textAlign = right ? "right" : "left";
        ctx.fillText(m.label, px + (right ? -4 : 4), area.top + 11 + i * 13);
      });
      ctx.restore();
    },
  };

  function draw(canvas) {
    if (canvas.dataset.drawn) return;
    canvas.dataset.drawn = "1";
    const data = JSON.parse(canvas.dataset.calibration);
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [{
          data: data.counts,
          backgroundColor: data.sides.map((s) => BARS[s]),
          barPercentage: 1,
          categoryPercentage: 0.92,
          minBarLength: 2,
        }],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: {
          x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 8, font: { size: 10 } } },
          y: { beginAtZero: true, ticks: { precision: 0, maxTicksLimit: 4, font: { size: 10 } } },
        },
        plugins: {
          legend: { display: false },
          tbMarkers: { list: data.markers },
          tooltip: {
            callbacks: {
              title: (items) => `${data.metric}: ${items[0].label}`,
              label: (item) => `${item.parsed.y.toLocaleString()} customers`,
            },
          },
        },
      },
      plugins: [markers],
    });
  }

  function drawAll() {
    document.querySelectorAll("canvas[data-calibration]").forEach(draw);
  }

  function ready() {
    if (window.Chart) return drawAll();
    const holder = document.querySelector("[data-chart-src]");
    if (!holder) return;
    let script = document.getElementById("tb-chart-js");
    if (!script) {
      script = document.createElement("script");
      script.id = "tb-chart-js";
      script.src = holder.dataset.chartSrc;
      document.head.appendChild(script);
    }
    script.addEventListener("load", drawAll);
  }

  if (!window.tbCalibration) {
    window.tbCalibration = { draw: ready };
    document.addEventListener("htmx:afterSettle", ready);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
