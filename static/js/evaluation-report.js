/*
 * The evaluation report page (templates/governance/report.html): draws the confusion matrix, the
 * per-group accuracy bars, the reliability diagram, the terms of F and the run's loss curve from the
 * report JSON embedded in the page; while the report is queued or running, polls it and reloads.
 */
(function () {
  "use strict";

  var POLL_MS = 3000;

  var live = document.getElementById("report-live");
  if (live) {
    var url = live.getAttribute("data-url");
    var poll = function () {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (report) {
          if (report && (report.status === "succeeded" || report.status === "failed")) {
            window.location.reload();
          } else {
            window.setTimeout(poll, POLL_MS);
          }
        })
        .catch(function () { window.setTimeout(poll, POLL_MS * 3); });
    };
    window.setTimeout(poll, POLL_MS);
  }

  var data = document.getElementById("report-data");
  if (!data || !window.AgoraCharts) return;
  var report = JSON.parse(data.textContent);
  var charts = window.AgoraCharts;

  function el(id) { return document.getElementById(id); }

  if (el("confusion-chart") && report.task) {
    charts.heatmap(el("confusion-chart"), {
      labels: report.labels, matrix: report.task.confusion_matrix, title: "Confusion matrix", normalize: true
    });
  }

  var fairness = report.fairness || {};
  if (el("groups-chart") && fairness.groups) {
    charts.intervalBars(el("groups-chart"), {
      title: "Accuracy per group (95% interval)",
      xLabel: "Accuracy",
      domain: [0, 1],
      reference: { value: report.task.accuracy, label: "all examples" },
      bars: fairness.groups.map(function (group) {
        return {
          label: group.group + " (" + group.examples + ")",
          value: group.accuracy,
          lower: group.interval ? group.interval[0] : null,
          upper: group.interval ? group.interval[1] : null,
          muted: !group.included,
          note: group.included ? "" : "under " + fairness.min_group_size + " examples: left out of δ"
        };
      })
    });
  }

  var calibration = report.calibration || {};
  if (el("reliability-chart") && calibration.bins) {
    charts.reliability(el("reliability-chart"), {
      bins: calibration.bins, title: "Reliability diagram", ece: calibration.ece
    });
  }

  var objective = report.objective || {};
  if (el("objective-terms") && objective.weights) {
    var terms = objective.terms || {};
    var weights = objective.weights;
    var rows = [["α·δ fairness", weights.alpha, terms.delta], ["β·ε calibration", weights.beta, terms.epsilon],
                ["γ·θ leakage", weights.gamma, terms.theta]];
    charts.intervalBars(el("objective-terms"), {
      title: "Contribution of each term to F",
      xLabel: "weighted term",
      format: "decimal",
      domain: [0, Math.max(0.05, Math.max.apply(null, rows.map(function (row) {
        return row[2] === null || row[2] === undefined ? 0 : row[1] * row[2];
      })) * 1.2)],
      bars: rows.map(function (row) {
        var missing = row[2] === null || row[2] === undefined;
        return {
          label: row[0], value: missing ? null : row[1] * row[2], lower: null, upper: null,
          muted: missing, note: missing ? "n/a" : ""
        };
      })
    });
  }

  var curve = report.training_curve;
  if (el("loss-chart") && curve && curve.series) {
    var series = [];
    if (curve.series.loss) series.push({ label: "training loss", points: curve.series.loss });
    if (curve.series.validation_loss) {
      series.push({ label: "validation loss", points: curve.series.validation_loss, markers: true, dashed: true });
    }
    charts.line(el("loss-chart"), series, { title: "Loss of the run", yLabel: "loss", xLabel: "step" });
  }
})();
