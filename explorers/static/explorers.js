// The course's interactive explorers, drawn as SVG with no dependencies.
//
// A classic script (no ES modules, no fetch: pages opened from file:// can load it)
// that defines one global, nnExplorers = { render, createStaticModel }. render
// follows anywidget's contract, render({ model, el }), and serves both places an
// explorer appears:
//   - in Jupyter, `model` is the live widget (explorers/widgets.py): the kernel
//     trains with nnlib and keeps replacing the `fit` trait as it improves;
//   - on the static website, `model` is createStaticModel(document): the same
//     traits read from fits precomputed by explorers/precompute.py, which the page
//     includes as the script _static/explorers-data/<kind>.js (it registers them
//     in the global nnExplorersData).
// For anywidget, explorers/widgets.py appends an ES-module default export.
// Which explorer to draw is the model's `kind`. The controls only ever call
// model.set(name, value) and model.save_changes(); the picture only ever
// redraws on model.on("change:fit").

(function () {
  "use strict";
  if (globalThis.nnExplorers) return;  // a page with several explorers includes this once per explorer
  // Where this script was loaded from: the in-page trainer (trainer.js) sits beside it.
  const SCRIPT_SRC = document.currentScript ? document.currentScript.src : null;

  const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"];
  const SVG_NS = "http://www.w3.org/2000/svg";
  // Figures never shrink below this width (their 11 px labels stay at least 9 px
  // tall); on a narrower screen, a phone's, the figure scrolls sideways instead.
  const MIN_FIGURE_WIDTH = 600;
  const STYLE = `
  .nnx { font: 14px/1.4 system-ui, sans-serif; margin: 0.5em 0 1em; contain: content; }
  .nnx-controls { display: flex; flex-wrap: wrap; gap: 0.4em 1.4em; margin-bottom: 0.4em; }
  .nnx-control { display: flex; align-items: center; gap: 0.4em; }
  .nnx [hidden] { display: none !important; }
  .nnx-control input[type=range] { width: 9em; }
  .nnx-control output { min-width: 3.5em; font-variant-numeric: tabular-nums; }
  .nnx svg { width: 100%; height: auto; display: block; }
  .nnx-figure { overflow-x: auto; }
  .nnx-figure svg { min-width: ${MIN_FIGURE_WIDTH}px; }
  .nnx svg text { font: 11px system-ui, sans-serif; fill: currentColor; }
  .nnx-readout { font-variant-numeric: tabular-nums; margin: 0.3em 0; }
  .nnx-legend { font-size: 12px; opacity: 0.85; }
  `;

  let uniqueId = 0;

  function el(tag, attrs = {}, parent = null, text = null) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    if (text !== null) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function svgEl(tag, attrs = {}, parent = null, text = null) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    if (text !== null) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function linear([d0, d1], [r0, r1]) {
    return (v) => r0 + ((v - d0) * (r1 - r0)) / (d1 - d0);
  }

  function fmt(value, digits = 3) {
    if (value === null || value === undefined || Number.isNaN(value)) return "–";
    return Math.abs(value) >= 1000 || (Math.abs(value) < 0.001 && value !== 0)
      ? value.toExponential(1)
      : Number(value.toPrecision(digits)).toString();
  }

  // A line through (xs[i], ys[i]) as an SVG path, clipped by its panel's clipPath.
  function pathData(xs, ys, sx, sy) {
    return xs.map((x, i) => `${i ? "L" : "M"}${sx(x).toFixed(1)},${sy(ys[i]).toFixed(1)}`).join("");
  }

  // One plot panel: a frame, ticks, axis labels, and a clipped group to draw in.
  function panel(svg, box, xDomain, yDomain, xLabel, yLabel, xTicks, yTicks) {
    const [x0, y0, w, h] = box;
    const sx = linear(xDomain, [x0, x0 + w]);
    const sy = linear(yDomain, [y0 + h, y0]);
    const clipId = `nnx-clip-${++uniqueId}`;
    const clip = svgEl("clipPath", { id: clipId }, svgEl("defs", {}, svg));
    svgEl("rect", { x: x0, y: y0, width: w, height: h }, clip);
    const axes = svgEl("g", { "aria-hidden": "true" }, svg);
    svgEl("rect", { x: x0, y: y0, width: w, height: h, fill: "none", stroke: "#999" }, axes);
    for (const t of xTicks) {
      svgEl("line", { x1: sx(t), x2: sx(t), y1: y0 + h, y2: y0 + h + 4, stroke: "#999" }, axes);
      svgEl("text", { x: sx(t), y: y0 + h + 15, "text-anchor": "middle" }, axes, String(t));
    }
    for (const t of yTicks) {
      svgEl("line", { x1: x0 - 4, x2: x0, y1: sy(t), y2: sy(t), stroke: "#999" }, axes);
      svgEl("text", { x: x0 - 6, y: sy(t) + 4, "text-anchor": "end" }, axes, String(t));
    }
    svgEl("text", { x: x0 + w / 2, y: y0 + h + 30, "text-anchor": "middle" }, axes, xLabel);
    svgEl("text", { x: x0 - 32, y: y0 + h / 2, "text-anchor": "middle",
      transform: `rotate(-90 ${x0 - 32} ${y0 + h / 2})` }, axes, yLabel);
    const plot = svgEl("g", { "clip-path": `url(#${clipId})` }, svg);
    return { sx, sy, plot, box };
  }

  function figure(root, width, height) {
    // The scroller is focusable so that keyboard users can scroll it on a phone.
    const scroller = el("div", { class: "nnx-figure", tabindex: "0", role: "region" }, root);
    const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" }, scroller);
    const title = svgEl("title", { id: `nnx-title-${++uniqueId}` }, svg);
    svg.setAttribute("aria-labelledby", title.id);
    scroller.setAttribute("aria-labelledby", title.id);
    return { svg, title };
  }

  // A labelled form control bound to one model trait: a slider over a list of
  // numbers (its position is the index, so every step is one allowed value), or a
  // select for a list of names. `options` may be a function when the list depends
  // on another control; an empty list hides the control. Returns a function that
  // re-reads the trait.
  function control(parent, model, { name, label, options, format = String, onChange }) {
    const box = el("div", { class: "nnx-control" }, parent);
    const id = `nnx-control-${++uniqueId}`;
    el("label", { for: id }, box, label);
    const values = () => (typeof options === "function" ? options() : options);
    let input;
    const names = values();
    if (names.length > 0 && names.every((v) => typeof v === "string")) {
      input = el("select", { id, name }, box);
      for (const v of values()) el("option", { value: v }, input, format(v));
    } else {
      input = el("input", { id, name, type: "range", min: 0, step: 1 }, box);
    }
    // A slider shows its value as text beside it; a select shows it already.
    const out = input.tagName === "SELECT" ? el("span", {}, box) : el("output", { for: id }, box);
    const sync = () => {
      const list = values();
      const value = model.get(name);
      const enabled = list.length > 0;
      box.hidden = !enabled;
      out.textContent = enabled && input.tagName !== "SELECT" ? format(value) : "";
      if (input.tagName === "SELECT") {
        input.value = value;
      } else {
        input.max = Math.max(list.length - 1, 0);
        input.value = Math.max(list.indexOf(value), 0);
        input.setAttribute("aria-valuetext", format(value));
      }
    };
    input.addEventListener("input", () => {
      const list = values();
      const value = input.tagName === "SELECT" ? input.value : list[Number(input.value)];
      model.set(name, value);
      if (onChange) onChange(value);
      model.save_changes();
    });
    model.on(`change:${name}`, sync);
    sync();
    return sync;
  }

  function lossPanel(svg, box, epochs, [lo, hi]) {
    const ticks = [];
    for (let t = lo; t <= hi; t += 1) ticks.push(t);
    const p = panel(svg, box, [0, epochs], [lo, hi], "epoch", "training loss (log10)", [0, epochs], ticks);
    const line = svgEl("path", { fill: "none", stroke: PALETTE[2], "stroke-width": 2 }, p.plot);
    return (fit) => {
      const ys = (fit.log10_loss || []).map((v) => Math.max(lo, Math.min(hi, v)));
      line.setAttribute("d", ys.length ? pathData(fit.loss_epochs, ys, p.sx, p.sy) : "");
    };
  }

  const LABELS = {
    relu: "ReLU", leaky_relu: "leaky ReLU", elu: "ELU", swish: "swish", tanh: "tanh",
    sigmoid: "sigmoid", softplus: "softplus",
  };
  const nameOf = (v) => LABELS[v] || v;
  // "1 kink", "2 kinks": a count and its noun in the right number.
  const count = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
  // The setting a fit belongs to: it names it (fit.settings), so that readouts describe
  // the fit on screen even while the controls have already moved on to another one.
  const settingOf = (model, fit) => (name) => (fit.settings && name in fit.settings ? fit.settings[name] : model.get(name));
  const KINKED = new Set(["relu", "leaky_relu"]);  // activations whose units bend at a point

  function renderHiddenUnits(model, root) {
    const controls = el("div", { class: "nnx-controls" }, root);
    const opts = model.get("options");
    control(controls, model, { name: "units", label: "Hidden units per layer", options: opts.units });
    control(controls, model, { name: "layers", label: "Hidden layers", options: opts.layers });
    control(controls, model, { name: "activation", label: "Activation", options: opts.activation, format: nameOf });
    control(controls, model, { name: "seed", label: "Random seed", options: opts.seed });

    const { svg, title } = figure(root, 720, 290);
    const data = model.get("data");
    const fitPanel = panel(svg, [50, 10, 420, 235], [-10, 10], [-8, 10], "x", "y", [-10, -5, 0, 5, 10], [-5, 0, 5, 10]);
    const { sx, sy, plot } = fitPanel;
    const hinges = svgEl("g", { stroke: PALETTE[4], "stroke-width": 1, "stroke-dasharray": "2 3" }, plot);
    for (const [i, x] of data.x_train.entries()) {
      svgEl("circle", { cx: sx(x), cy: sy(data.y_train[i]), r: 2.5, fill: PALETTE[7], "fill-opacity": 0.45 }, plot);
    }
    svgEl("path", { d: pathData(data.x, data.y_true, sx, sy), fill: "none", stroke: PALETTE[1],
      "stroke-width": 2, "stroke-dasharray": "6 4" }, plot);
    const fitLine = svgEl("path", { fill: "none", stroke: PALETTE[0], "stroke-width": 2.5 }, plot);
    const drawLoss = lossPanel(svg, [560, 10, 150, 235], 600, [-3, 2]);
    el("p", { class: "nnx-legend" }, root,
      "Grey dots: the 64 training points. Orange dashes: the target y = x·sin(x). Blue line: the network's fit. " +
      "Pink dotted lines (one hidden layer only): where each unit's input w·x/10 + b crosses zero, x = −10·b/w: " +
      "its kink for ReLU and leaky ReLU, the middle of its bend for the smooth activations. Right: the training loss.");
    const readout = el("p", { class: "nnx-readout", "aria-live": "polite" }, root);

    // Draws `fit` (default: the model's): the curve, loss, readout and title all from it.
    const draw = (fit = model.get("fit")) => {
      if (!fit || !fit.y) {
        readout.textContent = title.textContent = (fit && fit.error) || "No fit for these settings.";
        return;
      }
      const setting = settingOf(model, fit);
      const units = setting("units");
      const layers = setting("layers");
      const activation = nameOf(setting("activation"));
      fitLine.setAttribute("d", pathData(data.x, fit.y, sx, sy));
      hinges.replaceChildren(...fit.hinges.map((x) => svgEl("line", { x1: sx(x), x2: sx(x), y1: 10, y2: 245 })));
      drawLoss(fit);
      const shape = Array(layers).fill(units).join("-");
      const status = (fit.epoch < fit.epochs ? `training, epoch ${fit.epoch} of ${fit.epochs}` : `after ${fit.epochs} epochs`) +
        (fit.in_page ? " in this page" : "");
      readout.textContent =
        `Network 1-${shape}-1 (${activation}, seed ${setting("seed")}): ${count(fit.params, "parameter")}; ` +
        `train MSE ${fmt(fit.train_mse)}, test MSE ${fmt(fit.test_mse)}, ${status}` +
        (layers === 1 ? `; ${count(fit.hinges.length, KINKED.has(setting("activation")) ? "kink" : "bend")} in view.` : ".");
      title.textContent =
        `Fit of y = x sin(x) by a network with ${count(layers, "hidden layer")} of ${count(units, `${activation} unit`)} ` +
        `(seed ${setting("seed")}), ` +
        `${status}: test mean squared error ${fmt(fit.test_mse)}.`;
    };
    const training = model.static && SCRIPT_SRC ? trainInPage(model, root, draw) : null;
    model.on("change:fit", () => {
      if (training) training.discard();
      draw();
    });
    draw();
  }

  // Include a classic script that sits beside this one (relative to explorers.js), once.
  const included = {};
  function includeBeside(path) {
    return included[path] || (included[path] = new Promise((resolve, reject) => {
      const script = el("script", { src: new URL(path, SCRIPT_SRC).href });
      script.onload = resolve;
      script.onerror = () => reject(new Error(`could not load ${path}`));
      document.head.appendChild(script);
    }));
  }

  // The static page's own training (trainer.js): play/pause, one step, reset and speed.
  // The precomputed fit stays the first frame; a run starts from the weights nnlib
  // draws for the setting and each frame draws one snapshot of it, so the curve and
  // the readout always show the same state. Returns { discard } for a new setting.
  function trainInPage(model, root, draw) {
    const box = el("div", { class: "nnx-controls", role: "group", "aria-label": "Train this network in the page" }, root);
    const play = el("button", { type: "button", "aria-pressed": "false", disabled: "" }, box, "Train in the page");
    const step = el("button", { type: "button", disabled: "" }, box, "Step one epoch");
    const reset = el("button", { type: "button", disabled: "" }, box, "Reset to the start");
    const speedBox = el("div", { class: "nnx-control" }, box);
    const speedId = `nnx-control-${++uniqueId}`;
    el("label", { for: speedId }, speedBox, "Epochs per frame");
    // A number field, not a slider: changing the speed changes no picture.
    const speed = el("input", { id: speedId, name: "epochs_per_frame", type: "number", min: 1, max: 50, step: 1,
      value: 2, inputmode: "numeric", style: "width: 4em" }, speedBox);
    const epochsPerFrame = () => Math.min(50, Math.max(1, Math.round(Number(speed.value)) || 1));
    const status = el("p", { class: "nnx-legend nnx-train-status" }, root,
      "Shown: the fit precomputed with nnlib. Loading the in-page trainer…");
    let run = null, frame = null;
    const setting = () => Object.fromEntries(["units", "layers", "activation", "seed"].map((name) => [name, model.get(name)]));
    const show = () => {
      draw(run.snapshot());
      status.textContent = `Shown: this page's own training run from nnlib's starting weights, epoch ${run.epoch}.`;
    };
    const pause = () => {
      if (frame !== null) cancelAnimationFrame(frame);
      frame = null;
      play.setAttribute("aria-pressed", "false");
      play.textContent = "Train in the page";
    };
    const start = () => (run = globalThis.nnTrainer.createRun(setting()));
    const guarded = (action) => () => {
      try {
        action();
      } catch (error) {
        pause();
        status.textContent = `In-page training stopped: ${error.message}.`;
      }
    };
    const tick = guarded(() => {
      for (let i = 0, count = epochsPerFrame(); i < count && !run.done(); i += 1) run.step();
      show();
      if (run.done()) pause();
      else frame = requestAnimationFrame(tick);
    });
    play.addEventListener("click", guarded(() => {
      if (frame !== null) return pause();
      if (!run || run.done()) start();
      play.setAttribute("aria-pressed", "true");
      play.textContent = "Pause";
      frame = requestAnimationFrame(tick);
    }));
    step.addEventListener("click", guarded(() => {
      pause();
      if (!run) start();
      if (!run.done()) run.step();
      show();
    }));
    reset.addEventListener("click", guarded(() => {
      pause();
      start();
      show();
    }));
    Promise.all([includeBeside("trainer.js"), includeBeside("explorers-data/hidden_units_init.js")]).then(() => {
      for (const button of [play, step, reset]) button.removeAttribute("disabled");
      status.textContent = "Shown: the fit precomputed with nnlib. Train in the page to watch it learn from the start.";
    }, (error) => {
      status.textContent = `In-page training is unavailable (${error.message}); the precomputed fit is shown.`;
    });
    return {
      discard() {
        pause();
        run = null;
        status.textContent = "Shown: the fit precomputed with nnlib. Train in the page to watch it learn from the start.";
      },
    };
  }

  function renderActivation(model, root) {
    const controls = el("div", { class: "nnx-controls" }, root);
    const opts = model.get("options");
    control(controls, model, {
      name: "activation", label: "Activation", options: opts.activation, format: nameOf,
      // A new activation starts at its own parameter's default (none for most).
      onChange: (name) => model.set("param", name in opts.param_default ? opts.param_default[name] : null),
    });
    const syncParam = control(controls, model, {
      name: "param", label: "Parameter", options: () => opts.param[model.get("activation")] || [],
      format: (v) => `${opts.param_name[model.get("activation")] || ""} = ${v}`,
    });
    model.on("change:activation", syncParam);

    const { svg, title } = figure(root, 720, 290);
    const data = model.get("data");
    const group = svgEl("g", {}, svg);
    el("p", { class: "nnx-legend" }, root,
      `Blue line: f(z). Orange dashes: its derivative f′(z). Grey bands: where |f′(z)| < ${data.threshold}, ` +
      "the activation saturates and passes almost no gradient back.");
    const readout = el("p", { class: "nnx-readout", "aria-live": "polite" }, root);

    let scene = null;  // the current axes and the elements drawn in them
    const draw = () => {
      const fit = model.get("fit");
      if (!fit || !fit.f) {
        readout.textContent = title.textContent = "No curve for these settings.";
        return;
      }
      const z = data.z;
      // The y range follows the curves in steps of 0.5, with at least [-1, 1.5] so flat
      // ones stay readable; the axes are redrawn only when the range changes.
      const lo = Math.floor(2 * Math.min(-1, ...fit.f, ...fit.df)) / 2;
      const hi = Math.ceil(2 * Math.max(1.5, ...fit.f, ...fit.df)) / 2;
      if (!scene || scene.lo !== lo || scene.hi !== hi) {
        group.replaceChildren();
        const step = hi - lo > 8 ? 2 : 1;
        const ticks = [];
        for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) ticks.push(t);
        const p = panel(group, [50, 10, 650, 235], [z[0], z[z.length - 1]], [lo - 0.1, hi + 0.1], "z", "value",
          [-6, -4, -2, 0, 2, 4, 6], ticks);
        const bands = svgEl("g", { fill: "#000", "fill-opacity": 0.1 }, p.plot);
        svgEl("line", { x1: 50, x2: 700, y1: p.sy(0), y2: p.sy(0), stroke: "#bbb" }, p.plot);
        const df = svgEl("path", { fill: "none", stroke: PALETTE[1], "stroke-width": 2, "stroke-dasharray": "6 4" }, p.plot);
        const f = svgEl("path", { fill: "none", stroke: PALETTE[0], "stroke-width": 2.5 }, p.plot);
        scene = { lo, hi, p, bands, df, f };
      }
      const { p } = scene;
      const setting = settingOf(model, fit);
      const flatRuns = [];
      let start = null;
      fit.df.forEach((d, i) => {
        const flat = Math.abs(d) < data.threshold;
        if (flat && start === null) start = i;
        if (start !== null && (!flat || i === z.length - 1)) {
          flatRuns.push([start, flat ? i : i - 1]);
          start = null;
        }
      });
      const dz = z[1] - z[0];
      scene.bands.replaceChildren(...flatRuns.map(([first, last]) => svgEl("rect", {
        x: p.sx(z[first] - dz / 2), y: 10, width: p.sx(z[last] + dz / 2) - p.sx(z[first] - dz / 2), height: 235 })));
      scene.df.setAttribute("d", pathData(z, fit.df, p.sx, p.sy));
      scene.f.setAttribute("d", pathData(z, fit.f, p.sx, p.sy));
      const name = nameOf(setting("activation"));
      const param = opts.param_name[setting("activation")];
      const described = param ? `${name} with ${param} = ${setting("param")}` : name;
      const saturated = Math.round(100 * fit.saturated_fraction);
      readout.textContent =
        `${described}: f′(0) = ${fmt(fit.df_at_0)}, largest f′ = ${fmt(fit.df_max)}; ` +
        `saturated (|f′| < ${data.threshold}) on ${saturated}% of z in [−6, 6].`;
      title.textContent = `Plot of ${described} and its derivative for z from −6 to 6; ` +
        `the derivative is below ${data.threshold} on ${saturated}% of that range.`;
    };
    model.on("change:fit", draw);
    draw();
  }

  function renderRegularization(model, root) {
    const controls = el("div", { class: "nnx-controls" }, root);
    const opts = model.get("options");
    control(controls, model, { name: "l2", label: "L2 strength", options: opts.l2 });
    control(controls, model, { name: "drop_prob", label: "Drop probability", options: opts.drop_prob });
    control(controls, model, { name: "seed", label: "Random seed", options: opts.seed });

    const { svg, title } = figure(root, 720, 345);
    const data = model.get("data");
    const r = data.range;
    const p = panel(svg, [50, 10, 290, 290], [-r, r], [-r, r], "x1", "x2", [-1, 0, 1], [-1, 0, 1]);
    // The regions are one small image, a pixel per grid cell, stretched over the panel:
    // one image update per redraw instead of thousands of SVG elements.
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = data.grid;
    const context = canvas.getContext("2d");
    const pixels = context.createImageData(data.grid, data.grid);
    const regions = svgEl("image", { x: 50, y: 10, width: 290, height: 290, preserveAspectRatio: "none" }, p.plot);
    const rgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    const classColours = [rgb(PALETTE[0]), rgb(PALETTE[1])];
    // Class 0: blue circles; class 1: orange squares. Test points hollow.
    const marker = (x, y, label, parent, hollow) => {
      const common = hollow
        ? { fill: "none", stroke: PALETTE[label ? 3 : 0], "stroke-width": 1 }
        : { fill: PALETTE[label ? 1 : 0], stroke: "#fff", "stroke-width": 0.6 };
      if (label) svgEl("rect", { x: p.sx(x) - 3, y: p.sy(y) - 3, width: 6, height: 6, ...common }, parent);
      else svgEl("circle", { cx: p.sx(x), cy: p.sy(y), r: 3.4, ...common }, parent);
    };
    data.x_test.forEach(([x, y], i) => marker(x, y, data.y_test[i], p.plot, true));
    data.x_train.forEach(([x, y], i) => marker(x, y, data.y_train[i], p.plot, false));
    const drawLoss = lossPanel(svg, [420, 10, 280, 290], 1000, [-2, 1]);
    el("p", { class: "nnx-legend" }, root,
      "Left: the plane shaded by the class the network predicts (blue: class 0, orange: class 1; paler where it is " +
      "less sure). Filled markers: the 100 training points; hollow: the 300 test points. Right: the training loss.");
    const readout = el("p", { class: "nnx-readout", "aria-live": "polite" }, root);

    const draw = () => {
      const fit = model.get("fit");
      if (!fit || !fit.regions) {
        readout.textContent = title.textContent = (fit && fit.error) || "No fit for these settings.";
        return;
      }
      for (let i = 0; i < fit.regions.length; i += 1) {
        // The class colour mixed with white: strong where the network is sure, pale near 50%.
        const prob = (parseInt(fit.regions[i], 16) + 0.5) / 16;
        const colour = classColours[prob < 0.5 ? 0 : 1];
        const amount = 0.08 + 0.6 * Math.abs(prob - 0.5);
        for (let c = 0; c < 3; c += 1) pixels.data[4 * i + c] = Math.round(255 + amount * (colour[c] - 255));
        pixels.data[4 * i + 3] = 255;
      }
      context.putImageData(pixels, 0, 0);
      regions.setAttribute("href", canvas.toDataURL());
      drawLoss(fit);
      const gap = fit.train_accuracy - fit.test_accuracy;
      const status = fit.epoch < fit.epochs ? `training, epoch ${fit.epoch} of ${fit.epochs}` : `after ${fit.epochs} epochs`;
      const setting = settingOf(model, fit);
      const settings = `L2 strength ${setting("l2")}, drop probability ${setting("drop_prob")}, ` +
        `seed ${setting("seed")}`;
      readout.textContent =
        `${settings}: train accuracy ${(100 * fit.train_accuracy).toFixed(1)}%, ` +
        `test accuracy ${(100 * fit.test_accuracy).toFixed(1)}% (gap ${(100 * gap).toFixed(1)} points), ` +
        `weight norm ${fmt(fit.weight_norm)}, ${status}.`;
      title.textContent = `Decision regions of a 20-hidden-unit classifier on two noisy spirals with ${settings}: ` +
        `test accuracy ${(100 * fit.test_accuracy).toFixed(1)}%.`;
    };
    model.on("change:fit", draw);
    draw();
  }

  const RENDERERS = { hidden_units: renderHiddenUnits, activation: renderActivation, regularization: renderRegularization };

  function render({ model, el: host }) {
    if (!document.getElementById("nnx-style")) el("style", { id: "nnx-style" }, document.head, STYLE);
    const root = el("div", { class: "nnx" }, host);
    // Arrow keys belong to the controls: JupyterLab's notebook would otherwise take
    // them (and cancel the slider's step) on their way up.
    root.addEventListener("keydown", (event) => event.stopPropagation());
    RENDERERS[model.get("kind")](model, root);
    return () => root.remove();
  }


  // The static page's stand-in for a widget model: the anywidget model interface
  // (get, set, on, off, save_changes) over one precomputed JSON document (see
  // explorers/precompute.py). Saving changes to the controls looks up their fit.
  function createStaticModel(doc) {
    const decode = (fit) => {
      const out = { ...fit, settings: Object.fromEntries(doc.key.map((name) => [name, state[name]])) };
      for (const [name, scale] of Object.entries(doc.scale)) {
        if (name in out) out[name] = out[name].map((v) => v / scale);
      }
      return out;
    };
    const state = { ...doc.state, kind: doc.kind };
    state.fit = decode(state.fit);
    const listeners = new Map();
    const pending = new Set();
    const emit = (event) => (listeners.get(event) || []).slice().forEach((cb) => cb());
    return {
      static: true,  // no kernel: the hidden-units explorer may train in the page (trainInPage)
      get: (name) => state[name],
      set: (name, value) => {
        state[name] = value;
        pending.add(name);
      },
      on: (event, cb) => listeners.set(event, [...(listeners.get(event) || []), cb]),
      off: (event, cb) => listeners.set(event, (listeners.get(event) || []).filter((f) => f !== cb)),
      save_changes: () => {
        const names = [...pending];
        pending.clear();
        if (names.some((name) => doc.key.includes(name))) {
          const key = doc.key.map((name) => String(state[name])).join("|");
          state.fit = key in doc.fits ? decode(doc.fits[key]) : {};
          names.push("fit");
        }
        for (const name of names) emit(`change:${name}`);
      },
    };
  }

  // Explorers in scripts of their own (static/optimizer.js) add their renderer with register(kind, fn)
  // and draw with the same helpers.
  const register = (kind, renderer) => { RENDERERS[kind] = renderer; };
  const helpers = { PALETTE, el, svgEl, linear, fmt, pathData, panel, figure, control, lossPanel, count, settingOf };
  globalThis.nnExplorers = { render, createStaticModel, register, helpers };
})();
