/*
 * The scores page (templates/governance/scores.html): draws each score's factor bars and its trends
 * from the JSON embedded in the page, with AgoraCharts (static/js/charts.js).
 *
 * #scores-data: {E: {bars: {...intervalBars data}, trend: {headline: [series], factors: [series]}}, C: ...}
 * Trend points are [days from today, value]; null values (n/a) are left out of a line.
 */
(function () {
  "use strict";

  var data = document.getElementById("scores-data");
  if (!data || !window.AgoraCharts) return;
  var scores = JSON.parse(data.textContent);
  var charts = window.AgoraCharts;

  function el(id) { return document.getElementById(id); }
  function twoDecimals(value) { return value.toFixed(2); }

  Object.keys(scores).forEach(function (symbol) {
    var score = scores[symbol];
    var bars = el("score-bars-" + symbol);
    if (bars) charts.intervalBars(bars, score.bars);

    var trend = score.trend || {};
    var headline = el("score-trend-" + symbol);
    if (headline) {
      charts.line(headline, trend.headline || [], {
        title: symbol + ": headline and product",
        xLabel: "days from today",
        yLabel: symbol,
        zero: true,
        height: 200,
        yFormat: twoDecimals,
        emptyText: "One snapshot so far: the line appears from the second day."
      });
    }
    var factors = el("score-trend-factors-" + symbol);
    if (factors) {
      charts.line(factors, trend.factors || [], {
        title: "Factors of " + symbol,
        xLabel: "days from today",
        yLabel: "factor",
        zero: true,
        height: 200,
        yFormat: twoDecimals,
        emptyText: "One snapshot so far: the lines appear from the second day."
      });
    }
  });
})();
