// Trend charts (tier sizes, margin share, lapses and win-backs). The same numbers are in #trends-table.
(function () {
  const source = document.getElementById("trend-data");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const css = getComputedStyle(document.documentElement);
  const colour = (level) => css.getPropertyValue(`--tier-${level}`).trim() || "#64748b";
  const common = { maintainAspectRatio: false, animation: false, plugins: { legend: { position: "bottom" } } };
  const perTier = (series, extra) =>
    data.levels.map((level, i) => ({
      label: `${level} · ${data.names[i]}`,
      data: series[i],
      borderColor: colour(level),
      backgroundColor: colour(level),
      ...extra,
    }));
  new Chart(document.getElementById("trend-sizes"), {
    type: "line",
    data: { labels: data.months, datasets: perTier(data.sizes, { tension: 0.2, pointRadius: 2 }) },
    options: { ...common, scales: { y: { beginAtZero: true } } },
  });
  new Chart(document.getElementById("trend-margin"), {
    type: "bar",
    data: { labels: data.months, datasets: perTier(data.shares, {}) },
    options: {
      ...common,
      scales: { x: { stacked: true }, y: { stacked: true, max: 100, ticks: { callback: (v) => `${v} %` } } },
    },
  });
  new Chart(document.getElementById("trend-churn"), {
    type: "bar",
    data: {
      labels: data.months,
      datasets: [
        { label: "Lapses", data: data.lapses, backgroundColor: css.getPropertyValue("--danger").trim() || "#b42318" },
        { label: "Win-backs", data: data.win_backs, backgroundColor: css.getPropertyValue("--accent").trim() || "#1d4ed8" },
      ],
    },
    options: { ...common, scales: { y: { beginAtZero: true } } },
  });
})();
