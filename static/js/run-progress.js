/*
 * Live progress of a fine-tuning run (templates/training/run_detail.html).
 *
 * Reads the API URLs from #run-live, draws the loss and throughput charts once, and while the
 * run is queued or running polls the run and its metrics every 2 s. When the run finishes it
 * stops and reloads the page once, so the server-rendered result (or error) box appears.
 */
(function () {
  "use strict";

  var POLL_MS = 2000;
  var FINISHED = ["succeeded", "failed", "cancelled", "rejected"];
  var LIVE = ["queued", "running"];
  var LABELS = {
    queued: "Queued", running: "Running", succeeded: "Succeeded",
    failed: "Failed", cancelled: "Cancelled", rejected: "Rejected"
  };

  var live = document.getElementById("run-live");
  if (!live) return;
  var runUrl = live.getAttribute("data-run-url");
  var metricsUrl = live.getAttribute("data-metrics-url");
  var status = live.getAttribute("data-status") || "";
  var initialStatus = status;
  var reloading = false;
  var timer = null;

  function $(id) { return document.getElementById(id); }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    });
  }

  function isFinished(value) { return FINISHED.indexOf(value) !== -1; }

  // 80 → "1 min 20 s", 3725 → "1 h 2 min", 42 → "42 s".
  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "—";
    var total = Math.max(0, Math.round(seconds));
    var h = Math.floor(total / 3600);
    var m = Math.floor((total % 3600) / 60);
    var s = total % 60;
    if (h) return h + " h" + (m ? " " + m + " min" : "");
    if (m) return m + " min" + (s ? " " + s + " s" : "");
    return s + " s";
  }

  function formatNumber(value) {
    return Number(value || 0).toLocaleString("en-US");
  }

  function formatLoss(value) {
    if (value === null || value === undefined || !isFinite(value)) return "—";
    return Number(value).toFixed(4);
  }

  function lastValue(points) {
    return points && points.length ? points[points.length - 1][1] : null;
  }

  function setText(id, text) {
    var node = $(id);
    if (node && node.textContent !== text) node.textContent = text;
  }

  function renderRun(run) {
    status = run.status;
    var fraction = Math.max(0, Math.min(1, Number(run.progress) || 0));
    var percent = Math.round(fraction * 100);

    var bar = $("run-progress");
    if (bar) {
      var fill = bar.querySelector(".progress__fill");
      if (fill) fill.style.width = (fraction * 100).toFixed(1) + "%";
      else if (bar.tagName === "PROGRESS") bar.value = fraction;
      bar.setAttribute("aria-valuenow", String(percent));
      bar.setAttribute("aria-valuetext", percent + "%");
      bar.className = bar.className
        .replace(/\bprogress--(queued|running|succeeded|failed|cancelled|rejected|active)\b/g, "")
        .replace(/\s+/g, " ").trim() + " progress--" + status + (status === "running" ? " progress--active" : "");
    }

    var label;
    if (run.total_steps) {
      label = "step " + formatNumber(run.step) + " of " + formatNumber(run.total_steps) + " · " + percent + "%";
    } else if (status === "queued") {
      label = run.queue ? "waiting for a " + run.queue + " worker" : "waiting for a worker";
    } else if (status === "running") {
      label = "preparing…";
    } else {
      label = "—";
    }
    setText("run-progress-label", label);

    var eta;
    if (status === "running" && run.eta_seconds !== null && run.eta_seconds !== undefined) {
      eta = "about " + formatDuration(run.eta_seconds);
    } else if (status === "running") {
      eta = "estimating…";
    } else if (status === "queued") {
      eta = "not started";
    } else {
      eta = "—";
    }
    setText("run-eta", eta);

    var badge = $("run-status");
    if (badge) {
      badge.textContent = LABELS[status] || status;
      badge.className = "badge badge--" + status;
    }
    var attempts = $("run-attempts");
    if (attempts && attempts.firstChild) attempts.firstChild.nodeValue = run.attempts + " ";
    var indicator = $("run-live-indicator");
    if (indicator) indicator.hidden = isFinished(status);
  }

  function renderMetrics(data) {
    var series = (data && data.series) || {};
    var emptyText = isFinished(status) ? "No training steps were recorded." : "Waiting for the first steps…";
    if (window.AgoraCharts) {
      window.AgoraCharts.line($("loss-chart"), [
        { label: "training loss", points: series.loss || [] },
        { label: "validation loss", points: series.validation_loss || [], color: "#f59e0b", dashed: true, markers: true }
      ], { title: "Loss", yLabel: "loss", emptyText: emptyText });
      window.AgoraCharts.line($("throughput-chart"), [
        { label: "examples / second", points: series.examples_per_second || [], color: "#059669" }
      ], { title: "Throughput", yLabel: "examples / s", zero: true, emptyText: emptyText });
      // One point per epoch: every validation_* series the worker recorded.
      var validation = Object.keys(series).filter(function (name) {
        return name.indexOf("validation_") === 0;
      }).map(function (name) {
        return { label: name.replace("validation_", "validation "), points: series[name], markers: true };
      });
      window.AgoraCharts.line($("validation-chart"), validation, {
        title: "Validation per epoch", yLabel: "value", zero: true,
        emptyText: isFinished(status) ? "No validation metrics were recorded." : "Waiting for the first epoch…"
      });
    }
    // While live: the latest training loss. Once finished the page shows the final validation
    // loss; when there is none (failed, cancelled), fall back to the last training loss.
    var lossNode = $("run-loss");
    var loss = lastValue(series.loss);
    if (lossNode && loss !== null && (LIVE.indexOf(status) !== -1 || lossNode.textContent.trim() === "—")) {
      setText("run-loss", formatLoss(loss));
    }
  }

  function finish() {
    if (timer) clearTimeout(timer);
    timer = null;
    // Reload once: only when this page was opened while the run was still live.
    if (!reloading && LIVE.indexOf(initialStatus) !== -1) {
      reloading = true;
      setTimeout(function () { window.location.reload(); }, 600);
    }
  }

  function tick() {
    timer = null;
    if (document.hidden) { schedule(); return; }
    var runRequest = getJSON(runUrl).then(renderRun, function () { /* retry on the next tick */ });
    var metricsRequest = getJSON(metricsUrl).then(renderMetrics, function () { /* retry on the next tick */ });
    Promise.all([runRequest, metricsRequest]).then(function () {
      if (isFinished(status)) finish();
      else schedule();
    });
  }

  function schedule() {
    if (!timer && !reloading) timer = setTimeout(tick, POLL_MS);
  }

  function start() {
    // Draw the charts once, for finished runs too.
    getJSON(metricsUrl).then(renderMetrics, function () {
      renderMetrics({ series: {} });
    });
    if (LIVE.indexOf(status) !== -1) {
      // Fill the ETA at once, then poll.
      getJSON(runUrl).then(function (run) {
        renderRun(run);
        if (isFinished(status)) finish(); else schedule();
      }, schedule);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
