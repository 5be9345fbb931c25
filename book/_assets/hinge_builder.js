// The hinge builder of the chapter "What networks compute": a forward pass only.
// A classic script (no module, no fetch) so that it also runs from file://. The
// chapter inlines this file and then calls nnHingeBuilder(host, data), where data
// holds the sliders' settings, the target curve and the trained network's weights.
//
// The hand-built network is y(x) = start + start_slope * relu(x - low)
//                                 + sum_j slope_change_j * relu(x - position_j),
// exactly what nnlib.regions.hinge_network builds.
window.nnHingeBuilder = window.nnHingeBuilder || function (host, data) {
  "use strict";
  var W = 640, H = 300, PAD = { left: 40, right: 10, top: 12, bottom: 30 };
  var SVG_NS = "http://www.w3.org/2000/svg";
  var palette = data.palette;
  var state = {
    start: data.start, start_slope: data.start_slope,
    positions: data.positions.slice(), slope_changes: data.slope_changes.slice(),
  };
  var relu = function (z) { return z > 0 ? z : 0; };
  var grid = [];
  for (var i = 0; i < data.num_points; i++) grid.push(data.low + (data.high - data.low) * i / (data.num_points - 1));
  var target = grid.map(function (x) { return x * Math.sin(x); });

  function unitTerms(x) {  // each unit's contribution at x: start unit first
    var terms = [state.start_slope * relu(x - data.low)];
    for (var j = 0; j < state.positions.length; j++) terms.push(state.slope_changes[j] * relu(x - state.positions[j]));
    return terms;
  }
  function handBuilt(x) { return unitTerms(x).reduce(function (a, b) { return a + b; }, state.start); }
  function trained(x) {  // the trained 1-H-1 network: c + sum_j v_j relu(w_j x / scale + b_j)
    var net = data.trained, y = net.c;
    for (var j = 0; j < net.w.length; j++) y += net.v[j] * relu(net.w[j] * x / net.scale + net.b[j]);
    return y;
  }
  function sx(x) { return PAD.left + (x - data.low) / (data.high - data.low) * (W - PAD.left - PAD.right); }
  function sy(y) { return PAD.top + (data.y_max - y) / (data.y_max - data.y_min) * (H - PAD.top - PAD.bottom); }
  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG_NS, name);
    for (var key in attrs) node.setAttribute(key, attrs[key]);
    if (parent) parent.appendChild(node);
    return node;
  }
  function polyline(values, attrs, parent) {
    var points = grid.map(function (x, i) {
      var y = Math.max(data.y_min - 50, Math.min(data.y_max + 50, values[i]));
      return sx(x).toFixed(2) + "," + sy(y).toFixed(2);
    }).join(" ");
    attrs.points = points;
    attrs.fill = "none";
    return el("polyline", attrs, parent);
  }

  host.textContent = "";
  var titleId = host.id + "-title";
  var svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-labelledby": titleId, width: "100%" }, host);
  svg.style.maxWidth = W + "px";
  svg.style.overflow = "hidden";
  var title = el("title", { id: titleId }, svg);
  var clip = el("clipPath", { id: host.id + "-clip" }, el("defs", {}, svg));
  el("rect", { x: PAD.left, y: PAD.top, width: W - PAD.left - PAD.right, height: H - PAD.top - PAD.bottom }, clip);
  var axes = el("g", { stroke: "currentColor", "stroke-width": 1, fill: "currentColor", "font-size": 12 }, svg);
  el("line", { x1: PAD.left, x2: W - PAD.right, y1: sy(0), y2: sy(0), "stroke-opacity": 0.3 }, axes);
  [-10, -5, 0, 5, 10].forEach(function (tick) {
    var label = el("text", { x: sx(tick), y: H - 10, "text-anchor": "middle", stroke: "none" }, axes);
    label.textContent = tick;
  });
  [-10, -5, 0, 5, 10].forEach(function (tick) {
    var label = el("text", { x: PAD.left - 6, y: sy(tick) + 4, "text-anchor": "end", stroke: "none" }, axes);
    label.textContent = tick;
  });
  var plot = el("g", { "clip-path": "url(#" + host.id + "-clip)" }, svg);
  polyline(target, { stroke: palette[1], "stroke-width": 2, "stroke-dasharray": "6 4", "data-curve": "target" }, plot);
  var unitsGroup = el("g", { "data-curve": "units" }, plot);
  var trainedLine = polyline(grid.map(trained), { stroke: palette[2], "stroke-width": 2, "stroke-dasharray": "2 3", "data-curve": "trained" }, plot);
  var trainedHinges = el("g", { "data-curve": "trained-hinges" }, plot);
  data.trained.hinges.forEach(function (hinge) {
    el("line", { x1: sx(hinge), x2: sx(hinge), y1: PAD.top, y2: H - PAD.bottom, stroke: palette[2], "stroke-opacity": 0.7, "stroke-dasharray": "1 3" }, trainedHinges);
  });
  var sumLine = null, handHinges = el("g", {}, plot);

  var readout = document.createElement("p");
  readout.setAttribute("aria-live", "polite");
  host.appendChild(readout);

  var controls = document.createElement("div");
  controls.className = "nn-hinge-controls";
  host.appendChild(controls);
  function slider(name, label, min, max, step, value, onInput) {
    var wrap = document.createElement("label");
    var text = document.createElement("span");
    var input = document.createElement("input");
    var shown = document.createElement("output");
    text.textContent = label + " ";
    input.type = "range"; input.name = name; input.min = min; input.max = max; input.step = step; input.value = value;
    shown.textContent = Number(value).toFixed(1);
    input.addEventListener("input", function () { onInput(Number(input.value)); shown.textContent = Number(input.value).toFixed(1); draw(); });
    wrap.appendChild(text); wrap.appendChild(input); wrap.appendChild(shown);
    controls.appendChild(wrap);
    return input;
  }
  slider("start", "value at x = " + data.low, -15, 15, 0.1, state.start, function (v) { state.start = v; });
  slider("start_slope", "first slope", -15, 15, 0.1, state.start_slope, function (v) { state.start_slope = v; });
  state.positions.forEach(function (_, j) {
    slider("position_" + j, "hinge " + (j + 1) + " at x =", data.low, data.high, 0.1, state.positions[j], function (v) { state.positions[j] = v; });
    slider("slope_change_" + j, "hinge " + (j + 1) + " slope change", -15, 15, 0.1, state.slope_changes[j], function (v) { state.slope_changes[j] = v; });
  });
  var toggleWrap = document.createElement("label");
  var toggle = document.createElement("input");
  toggle.type = "checkbox"; toggle.name = "show_trained";
  toggleWrap.appendChild(toggle);
  toggleWrap.appendChild(document.createTextNode(" show the trained " + data.trained.label + " network and its hinges"));
  toggle.addEventListener("change", draw);
  controls.appendChild(toggleWrap);

  function draw() {
    var sums = grid.map(handBuilt);
    unitsGroup.textContent = "";
    for (var k = 0; k <= state.positions.length; k++) {
      polyline(grid.map(function (x) { return unitTerms(x)[k]; }),
               { stroke: palette[k === 0 ? 4 : 5], "stroke-width": 1, "stroke-opacity": 0.8 }, unitsGroup);
    }
    if (sumLine) plot.removeChild(sumLine);
    sumLine = polyline(sums, { stroke: palette[0], "stroke-width": 3, "data-curve": "sum" }, plot);
    handHinges.textContent = "";
    state.positions.forEach(function (p) { el("circle", { cx: sx(p), cy: sy(handBuilt(p)), r: 4, fill: palette[0] }, handHinges); });
    trainedLine.style.display = trainedHinges.style.display = toggle.checked ? "" : "none";
    var mse = 0;
    for (var i = 0; i < grid.length; i++) mse += (sums[i] - target[i]) * (sums[i] - target[i]) / grid.length;
    var message = "Hand-built sum of " + (state.positions.length + 1) + " ReLU units: mean squared error " +
      mse.toFixed(2) + " against x sin(x) on [" + data.low + ", " + data.high + "]";
    if (toggle.checked) message += "; the trained " + data.trained.label + " network reaches " + data.trained.mse.toFixed(2);
    readout.textContent = message + ".";
    title.textContent = "Plot of x sin(x) (dashed), the hand-built sum (thick line) with its hinges at x = " +
      state.positions.map(function (p) { return p.toFixed(1); }).join(", ") + ", and each unit's contribution (thin lines)" +
      (toggle.checked ? "; the trained network dotted, with its hinges as dotted verticals." : ".");
  }
  // The plot's scale, so that a test can read the drawn curves back in data units.
  svg.setAttribute("data-plot-box", [PAD.left, PAD.top, W - PAD.left - PAD.right, H - PAD.top - PAD.bottom].join(" "));
  svg.setAttribute("data-range", [data.low, data.high, data.y_min, data.y_max].join(" "));
  draw();
};
