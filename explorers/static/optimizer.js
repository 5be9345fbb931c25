// The optimizer explorer: a learning rate and an optimizer, on the ravine and on the x·sin(x) fit.
//
// A classic script loaded after explorers.js (whose helpers it uses; it registers the
// renderer for the kind "optimizer"). The ravine's trajectory is computed here, in the
// page, by the same updates as nnlib.optim, with every number (curvatures, start, steps,
// hyperparameters) taken from the model's `data` (explorers/optimization.py). The x·sin(x)
// loss curve is the model's `fit`: precomputed for the website, trained live in Jupyter.
// globalThis.nnOptimizer.trajectory is what the drawing uses; the browser test compares it
// with nnlib's trajectory.

(function () {
  "use strict";
  if (globalThis.nnOptimizer) return;

  // The path of optimizer `name` at learning rate `lr` on the ravine, [[w1, w2], ...], steps + 1 points.
  // Each update does the operations of nnlib.optim in the same order, so both round alike.
  function trajectory(data, name, lr, steps = data.ravine.steps) {
    const { curvatures, start } = data.ravine;
    const h = data.hyper;
    const w = start.slice();
    const a = [0, 0];  // velocity, mean square or first moment
    const b = [0, 0];  // second moment
    const path = [w.slice()];
    for (let t = 1; t <= steps; t += 1) {
      const g = [curvatures[0] * w[0], curvatures[1] * w[1]];
      if (name === "adamw") {
        const shrink = 1 - lr * h.weight_decay;
        for (let i = 0; i < 2; i += 1) w[i] = w[i] * shrink;
      }
      for (let i = 0; i < 2; i += 1) {
        if (name === "sgd") {
          w[i] = w[i] - lr * g[i];
        } else if (name === "momentum" || name === "nesterov") {
          a[i] = a[i] * h.momentum;
          a[i] = a[i] - lr * g[i];
          w[i] = name === "nesterov" ? w[i] + (h.momentum * a[i] - lr * g[i]) : w[i] + a[i];
        } else if (name === "rmsprop") {
          a[i] = a[i] * h.rho;
          a[i] = a[i] + (1 - h.rho) * g[i] * g[i];
          w[i] = w[i] - (lr * g[i]) / (Math.sqrt(a[i]) + h.eps);
        } else if (name === "adam" || name === "adamw") {
          a[i] = a[i] * h.beta1;
          a[i] = a[i] + (1 - h.beta1) * g[i];
          b[i] = b[i] * h.beta2;
          b[i] = b[i] + (1 - h.beta2) * g[i] * g[i];
          w[i] = w[i] - (lr * (a[i] / (1 - h.beta1 ** t))) / (Math.sqrt(b[i] / (1 - h.beta2 ** t)) + h.eps);
        } else {
          throw new Error(`optimizer must be one of sgd, momentum, nesterov, rmsprop, adam, adamw, got ${name}`);
        }
      }
      path.push(w.slice());
    }
    return path;
  }

  function renderOptimizer(model, root) {
    const { PALETTE, el, svgEl, fmt, panel, figure, control, lossPanel, count, settingOf } = globalThis.nnExplorers.helpers;
    const opts = model.get("options");
    const data = model.get("data");
    const label = (name) => opts.labels[name] || name;
    const controls = el("div", { class: "nnx-controls" }, root);
    control(controls, model, { name: "optimizer", label: "Optimizer", options: opts.optimizer, format: label });
    control(controls, model, { name: "lr", label: "Learning rate", options: opts.lr });

    const { svg, title } = figure(root, 720, 290);
    const [x0, x1, y0, y1] = data.ravine.view;
    const ravine = panel(svg, [50, 10, 440, 235], [x0, x1], [y0, y1], "w1 (flat, curvature " +
      data.ravine.curvatures[0] + ")", "w2 (steep)", [-8, -6, -4, -2, 0, 2, 4], [-1, 0, 1]);
    const { sx, sy, plot } = ravine;
    const [c1, c2] = data.ravine.curvatures;
    // The cost's contours are ellipses: J = c where w1 = sqrt(2c / c1) cos θ, w2 = sqrt(2c / c2) sin θ.
    for (const level of data.ravine.levels) {
      svgEl("ellipse", { cx: sx(0), cy: sy(0), rx: Math.sqrt((2 * level) / c1) * (sx(1) - sx(0)),
        ry: Math.sqrt((2 * level) / c2) * (sy(0) - sy(1)), fill: "none", stroke: "#999", "stroke-width": 0.8 }, plot);
    }
    svgEl("path", { d: `M${sx(0) - 5},${sy(0)}h10M${sx(0)},${sy(0) - 5}v10`, stroke: "currentColor", "stroke-width": 2 }, plot);
    const pathLine = svgEl("path", { fill: "none", stroke: PALETTE[0], "stroke-width": 1.5 }, plot);
    const dots = svgEl("g", { fill: PALETTE[0] }, plot);
    const drawLoss = lossPanel(svg, [555, 10, 140, 235], data.fit_epochs, [-1, 2]);
    el("p", { class: "nnx-legend" }, root,
      `Left: the ravine J(w) = (${c1}·w1² + ${c2}·w2²)/2, its contours in grey, the minimum marked +, and ` +
      `the optimizer's first ${data.ravine.steps} steps from (${data.ravine.start.join(", ")}), computed in ` +
      `this page. Right: the training loss of a 1-${data.fit_units}-1 ReLU network fitting y = x·sin(x) with the ` +
      "same optimizer and learning rate, full batch.");
    const readout = el("p", { class: "nnx-readout", "aria-live": "polite" }, root);

    // Pixels of a point, kept finite and near the panel so that a diverging path still draws.
    const clampPx = (v) => Math.max(-2000, Math.min(3000, v));
    const draw = () => {
      const name = model.get("optimizer");
      const lr = model.get("lr");
      const path = trajectory(data, name, lr);
      const finite = path.filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b));
      const px = finite.map(([a, b]) => [clampPx(sx(a)), clampPx(sy(b))]);
      pathLine.setAttribute("d", px.map(([a, b], i) => `${i ? "L" : "M"}${a.toFixed(1)},${b.toFixed(1)}`).join(""));
      dots.replaceChildren(...px.map(([a, b]) => svgEl("circle", { cx: a.toFixed(1), cy: b.toFixed(1), r: 1.8 })));
      const [w1, w2] = path[path.length - 1];
      const steps = count(path.length - 1, "step");
      const diverged = !(Number.isFinite(w1) && Number.isFinite(w2)) || Math.hypot(w1, w2) > 1e6;
      const ravineText = diverged
        ? `on the ravine it diverges within ${steps}`
        : `on the ravine, after ${steps}, it is ${fmt(Math.hypot(w1, w2))} from the minimum (cost ${fmt(0.5 * (c1 * w1 * w1 + c2 * w2 * w2))})`;

      const fit = model.get("fit") || {};
      let fitText = "no x·sin(x) fit for these settings";
      if (fit.error) fitText = fit.error;
      else if (fit.log10_loss) {
        drawLoss(fit);
        const setting = settingOf(model, fit);
        const who = `${label(setting("optimizer"))}, learning rate ${setting("lr")}`;
        if (fit.diverged_at) fitText = `the x·sin(x) fit (${who}) diverges at epoch ${fit.diverged_at}`;
        else if (fit.epoch < fit.epochs) fitText = `the x·sin(x) fit (${who}) is training, epoch ${fit.epoch} of ${fit.epochs}`;
        else fitText = `the x·sin(x) fit (${who}) reaches train MSE ${fmt(fit.train_mse)} after ${count(fit.epochs, "epoch")}`;
      }
      const named = label(name);
      readout.textContent = `${named[0].toUpperCase()}${named.slice(1)}, learning rate ${lr}: ${ravineText}; ${fitText}.`;
      title.textContent = `Path of ${label(name)} at learning rate ${lr} on an elongated quadratic valley: ` +
        `${ravineText}. Beside it, the training loss curve: ${fitText}.`;
    };
    model.on("change:fit", draw);
    model.on("change:optimizer", draw);
    model.on("change:lr", draw);
    draw();
  }

  globalThis.nnOptimizer = { trajectory };
  globalThis.nnExplorers.register("optimizer", renderOptimizer);
})();
