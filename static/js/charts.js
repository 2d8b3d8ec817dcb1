/*
 * AgoraCharts: tiny, dependency-free SVG charts: a line chart and three evaluation charts.
 *
 *   AgoraCharts.line(container, series, options)
 *
 * series:  [{label: "training loss", points: [[step, value], ...], color: "#4f46e5",
 *            dashed: false, markers: false}, ...]
 *          (a plain {name: points} object is accepted too)
 * options: {title, yLabel, xLabel ("step"), height (240), zero (false: start the y axis at 0),
 *           yFormat (function), emptyText ("Waiting for the first steps…")}
 *
 *   AgoraCharts.heatmap(container, {labels, matrix, title, normalize})
 *
 * A confusion matrix. labels: ["cat", "dog", ...] (2 to ~20); matrix: counts, matrix[true][predicted].
 * Cells show the count and the share of their row (true label); the shade is that share
 * (normalize: true, the default) or the count over the largest count (normalize: false).
 * Diagonal cells are outlined; labels past 18 characters are cut, the full name in a tooltip.
 *
 *   AgoraCharts.intervalBars(container, {bars, title, xLabel, domain, reference, format})
 *
 * Horizontal bars with a 95% interval whisker, one row per group.
 * bars:      [{label: "female", value: 0.91, lower: 0.88, upper: 0.94, count: 412 (optional),
 *              muted: false, note: "fewer than 30 examples" (optional, shown under the label)}, ...]
 *            value null → the row reads "n/a"; lower/upper null → no whisker; muted rows are grey.
 * xLabel:    axis title ("Accuracy"); domain: [min, max] ([0, 1] when every number lies there);
 * reference: {value: 0.87, label: "Overall"}, a dashed vertical line (optional);
 * format:    "percent" (the default on a [0, 1] domain), "decimal", or function (value) → text.
 *
 *   AgoraCharts.reliability(container, {bins, title, ece, height})
 *
 * A reliability diagram: accuracy against confidence, the dashed diagonal is perfect calibration.
 * bins: [{lower: 0.8, upper: 0.9, count: 140, accuracy: 0.71, confidence: 0.76}, ...]
 * Each non-empty bin is a bar at its accuracy; the gap to its mean confidence is shaded red; a
 * histogram below shows each bin's share of the examples. Bins with count 0 or accuracy null are
 * skipped. ece: the expected calibration error, printed in the top-left corner (null: left out);
 * height: of the main plot (240).
 *
 * All three take an optional emptyText for when there is nothing to draw.
 *
 * Every chart is drawn at the container's width (viewBox), redrawn when the window resizes, and
 * shows a hover read-out (`line`: the nearest step of every series; the others: the cell, row or bin).
 */
(function () {
  "use strict";

  var SVG_NS = "http://www.w3.org/2000/svg";
  var PALETTE = ["#4f46e5", "#f59e0b", "#059669", "#dc2626", "#0891b2", "#9333ea"];
  var MARGIN = { top: 12, right: 16, bottom: 40, left: 60 };
  var charts = [];

  function svg(tag, attrs, parent) {
    var node = document.createElementNS(SVG_NS, tag);
    for (var key in attrs) {
      if (Object.prototype.hasOwnProperty.call(attrs, key) && attrs[key] !== undefined && attrs[key] !== null) {
        node.setAttribute(key, attrs[key]);
      }
    }
    if (parent) parent.appendChild(node);
    return node;
  }

  function html(tag, className, parent, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  // A "nice" tick step (1, 2 or 5 × 10^k) so that the range holds about `count` ticks.
  function niceStep(range, count) {
    if (!(range > 0)) return 1;
    var raw = range / Math.max(1, count);
    var power = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10));
    var fraction = raw / power;
    var nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
    return nice * power;
  }

  function ticks(min, max, count, integer) {
    var step = niceStep(max - min, count);
    if (integer) step = Math.max(1, Math.round(step));
    var start = Math.floor(min / step) * step;
    var end = Math.ceil(max / step) * step;
    var values = [];
    for (var v = start; v <= end + step / 2; v += step) {
      values.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
    }
    return { values: values, step: step, min: start, max: end };
  }

  function defaultFormat(step) {
    return function (value) {
      if (value === 0) return "0";
      var abs = Math.abs(value);
      if (abs >= 10000) return Math.round(value).toLocaleString("en-US");
      if (abs < 0.001) return value.toExponential(1);
      var decimals = step ? Math.max(0, Math.min(6, -Math.floor(Math.log(step) / Math.LN10))) : 3;
      return value.toFixed(decimals);
    };
  }

  function readoutFormat(value) {
    if (value === 0) return "0";
    var abs = Math.abs(value);
    if (abs >= 1000) return Math.round(value).toLocaleString("en-US");
    if (abs < 0.001) return value.toExponential(2);
    return Number(value.toPrecision(4)).toString();
  }

  function normalise(series) {
    var list = Array.isArray(series) ? series : Object.keys(series || {}).map(function (name) {
      return { label: name, points: series[name] };
    });
    return list.map(function (item, index) {
      var points = (item.points || []).filter(function (p) {
        return p && isFinite(p[0]) && isFinite(p[1]) && p[0] !== null && p[1] !== null;
      }).map(function (p) { return [Number(p[0]), Number(p[1])]; });
      points.sort(function (a, b) { return a[0] - b[0]; });
      return {
        label: item.label || item.name || "series " + (index + 1),
        points: points,
        color: item.color || PALETTE[index % PALETTE.length],
        dashed: !!item.dashed,
        markers: item.markers === undefined ? points.length <= 24 : !!item.markers
      };
    });
  }

  // The point of a sorted series whose step is nearest to x.
  function nearest(points, x) {
    var lo = 0, hi = points.length - 1;
    if (hi < 0) return null;
    while (hi - lo > 1) {
      var mid = (lo + hi) >> 1;
      if (points[mid][0] < x) lo = mid; else hi = mid;
    }
    return Math.abs(points[lo][0] - x) <= Math.abs(points[hi][0] - x) ? points[lo] : points[hi];
  }

  function draw(container, rawSeries, options) {
    options = options || {};
    var series = normalise(rawSeries);
    var drawable = series.filter(function (s) { return s.points.length > 0; });
    var longest = drawable.reduce(function (n, s) { return Math.max(n, s.points.length); }, 0);
    var xLabel = options.xLabel || "step";

    container.textContent = "";
    container.classList.add("agora-chart");
    var figure = html("figure", "agora-chart__figure", container);
    var head = html("figcaption", "agora-chart__head", figure);
    if (options.title) html("span", "agora-chart__title", head, options.title);

    if (longest < 2) {
      var empty = html("div", "agora-chart__empty", figure);
      html("span", "", empty, options.emptyText || "Waiting for the first steps…");
      if (longest === 1) {
        drawable.forEach(function (s) {
          var p = s.points[0];
          html("span", "agora-chart__empty-value", empty, s.label + " at " + xLabel + " " + readoutFormat(p[0]) + ": " + readoutFormat(p[1]));
        });
      }
      return;
    }

    if (series.length > 1) {
      var legend = html("ul", "agora-chart__legend", head);
      series.forEach(function (s) {
        var item = html("li", s.points.length ? "" : "is-empty", legend);
        var key = html("span", "agora-chart__key" + (s.dashed ? " agora-chart__key--dashed" : ""), item);
        key.style.borderColor = s.color;
        key.style.backgroundColor = s.dashed ? "transparent" : s.color;
        item.appendChild(document.createTextNode(s.label));
      });
    }

    var width = Math.max(280, Math.round(container.clientWidth || 600));
    var height = options.height || 240;
    var plotW = width - MARGIN.left - MARGIN.right;
    var plotH = height - MARGIN.top - MARGIN.bottom;

    var xMin = Infinity, xMax = -Infinity, yMin = Infinity, yMax = -Infinity;
    drawable.forEach(function (s) {
      s.points.forEach(function (p) {
        if (p[0] < xMin) xMin = p[0];
        if (p[0] > xMax) xMax = p[0];
        if (p[1] < yMin) yMin = p[1];
        if (p[1] > yMax) yMax = p[1];
      });
    });
    if (options.zero) { yMin = Math.min(0, yMin); yMax = Math.max(0, yMax); }
    // Steps count from 0: start the x axis there unless the data begins far from it.
    if (xMin > 0 && xMin <= (xMax - xMin) * 0.25) xMin = 0;
    if (xMax === xMin) { xMin -= 1; xMax += 1; }
    if (yMax === yMin) { var pad = Math.abs(yMax) * 0.1 || 1; yMin -= pad; yMax += pad; }

    var yTicks = ticks(yMin, yMax, 4, false);
    var xTicks = ticks(xMin, xMax, 5, true);
    // Keep x flush with the data; y on the nice bounds.
    var x0 = xMin, x1 = xMax, y0 = yTicks.min, y1 = yTicks.max;
    var xs = function (x) { return MARGIN.left + (x - x0) / (x1 - x0) * plotW; };
    var ys = function (y) { return MARGIN.top + plotH - (y - y0) / (y1 - y0) * plotH; };
    var yFormat = options.yFormat || defaultFormat(yTicks.step);
    var xFormat = function (v) { return Math.round(v).toLocaleString("en-US"); };

    var last = drawable.map(function (s) {
      return s.label + " " + readoutFormat(s.points[s.points.length - 1][1]);
    }).join(", ");
    var root = svg("svg", {
      viewBox: "0 0 " + width + " " + height,
      width: "100%",
      height: height,
      preserveAspectRatio: "none",
      role: "img",
      "aria-label": (options.title || "Chart") + ". Latest: " + last + " at " + xLabel + " " + xFormat(xMax) + ".",
      "class": "agora-chart__svg"
    }, figure);

    var grid = svg("g", { "class": "agora-chart__grid" }, root);
    var axis = svg("g", { "class": "agora-chart__axis" }, root);
    yTicks.values.forEach(function (v) {
      var y = ys(v);
      svg("line", { x1: MARGIN.left, x2: MARGIN.left + plotW, y1: y, y2: y }, grid);
      svg("text", { x: MARGIN.left - 8, y: y, dy: "0.32em", "text-anchor": "end" }, axis).textContent = yFormat(v);
    });
    xTicks.values.forEach(function (v) {
      if (v < x0 - 1e-9 || v > x1 + 1e-9) return;
      var x = xs(v);
      svg("line", { x1: x, x2: x, y1: MARGIN.top + plotH, y2: MARGIN.top + plotH + 4 }, axis);
      svg("text", { x: x, y: MARGIN.top + plotH + 16, "text-anchor": "middle" }, axis).textContent = xFormat(v);
    });
    svg("line", { x1: MARGIN.left, x2: MARGIN.left + plotW, y1: MARGIN.top + plotH, y2: MARGIN.top + plotH, "class": "agora-chart__baseline" }, axis);
    svg("line", { x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: MARGIN.top + plotH, "class": "agora-chart__baseline" }, axis);
    svg("text", { x: MARGIN.left + plotW / 2, y: height - 4, "text-anchor": "middle", "class": "agora-chart__axis-label" }, axis).textContent = xLabel;
    if (options.yLabel) {
      svg("text", {
        x: -(MARGIN.top + plotH / 2), y: 14, transform: "rotate(-90)", "text-anchor": "middle", "class": "agora-chart__axis-label"
      }, axis).textContent = options.yLabel;
    }

    var lines = svg("g", { "class": "agora-chart__lines" }, root);
    drawable.forEach(function (s) {
      if (s.points.length > 1) {
        var d = s.points.map(function (p, i) {
          return (i ? "L" : "M") + xs(p[0]).toFixed(1) + "," + ys(p[1]).toFixed(1);
        }).join("");
        svg("path", {
          d: d, fill: "none", stroke: s.color, "stroke-width": 2, "stroke-linejoin": "round", "stroke-linecap": "round",
          "stroke-dasharray": s.dashed ? "6 4" : null, "vector-effect": "non-scaling-stroke"
        }, lines);
      }
      if (s.markers || s.points.length === 1) {
        s.points.forEach(function (p) {
          svg("circle", { cx: xs(p[0]), cy: ys(p[1]), r: 3, fill: "#fff", stroke: s.color, "stroke-width": 2 }, lines);
        });
      }
    });

    // Hover read-out: a guide line, a dot per series and a small box of values.
    var guide = svg("g", { "class": "agora-chart__guide", visibility: "hidden" }, root);
    var guideLine = svg("line", { y1: MARGIN.top, y2: MARGIN.top + plotH }, guide);
    var dots = drawable.map(function (s) {
      return svg("circle", { r: 4, fill: s.color, stroke: "#fff", "stroke-width": 1.5 }, guide);
    });
    var tooltip = html("div", "agora-chart__tooltip", figure);
    tooltip.hidden = true;
    var overlay = svg("rect", {
      x: MARGIN.left, y: MARGIN.top, width: plotW, height: plotH, fill: "transparent", "class": "agora-chart__overlay"
    }, root);

    function show(clientX) {
      var box = root.getBoundingClientRect();
      if (!box.width) return;
      var vx = (clientX - box.left) / box.width * width;
      var x = x0 + (vx - MARGIN.left) / plotW * (x1 - x0);
      var anchor = null;
      var rows = [];
      drawable.forEach(function (s, i) {
        var p = nearest(s.points, x);
        if (!p) return;
        if (!anchor || Math.abs(p[0] - x) < Math.abs(anchor[0] - x)) anchor = p;
        dots[i].setAttribute("cx", xs(p[0]));
        dots[i].setAttribute("cy", ys(p[1]));
        rows.push({ series: s, point: p });
      });
      if (!anchor) return;
      guideLine.setAttribute("x1", xs(anchor[0]));
      guideLine.setAttribute("x2", xs(anchor[0]));
      guide.setAttribute("visibility", "visible");
      tooltip.textContent = "";
      html("div", "agora-chart__tooltip-title", tooltip, xLabel + " " + xFormat(anchor[0]));
      rows.forEach(function (row) {
        var line = html("div", "agora-chart__tooltip-row", tooltip);
        var key = html("span", "agora-chart__key", line);
        key.style.backgroundColor = row.series.color;
        key.style.borderColor = row.series.color;
        line.appendChild(document.createTextNode(row.series.label + ": " + readoutFormat(row.point[1]) +
          (row.point[0] !== anchor[0] ? " (" + xLabel + " " + xFormat(row.point[0]) + ")" : "")));
      });
      tooltip.hidden = false;
      var frame = figure.getBoundingClientRect();
      var px = xs(anchor[0]) / width * box.width;
      var left = px + 12;
      if (left + tooltip.offsetWidth > box.width) left = Math.max(0, px - tooltip.offsetWidth - 12);
      tooltip.style.left = (box.left - frame.left + left) + "px";
      tooltip.style.top = (box.top - frame.top + MARGIN.top + 4) + "px";
    }
    function hide() {
      guide.setAttribute("visibility", "hidden");
      tooltip.hidden = true;
    }
    overlay.addEventListener("mousemove", function (event) { show(event.clientX); });
    overlay.addEventListener("mouseleave", hide);
    overlay.addEventListener("touchstart", function (event) { if (event.touches[0]) show(event.touches[0].clientX); }, { passive: true });
    overlay.addEventListener("touchmove", function (event) { if (event.touches[0]) show(event.touches[0].clientX); }, { passive: true });
    overlay.addEventListener("touchend", hide);
  }

  function resolve(container) {
    return typeof container === "string" ? document.querySelector(container) : container;
  }

  // Remember how to redraw a container, so a resize redraws it at its new width.
  function register(container, redraw) {
    for (var i = 0; i < charts.length; i++) {
      if (charts[i].container === container) { charts[i].redraw = redraw; return; }
    }
    charts.push({ container: container, redraw: redraw });
  }

  function line(container, series, options) {
    container = resolve(container);
    if (!container) return;
    register(container, function () { draw(container, series, options); });
    draw(container, series, options);
  }

  // ---------------------------------------------------------------------------------------------
  // Evaluation charts: confusion matrix, per-group interval bars and reliability diagram.
  // They share the figure/caption/tooltip markup of `line`, and each takes one data object.

  var chartCount = 0;
  var FONT_WIDTH = 0.6; // average glyph width as a share of the font size, to lay text out without measuring
  var LABEL_CHARS = 18; // axis labels longer than this are cut, with the full name in a <title> tooltip

  function chartFunction(drawChart) {
    return function (container, data) {
      container = resolve(container);
      if (!container) return;
      var redraw = function () { drawChart(container, data || {}); };
      register(container, redraw);
      redraw();
    };
  }

  function numberOrNull(value) {
    if (value === null || value === undefined || value === "") return null;
    var number = Number(value);
    return isFinite(number) ? number : null;
  }

  function clamp(value, low, high) { return Math.max(low, Math.min(high, value)); }

  function textWidth(text, fontSize) { return String(text).length * fontSize * FONT_WIDTH; }

  function truncate(text, limit) {
    text = String(text);
    return text.length > limit ? text.slice(0, limit - 1) + "…" : text;
  }

  // An SVG text that is cut to `limit` characters and carries the full text as a native tooltip.
  function label(parent, attrs, text, limit) {
    var node = svg("text", attrs, parent);
    var shown = truncate(text, limit);
    node.textContent = shown;
    if (shown !== String(text)) svg("title", {}, node).textContent = String(text);
    return node;
  }

  function count(value) { return Math.round(value).toLocaleString("en-US"); }

  function percent(share) {
    if (share === null || share === undefined) return "n/a";
    if (share > 0 && share < 0.001) return "<0.1%";
    var text = (share * 100).toFixed(1);
    return (text === "100.0" ? "100" : text === "0.0" ? "0" : text) + "%";
  }

  function decimal(value) { return value === null || value === undefined ? "n/a" : value.toFixed(3); }

  // The page's primary colour (--accent) as [r, g, b], so the heat scale follows the theme.
  function accentRgb() {
    var value = "";
    try { value = getComputedStyle(document.documentElement).getPropertyValue("--accent").trim(); } catch (e) { value = ""; }
    var match = /^#?([0-9a-f]{6})$/i.exec(value);
    var hex = match ? match[1] : "4f46e5";
    return [parseInt(hex.slice(0, 2), 16), parseInt(hex.slice(2, 4), 16), parseInt(hex.slice(4, 6), 16)];
  }

  // White → primary colour; the gamma lifts small shares (the interesting confusions) off the white.
  function heatColour(rgb, share) {
    var t = Math.pow(clamp(share, 0, 1), 0.75);
    var channel = function (c) { return Math.round(255 + (c - 255) * t); };
    return "rgb(" + channel(rgb[0]) + "," + channel(rgb[1]) + "," + channel(rgb[2]) + ")";
  }

  function heatIsDark(share) { return Math.pow(clamp(share, 0, 1), 0.75) > 0.52; }

  function frame(container, kind, title) {
    container.textContent = "";
    container.classList.add("agora-chart", "agora-chart--" + kind);
    var figure = html("figure", "agora-chart__figure", container);
    var head = html("figcaption", "agora-chart__head", figure);
    if (title) html("span", "agora-chart__title", head, title);
    return { figure: figure, head: head };
  }

  function emptyState(figure, text) {
    var empty = html("div", "agora-chart__empty", figure);
    html("span", "", empty, text);
  }

  // The chart's name is its aria-label (a root <title> would pop up as a browser tooltip over the
  // hover read-outs); the data in words goes into a <desc> for screen readers.
  function chartRoot(figure, width, height, title, description) {
    var id = "agora-chart-" + (++chartCount);
    var root = svg("svg", {
      viewBox: "0 0 " + width + " " + height,
      width: "100%",
      height: height,
      preserveAspectRatio: "xMidYMin meet",
      role: "img",
      "aria-label": title,
      "aria-describedby": id + "-desc",
      "class": "agora-chart__svg"
    }, figure);
    svg("desc", { id: id + "-desc" }, root).textContent = description;
    return root;
  }

  function legendItem(legend, keyClass, text) {
    var item = html("li", "", legend);
    html("span", "agora-chart__key " + keyClass, item);
    item.appendChild(document.createTextNode(text));
  }

  // A hover box with a title and "name: value" rows, placed beside a point given in viewBox units.
  function tooltipFor(figure, root, width) {
    var tooltip = html("div", "agora-chart__tooltip", figure);
    tooltip.hidden = true;
    return {
      show: function (title, rows, vx, vy) {
        tooltip.textContent = "";
        html("div", "agora-chart__tooltip-title", tooltip, title);
        rows.forEach(function (row) {
          if (row) html("div", "agora-chart__tooltip-row", tooltip, row);
        });
        tooltip.hidden = false;
        var box = root.getBoundingClientRect();
        var outer = figure.getBoundingClientRect();
        var scale = box.width / width || 1;
        var px = box.left - outer.left + vx * scale;
        var py = box.top - outer.top + vy * scale;
        var left = px + 14;
        if (left + tooltip.offsetWidth > outer.width) left = Math.max(0, px - tooltip.offsetWidth - 14);
        tooltip.style.left = left + "px";
        tooltip.style.top = Math.max(0, py - tooltip.offsetHeight / 2) + "px";
      },
      hide: function () { tooltip.hidden = true; }
    };
  }

  function hoverable(node, onShow, onHide) {
    node.addEventListener("mouseenter", onShow);
    node.addEventListener("mouseleave", onHide);
    node.addEventListener("touchstart", onShow, { passive: true });
  }

  // --- Confusion matrix ------------------------------------------------------------------------

  function drawHeatmap(container, data) {
    var labels = (data.labels || []).map(function (name) { return String(name); });
    var n = labels.length;
    var matrix = labels.map(function (_, i) {
      var row = (data.matrix || [])[i] || [];
      return labels.map(function (_, j) { var v = numberOrNull(row[j]); return v && v > 0 ? v : 0; });
    });
    var rowTotals = matrix.map(function (row) { return row.reduce(function (a, b) { return a + b; }, 0); });
    var total = rowTotals.reduce(function (a, b) { return a + b; }, 0);
    var normalize = data.normalize !== false;
    var title = data.title || "Confusion matrix";
    var parts = frame(container, "heatmap", data.title);
    if (!n || !total) {
      emptyState(parts.figure, data.emptyText || "No predictions to show.");
      return;
    }

    var maxCount = 0;
    matrix.forEach(function (row) { row.forEach(function (v) { if (v > maxCount) maxCount = v; }); });
    var share = function (i, j) { return rowTotals[i] ? matrix[i][j] / rowTotals[i] : 0; };
    var intensity = function (i, j) { return normalize ? share(i, j) : matrix[i][j] / maxCount; };
    var rgb = accentRgb();

    var scale = html("div", "agora-chart__scale", parts.head);
    html("span", "", scale, "0");
    var bar = html("span", "agora-chart__scale-bar", scale);
    bar.style.backgroundImage = "linear-gradient(to right, " +
      [0, 0.25, 0.5, 0.75, 1].map(function (t) { return heatColour(rgb, t); }).join(", ") + ")";
    html("span", "", scale, normalize ? "100% of the true label" : count(maxCount) + " examples");

    // Layout: axis title | row labels | square cells, the block centred in the container.
    var longest = labels.reduce(function (m, name) { return Math.max(m, Math.min(name.length, LABEL_CHARS)); }, 0);
    var labelFont = 11;
    var rowLabelW = longest * labelFont * FONT_WIDTH + 8;
    var width = Math.max(280, Math.round(container.clientWidth || 600));
    var left = 22 + rowLabelW;
    var cell = clamp(Math.floor((width - left - 12) / n), 18, 76);
    var colLabelW = longest * labelFont * FONT_WIDTH;
    var rotate = colLabelW > cell - 6;
    // Rotated column labels run down-left from under their column; keep the first one inside the frame.
    if (rotate) left = Math.max(left, colLabelW * 0.72 - cell / 2 + 6);
    var gridW = cell * n;
    var shift = Math.max(0, Math.floor((width - (left + gridW + 12)) / 2));
    width = Math.max(width, left + gridW + 12);
    var gx = shift + left;
    var gy = 6;
    var colBlock = rotate ? colLabelW * 0.72 + 16 : 22;
    var height = Math.round(gy + gridW + colBlock + 22);

    var correct = 0;
    var worst = null;
    for (var i = 0; i < n; i++) {
      correct += matrix[i][i];
      for (var j = 0; j < n; j++) {
        if (i !== j && matrix[i][j] > 0 && (!worst || matrix[i][j] > matrix[worst[0]][worst[1]])) worst = [i, j];
      }
    }
    var description = "Confusion matrix of " + count(total) + " examples over " + n + " labels; rows are the true " +
      "label, columns the predicted label. " + count(correct) + " (" + percent(correct / total) + ") are on the diagonal." +
      (worst ? " Most frequent confusion: true " + labels[worst[0]] + " predicted as " + labels[worst[1]] + ", " +
        count(matrix[worst[0]][worst[1]]) + " examples (" + percent(share(worst[0], worst[1])) + " of " + labels[worst[0]] + ")." : "");
    var root = chartRoot(parts.figure, width, height, title, description);
    var tooltip = tooltipFor(parts.figure, root, width);

    var axis = svg("g", { "class": "agora-chart__axis" }, root);
    svg("text", {
      x: -(gy + gridW / 2), y: shift + 12, transform: "rotate(-90)", "text-anchor": "middle", "class": "agora-chart__axis-label"
    }, axis).textContent = "True label";
    svg("text", {
      x: gx + gridW / 2, y: height - 6, "text-anchor": "middle", "class": "agora-chart__axis-label"
    }, axis).textContent = "Predicted label";
    labels.forEach(function (name, k) {
      label(axis, { x: gx - 8, y: gy + k * cell + cell / 2, dy: "0.32em", "text-anchor": "end" }, name, LABEL_CHARS);
      var cx = gx + k * cell + cell / 2;
      var cy = gy + gridW + 14;
      label(axis, rotate
        ? { x: cx, y: cy - 4, "text-anchor": "end", transform: "rotate(-45 " + cx + " " + (cy - 4) + ")", dy: "0.32em" }
        : { x: cx, y: cy, "text-anchor": "middle" }, name, LABEL_CHARS);
    });

    var cells = svg("g", { "class": "agora-chart__cells" }, root);
    var countFont = clamp(Math.round(cell / 4.6), 9, 13);
    var showBoth = cell >= 46;
    var highlight = svg("rect", { width: cell, height: cell, "class": "agora-chart__cell-hover", visibility: "hidden" }, root);
    matrix.forEach(function (row, i) {
      row.forEach(function (value, j) {
        var x = gx + j * cell, y = gy + i * cell;
        var t = intensity(i, j);
        var rect = svg("rect", {
          x: x, y: y, width: cell, height: cell, fill: heatColour(rgb, t),
          "class": "agora-chart__cell" + (i === j ? " agora-chart__cell--diagonal" : "")
        }, cells);
        if (i === j) svg("rect", { x: x + 1.5, y: y + 1.5, width: cell - 3, height: cell - 3, "class": "agora-chart__cell-diagonal" }, cells);
        var ink = "agora-chart__cell-text" + (heatIsDark(t) ? " is-dark" : "") + (value ? "" : " is-zero");
        var countText = count(value);
        if (showBoth) {
          svg("text", { x: x + cell / 2, y: y + cell / 2 - 6, "text-anchor": "middle", "font-size": countFont, "class": ink + " agora-chart__cell-count" }, cells).textContent = countText;
          svg("text", { x: x + cell / 2, y: y + cell / 2 + 9, "text-anchor": "middle", "class": ink + " agora-chart__cell-share" }, cells).textContent =
            rowTotals[i] ? percent(share(i, j)) : "–";
        } else if (value && textWidth(countText, countFont) <= cell - 4) {
          // Small cells: zeros stay blank so the confusions stand out; the hover read-out has them.
          svg("text", { x: x + cell / 2, y: y + cell / 2, dy: "0.35em", "text-anchor": "middle", "font-size": countFont, "class": ink + " agora-chart__cell-count" }, cells).textContent = countText;
        }
        hoverable(rect, function () {
          highlight.setAttribute("x", x);
          highlight.setAttribute("y", y);
          highlight.setAttribute("visibility", "visible");
          tooltip.show((i === j ? "Correct: " : "True ") + labels[i] + (i === j ? "" : " → predicted " + labels[j]), [
            count(value) + " example" + (value === 1 ? "" : "s"),
            rowTotals[i] ? percent(share(i, j)) + " of " + count(rowTotals[i]) + " with true label " + labels[i] : null
          ], x + cell, y + cell / 2);
        }, function () {
          highlight.setAttribute("visibility", "hidden");
          tooltip.hide();
        });
      });
    });
    // The highlight sits above the cells but lets the pointer through to them.
    root.appendChild(highlight);
  }

  // --- Horizontal bars with 95% intervals ------------------------------------------------------

  function drawIntervalBars(container, data) {
    var bars = (data.bars || []).map(function (bar) {
      return {
        label: bar.label === undefined || bar.label === null ? "" : String(bar.label),
        value: numberOrNull(bar.value),
        lower: numberOrNull(bar.lower),
        upper: numberOrNull(bar.upper),
        count: numberOrNull(bar.count),
        muted: !!bar.muted,
        note: bar.note ? String(bar.note) : ""
      };
    });
    var title = data.title || "Chart";
    var xLabel = data.xLabel || "Accuracy";
    var parts = frame(container, "bars", data.title);
    if (!bars.length) {
      emptyState(parts.figure, data.emptyText || "No groups to show.");
      return;
    }

    var domain = data.domain;
    if (!domain) {
      var lo = 0, hi = 0;
      bars.forEach(function (b) {
        [b.value, b.lower, b.upper].forEach(function (v) {
          if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
        });
      });
      // Scores in [0, 1] (accuracy, F1, recall…) keep their full scale so charts compare at a glance.
      var auto = ticks(lo, hi > lo ? hi : lo + 1, 5, false);
      domain = lo >= 0 && hi <= 1 ? [0, 1] : [auto.min, auto.max];
    }
    var d0 = Number(domain[0]), d1 = Number(domain[1]);
    if (!(d1 > d0)) d1 = d0 + 1;
    var usePercent = data.format === "percent" || (data.format === undefined && d0 >= 0 && d1 <= 1);
    var format = typeof data.format === "function" ? data.format : usePercent ? percent : function (v) { return readoutFormat(v); };
    var reference = data.reference && numberOrNull(data.reference.value) !== null ? data.reference : null;

    var width = Math.max(280, Math.round(container.clientWidth || 600));
    var labelFont = 12, noteFont = 10.5, valueFont = 12;
    var labelChars = 24, noteChars = 36;
    var labelW = bars.reduce(function (m, b) {
      return Math.max(m, textWidth(truncate(b.label, labelChars), labelFont), b.note ? textWidth(truncate(b.note, noteChars), noteFont) : 0);
    }, 0);
    labelW = Math.min(labelW, width * 0.34);
    var intervalText = function (b) {
      if (b.lower === null || b.upper === null) return "";
      // "88.0–93.5%" rather than "88.0%–93.5%": the value column stays narrow.
      if (format === percent) return (b.lower * 100).toFixed(1) + "–" + percent(b.upper);
      return format(b.lower) + (b.lower < 0 || b.upper < 0 ? " to " : "–") + format(b.upper);
    };
    var valueWidth = function (withInterval) {
      return bars.reduce(function (m, b) {
        var interval = withInterval && intervalText(b) ? 8 + textWidth(intervalText(b), 11) : 0;
        return Math.max(m, textWidth(b.value === null ? "n/a" : format(b.value), valueFont) + interval);
      }, 0);
    };
    // On a narrow card the interval leaves the value column (the hover read-out still has it).
    var showInterval = width - labelW - valueWidth(true) - 38 >= 180;
    var valueW = valueWidth(showInterval);
    var margin = { top: reference ? 24 : 6, left: Math.round(labelW + 18), right: Math.round(valueW + 20), bottom: 40 };
    var rowHeights = bars.map(function (b) { return b.note ? 42 : 32; });
    var plotH = rowHeights.reduce(function (a, b) { return a + b; }, 0);
    var height = margin.top + plotH + margin.bottom;
    var plotW = width - margin.left - margin.right;
    var xs = function (v) { return margin.left + (clamp(v, d0, d1) - d0) / (d1 - d0) * plotW; };
    var axisTicks = ticks(d0, d1, clamp(Math.floor(plotW / 45), 2, 5), false);
    var tickFormat = typeof data.format === "function" ? data.format : usePercent
      ? function (v) { return Math.round(v * 100) + "%"; } : defaultFormat(axisTicks.step);

    var description = bars.map(function (b) {
      return b.label + ": " + (b.value === null ? "n/a" : format(b.value)) +
        (intervalText(b) ? " (95% interval " + intervalText(b) + ")" : "") + (b.note ? ", " + b.note : "");
    }).join("; ") + "." + (reference ? " Reference line: " + (reference.label || "reference") + " " + format(Number(reference.value)) + "." : "");
    var root = chartRoot(parts.figure, width, height, title, description);
    var tooltip = tooltipFor(parts.figure, root, width);

    var legend = html("ul", "agora-chart__legend", parts.head);
    if (bars.some(function (b) { return intervalText(b); })) legendItem(legend, "agora-chart__key--whisker", "95% interval");
    if (reference) legendItem(legend, "agora-chart__key--dashed agora-chart__key--reference", reference.label || "reference");

    var hover = svg("rect", { x: 0, width: width, "class": "agora-chart__row-hover", visibility: "hidden" }, root);
    var grid = svg("g", { "class": "agora-chart__grid" }, root);
    var axis = svg("g", { "class": "agora-chart__axis" }, root);
    var bottom = margin.top + plotH;
    axisTicks.values.forEach(function (v) {
      if (v < d0 - 1e-9 || v > d1 + 1e-9) return;
      var x = xs(v);
      svg("line", { x1: x, x2: x, y1: margin.top, y2: bottom }, grid);
      svg("line", { x1: x, x2: x, y1: bottom, y2: bottom + 4 }, axis);
      svg("text", { x: x, y: bottom + 16, "text-anchor": "middle" }, axis).textContent = tickFormat(v);
    });
    svg("line", { x1: margin.left, x2: margin.left + plotW, y1: bottom, y2: bottom, "class": "agora-chart__baseline" }, axis);
    svg("line", { x1: margin.left, x2: margin.left, y1: margin.top, y2: bottom, "class": "agora-chart__baseline" }, axis);
    svg("text", { x: margin.left + plotW / 2, y: height - 4, "text-anchor": "middle", "class": "agora-chart__axis-label" }, axis).textContent = xLabel;

    var rows = svg("g", { "class": "agora-chart__rows" }, root);
    var top = margin.top;
    bars.forEach(function (b, index) {
      var rowH = rowHeights[index];
      var cy = top + (b.note ? 15 : rowH / 2);
      var group = svg("g", { "class": "agora-chart__row" + (b.muted ? " is-muted" : "") }, rows);
      label(group, { x: margin.left - 10, y: cy, dy: "0.35em", "text-anchor": "end", "class": "agora-chart__row-label" }, b.label, labelChars);
      if (b.note) label(group, { x: margin.left - 10, y: cy + 15, dy: "0.35em", "text-anchor": "end", "class": "agora-chart__row-note" }, b.note, noteChars);
      if (b.value !== null) {
        var x0 = xs(Math.max(d0, Math.min(0, d1))), xv = xs(b.value);
        svg("rect", { x: Math.min(x0, xv), y: cy - 8, width: Math.max(1, Math.abs(xv - x0)), height: 16, rx: 2, "class": "agora-chart__bar" }, group);
      }
      if (b.lower !== null && b.upper !== null) {
        var xl = xs(b.lower), xu = xs(b.upper);
        var whisker = svg("g", { "class": "agora-chart__whisker" }, group);
        svg("line", { x1: xl, x2: xu, y1: cy, y2: cy }, whisker);
        svg("line", { x1: xl, x2: xl, y1: cy - 5, y2: cy + 5 }, whisker);
        svg("line", { x1: xu, x2: xu, y1: cy - 5, y2: cy + 5 }, whisker);
      }
      var value = svg("text", { x: margin.left + plotW + 12, y: cy, dy: "0.35em", "class": "agora-chart__value" }, group);
      value.textContent = b.value === null ? "n/a" : format(b.value);
      if (showInterval && intervalText(b)) svg("tspan", { dx: 8, "class": "agora-chart__value-interval" }, value).textContent = intervalText(b);

      var rowTop = top;
      var target = svg("rect", { x: 0, y: rowTop, width: width, height: rowH, fill: "transparent" }, root);
      hoverable(target, function () {
        hover.setAttribute("y", rowTop);
        hover.setAttribute("height", rowH);
        hover.setAttribute("visibility", "visible");
        tooltip.show(b.label, [
          xLabel + ": " + (b.value === null ? "n/a" : format(b.value)),
          intervalText(b) ? "95% interval: " + intervalText(b) : null,
          b.count !== null ? count(b.count) + " example" + (b.count === 1 ? "" : "s") : null,
          b.note || null
        ], b.value !== null ? xs(b.upper !== null ? b.upper : b.value) : margin.left, cy);
      }, function () {
        hover.setAttribute("visibility", "hidden");
        tooltip.hide();
      });
      top += rowH;
    });

    if (reference) {
      var rv = Number(reference.value);
      var rx = xs(rv);
      var refGroup = svg("g", { "class": "agora-chart__reference" }, root);
      svg("line", { x1: rx, x2: rx, y1: margin.top - 6, y2: bottom }, refGroup);
      var refText = (reference.label ? reference.label + " " : "") + format(rv);
      var anchor = rx - textWidth(refText, 11) / 2 < 0 ? "start" : rx + textWidth(refText, 11) / 2 > width ? "end" : "middle";
      svg("text", { x: rx, y: margin.top - 11, "text-anchor": anchor }, refGroup).textContent = refText;
    }
  }

  // --- Reliability diagram -----------------------------------------------------------------------

  function drawReliability(container, data) {
    var bins = (data.bins || []).map(function (bin) {
      return {
        lower: numberOrNull(bin.lower),
        upper: numberOrNull(bin.upper),
        count: numberOrNull(bin.count) || 0,
        accuracy: numberOrNull(bin.accuracy),
        confidence: numberOrNull(bin.confidence)
      };
    });
    var total = bins.reduce(function (sum, bin) { return sum + bin.count; }, 0);
    var shown = bins.filter(function (bin) {
      return bin.count > 0 && bin.accuracy !== null && bin.lower !== null && bin.upper !== null && bin.upper > bin.lower;
    });
    var ece = numberOrNull(data.ece);
    var title = data.title || "Reliability diagram";
    var parts = frame(container, "reliability", data.title);
    if (!shown.length) {
      emptyState(parts.figure, data.emptyText || "No predictions to show.");
      return;
    }

    var legend = html("ul", "agora-chart__legend", parts.head);
    legendItem(legend, "agora-chart__key--box agora-chart__key--accuracy", "accuracy");
    legendItem(legend, "agora-chart__key--box agora-chart__key--gap", "gap to confidence");
    legendItem(legend, "agora-chart__key--dashed agora-chart__key--diagonal", "perfect calibration");

    var width = Math.max(280, Math.round(container.clientWidth || 600));
    var plotH = data.height || 240;
    var histH = 54, between = 14;
    var margin = { top: 8, left: 56, right: 16, bottom: 40 };
    // A reliability diagram reads best close to square: cap its width and centre it.
    var plotW = Math.min(width - margin.left - margin.right, Math.round(plotH * 1.7));
    var ox = Math.max(0, Math.floor((width - margin.left - margin.right - plotW) / 2)) + margin.left;
    var height = margin.top + plotH + between + histH + margin.bottom;
    var histTop = margin.top + plotH + between;
    var histBottom = histTop + histH;
    var xs = function (v) { return ox + clamp(v, 0, 1) * plotW; };
    var ys = function (v) { return margin.top + plotH - clamp(v, 0, 1) * plotH; };
    var maxShare = shown.reduce(function (m, bin) { return Math.max(m, bin.count / total); }, 0);
    var shareTop = ticks(0, maxShare, 2, false).max || 1;
    var hs = function (share) { return histBottom - share / shareTop * histH; };

    var description = "Reliability diagram of " + count(total) + " examples in " + shown.length + " non-empty confidence bins" +
      (ece !== null ? ", expected calibration error " + decimal(ece) : "") + ". " + shown.map(function (bin) {
        return "confidence " + bin.lower.toFixed(2) + " to " + bin.upper.toFixed(2) + ": accuracy " + decimal(bin.accuracy) +
          (bin.confidence !== null ? ", mean confidence " + decimal(bin.confidence) : "") + ", " + count(bin.count) + " examples";
      }).join("; ") + ".";
    var root = chartRoot(parts.figure, width, height, title, description);
    var tooltip = tooltipFor(parts.figure, root, width);

    var hover = svg("rect", { y: margin.top, height: histBottom - margin.top, "class": "agora-chart__column-hover", visibility: "hidden" }, root);
    var grid = svg("g", { "class": "agora-chart__grid" }, root);
    var axis = svg("g", { "class": "agora-chart__axis" }, root);
    var steps = [0, 0.2, 0.4, 0.6, 0.8, 1];
    steps.forEach(function (v) {
      svg("line", { x1: ox, x2: ox + plotW, y1: ys(v), y2: ys(v) }, grid);
      svg("line", { x1: xs(v), x2: xs(v), y1: margin.top, y2: margin.top + plotH }, grid);
      svg("text", { x: ox - 8, y: ys(v), dy: "0.32em", "text-anchor": "end" }, axis).textContent = v.toFixed(1);
      svg("line", { x1: xs(v), x2: xs(v), y1: histBottom, y2: histBottom + 4 }, axis);
      svg("text", { x: xs(v), y: histBottom + 16, "text-anchor": "middle" }, axis).textContent = v.toFixed(1);
    });
    svg("line", { x1: ox, x2: ox + plotW, y1: hs(shareTop), y2: hs(shareTop) }, grid);
    svg("text", { x: ox - 8, y: hs(shareTop), dy: "0.32em", "text-anchor": "end" }, axis).textContent =
      Number((shareTop * 100).toPrecision(3)) + "%";
    svg("text", { x: ox - 8, y: histBottom, dy: "0.32em", "text-anchor": "end" }, axis).textContent = "0";
    [margin.top + plotH, histBottom].forEach(function (y) {
      svg("line", { x1: ox, x2: ox + plotW, y1: y, y2: y, "class": "agora-chart__baseline" }, axis);
    });
    svg("line", { x1: ox, x2: ox, y1: margin.top, y2: margin.top + plotH, "class": "agora-chart__baseline" }, axis);
    svg("line", { x1: ox, x2: ox, y1: histTop, y2: histBottom, "class": "agora-chart__baseline" }, axis);
    svg("text", { x: ox + plotW / 2, y: height - 4, "text-anchor": "middle", "class": "agora-chart__axis-label" }, axis).textContent = "Confidence";
    svg("text", {
      x: -(margin.top + plotH / 2), y: ox - 42, transform: "rotate(-90)", "text-anchor": "middle", "class": "agora-chart__axis-label"
    }, axis).textContent = "Accuracy";

    var marks = svg("g", { "class": "agora-chart__bins" }, root);
    shown.forEach(function (bin) {
      var x = xs(bin.lower), w = Math.max(1, xs(bin.upper) - xs(bin.lower));
      svg("rect", { x: x, y: ys(bin.accuracy), width: w, height: ys(0) - ys(bin.accuracy), "class": "agora-chart__bin" }, marks);
      if (bin.confidence !== null && Math.abs(bin.confidence - bin.accuracy) > 1e-9) {
        var yTop = ys(Math.max(bin.confidence, bin.accuracy)), yBottom = ys(Math.min(bin.confidence, bin.accuracy));
        svg("rect", { x: x, y: yTop, width: w, height: Math.max(1, yBottom - yTop), "class": "agora-chart__gap" }, marks);
      }
      svg("rect", { x: x, y: hs(bin.count / total), width: w, height: histBottom - hs(bin.count / total), "class": "agora-chart__hist" }, marks);
    });
    svg("line", { x1: xs(0), y1: ys(0), x2: xs(1), y2: ys(1), "class": "agora-chart__diagonal" }, root);
    // Low-confidence bins are usually the smallest, so the histogram's top-left corner is free for its caption.
    svg("text", { x: ox + 6, y: histTop + 9, "class": "agora-chart__hist-label" }, root).textContent = "share of examples";

    if (ece !== null) {
      var eceText = "ECE " + decimal(ece);
      var boxW = textWidth(eceText, 12) + 16;
      var badge = svg("g", { "class": "agora-chart__badge" }, root);
      svg("rect", { x: ox + 8, y: margin.top + 8, width: boxW, height: 22, rx: 4 }, badge);
      svg("text", { x: ox + 16, y: margin.top + 19, dy: "0.35em" }, badge).textContent = eceText;
    }

    shown.forEach(function (bin) {
      var x = xs(bin.lower), w = Math.max(1, xs(bin.upper) - xs(bin.lower));
      var target = svg("rect", { x: x, y: margin.top, width: w, height: histBottom - margin.top, fill: "transparent" }, root);
      var gap = bin.confidence !== null ? bin.confidence - bin.accuracy : null;
      hoverable(target, function () {
        hover.setAttribute("x", x);
        hover.setAttribute("width", w);
        hover.setAttribute("visibility", "visible");
        tooltip.show("Confidence " + bin.lower.toFixed(2) + "–" + bin.upper.toFixed(2), [
          count(bin.count) + " example" + (bin.count === 1 ? "" : "s") + " (" + percent(bin.count / total) + ")",
          "Accuracy: " + decimal(bin.accuracy),
          bin.confidence !== null ? "Mean confidence: " + decimal(bin.confidence) : null,
          gap !== null ? "Gap: " + decimal(Math.abs(gap)) + (Math.abs(gap) < 5e-4 ? "" : gap > 0 ? " (over-confident)" : " (under-confident)") : null
        ], x + w, ys(bin.accuracy));
      }, function () {
        hover.setAttribute("visibility", "hidden");
        tooltip.hide();
      });
    });
  }

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      charts.forEach(function (chart) {
        if (document.body.contains(chart.container)) chart.redraw();
      });
    }, 150);
  });

  window.AgoraCharts = {
    line: line,
    heatmap: chartFunction(drawHeatmap),
    intervalBars: chartFunction(drawIntervalBars),
    reliability: chartFunction(drawReliability),
    niceStep: niceStep
  };
})();
