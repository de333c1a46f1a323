// The curves of a training run (uPlot, vendored under static/vendor): loss, held-out metrics,
// learning rate and throughput, redrawn whenever the polled progress brings new steps.
(function () {
  "use strict";
  const SKIP = /(runtime|per_second|num_tokens|logits|logps|entropy|epoch)/;
  const COLOURS = ["#2364aa", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0e7490"];
  let drawnSteps = -1;

  function charts(series) {
    const names = Object.keys(series).filter((name) => name !== "step");
    const pick = (test) => names.filter(test);
    return [
      ["Loss", pick((name) => name === "loss" || name === "eval_loss")],
      ["Held-out metrics", pick((name) => name.startsWith("eval_") && name !== "eval_loss" && !SKIP.test(name))],
      ["Learning rate", pick((name) => name === "learning_rate")],
      ["Tokens per second", pick((name) => name === "tokens_per_second")],
    ].filter(([, columns]) => columns.length);
  }

  function draw() {
    const source = document.getElementById("run-series");
    const holder = document.getElementById("run-charts");
    if (!source || !holder || typeof uPlot === "undefined") return;
    const series = JSON.parse(source.textContent);
    const steps = series.step || [];
    if (!steps.length || steps.length === drawnSteps) return;
    drawnSteps = steps.length;
    holder.replaceChildren();
    const width = Math.max(260, Math.min(560, holder.clientWidth - 8));
    for (const [title, columns] of charts(series)) {
      const figure = document.createElement("figure");
      figure.className = "run-chart";
      figure.dataset.chart = title;
      holder.appendChild(figure);
      new uPlot(
        {
          title: title,
          width: width,
          height: 220,
          scales: { x: { time: false } },
          axes: [{ label: "step" }, { size: 70, values: (u, splits) => splits.map((v) => (v == null ? "" : String(Number(v.toPrecision(3))))) }],
          series: [{ label: "step" }].concat(
            columns.map((name, index) => ({ label: name, stroke: COLOURS[index % COLOURS.length], width: 2, spanGaps: true }))
          ),
        },
        [steps].concat(columns.map((name) => series[name])),
        figure
      );
    }
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
