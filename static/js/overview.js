// The overview's share chart. The same numbers are in #share-table for anyone not seeing the chart.
(function () {
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  const css = getComputedStyle(document.documentElement);
  const colour = (level) => css.getPropertyValue(`--tier-${level}`).trim() || "#64748b";
  new Chart(document.getElementById("share-chart"), {
    type: "bar",
    data: {
      labels: ["Customers", "Revenue", "Net margin"],
      datasets: data.levels.map((level, i) => ({
        label: `${level} · ${data.names[i]}`,
        data: [data.customers[i], data.revenue[i], data.margin[i]],
        backgroundColor: colour(level),
        borderColor: "#fff",
        borderWidth: 1,
      })),
    },
    options: {
      indexAxis: "y",
      maintainAspectRatio: false,
      animation: false,
      scales: {
        x: { stacked: true, max: 100, ticks: { callback: (v) => `${v} %` } },
        y: { stacked: true },
      },
      plugins: {
        legend: { position: "bottom", reverse: true },
        tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${c.parsed.x} %` } },
      },
    },
  });
})();
