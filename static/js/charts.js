/*
 * AgoraCharts: a tiny, dependency-free SVG line chart.
 *
 *   AgoraCharts.line(container, series, options)
 *
 * series:  [{label: "training loss", points: [[step, value], ...], color: "#4f46e5",
 *            dashed: false, markers: false}, ...]
 *          (a plain {name: points} object is accepted too)
 * options: {title, yLabel, xLabel ("step"), height (240), zero (false: start the y axis at 0),
 *           yFormat (function), emptyText ("Waiting for the first steps…")}
 *
 * The SVG is drawn at the container's width (viewBox), redrawn when the window resizes,
 * and shows a hover read-out of the nearest step of every series.
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

  function line(container, series, options) {
    if (typeof container === "string") container = document.querySelector(container);
    if (!container) return;
    var known = false;
    for (var i = 0; i < charts.length; i++) {
      if (charts[i].container === container) { charts[i].series = series; charts[i].options = options; known = true; }
    }
    if (!known) charts.push({ container: container, series: series, options: options });
    draw(container, series, options);
  }

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      charts.forEach(function (chart) {
        if (document.body.contains(chart.container)) draw(chart.container, chart.series, chart.options);
      });
    }, 150);
  });

  window.AgoraCharts = { line: line, niceStep: niceStep };
})();
