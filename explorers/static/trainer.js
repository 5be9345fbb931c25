// nnTrainer: the hidden-units explorer's networks trained in the page, in float64.
//
// A classic script (no ES modules, no fetch, so it runs from file:// too) that
// defines one global, nnTrainer. It mirrors nnlib operation for operation:
// Dense layers out = x W + b (nnlib/layers.py), the activations of
// nnlib/activations.py, the MSE loss of nnlib/losses.py, Adam with bias
// correction (nnlib/optim.py) under the cosine schedule (nnlib/schedules.py),
// and the recipe of explorers/fits.py's train_curve (nnlib.fit with
// solve_output=True): the output layer is set by least squares
// (nnlib.solve_output_layer) before the first step and after every step, and
// Adam trains the hidden layers only. Every number it uses (data, starting
// weights, learning rate, betas, ridge) comes from the data script
// explorers-data/hidden_units_init.js, written by explorers/trainer_data.py.
//
// Matrices are Float64Arrays in row-major order: X is (N, D), W is (D, M).

(function () {
  "use strict";
  if (globalThis.nnTrainer) return;

  // base64 of little-endian float64 bytes (trainer_data.pack) -> Float64Array.
  function unpack(text) {
    const bytes = atob(text);
    const view = new DataView(new ArrayBuffer(bytes.length));
    for (let i = 0; i < bytes.length; i += 1) view.setUint8(i, bytes.charCodeAt(i));
    const out = new Float64Array(bytes.length / 8);
    for (let i = 0; i < out.length; i += 1) out[i] = view.getFloat64(8 * i, true);
    return out;
  }

  // 1 / (1 + exp(-z)) without overflow, as nnlib's _sigmoid.
  function sigmoid(z) {
    const e = Math.exp(-Math.abs(z));
    return z >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
  }

  // Each activation's value f(z) and derivative f'(z), given its parameters.
  const ACTIVATIONS = {
    relu: () => [(z) => Math.max(z, 0.0), (z) => (z > 0 ? 1.0 : 0.0)],
    leaky_relu: ({ slope }) => [(z) => (z > 0 ? z : slope * z), (z) => (z > 0 ? 1.0 : slope)],
    elu: ({ alpha }) => [(z) => (z > 0 ? z : alpha * Math.expm1(Math.min(z, 0.0))),
      (z) => (z > 0 ? 1.0 : alpha * Math.exp(Math.min(z, 0.0)))],
    swish: ({ beta }) => [(z) => z * sigmoid(beta * z),
      (z) => { const bz = beta * z; return sigmoid(bz) * (1.0 + bz * sigmoid(-bz)); }],
    tanh: () => [(z) => Math.tanh(z), (z) => { const t = Math.tanh(z); return 1.0 - t * t; }],
    sigmoid: () => [sigmoid, (z) => sigmoid(z) * sigmoid(-z)],
  };

  function fail(name, received, expected) {
    throw new Error(`${name}: expected ${expected}, got ${received}`);
  }

  // A network [1, units x layers, 1] from its layers' (W, b) and an activation name.
  function createNetwork(sizes, activation, activationParams, weights) {
    if (!(activation in ACTIVATIONS)) fail("activation", JSON.stringify(activation), `one of ${Object.keys(ACTIVATIONS)}`);
    if (weights.length !== sizes.length - 1) fail("weights", `${weights.length} layers`, `${sizes.length - 1}`);
    const [f, df] = ACTIVATIONS[activation](activationParams || {});
    const layers = weights.map(([W, b], l) => {
      const fanIn = sizes[l], fanOut = sizes[l + 1];
      if (W.length !== fanIn * fanOut || b.length !== fanOut) {
        fail(`weights[${l}]`, `W of ${W.length} and b of ${b.length} numbers`, `${fanIn * fanOut} and ${fanOut}`);
      }
      return { fanIn, fanOut, W: Float64Array.from(W), b: Float64Array.from(b),
        dW: new Float64Array(fanIn * fanOut), db: new Float64Array(fanOut), input: null, z: null };
    });
    return { sizes, activation, f, df, layers };
  }

  // x: (N, D) -> output (N, 1); keeps each layer's input and pre-activation for backward.
  // Layers first..end-1 only, when given: from layer `first` on, starting at the input it
  // kept from the last pass; up to `end`, keeping what goes into layer `end`. keep = false
  // keeps nothing (a prediction that must not disturb the training state).
  function forward(net, x, n, first = 0, end = net.layers.length, keep = true) {
    let a = first === 0 ? x : net.layers[first].input;
    for (let l = first; l < end; l += 1) {
      const layer = net.layers[l];
      const { fanIn, fanOut, W, b } = layer;
      const z = new Float64Array(n * fanOut);
      for (let i = 0; i < n; i += 1) {
        for (let j = 0; j < fanOut; j += 1) {
          let s = 0.0;
          for (let k = 0; k < fanIn; k += 1) s += a[i * fanIn + k] * W[k * fanOut + j];
          z[i * fanOut + j] = s + b[j];
        }
      }
      if (keep) {
        layer.input = a;
        layer.z = z;
      }
      a = l < net.layers.length - 1 ? z.map(net.f) : z;
    }
    if (keep && end < net.layers.length) net.layers[end].input = a;
    return a;
  }

  // dout = dJ/d(output), (N, 1): fills every layer's dW = input^T dout, db = sum_n dout.
  function backward(net, dout, n) {
    for (let l = net.layers.length - 1; l >= 0; l -= 1) {
      const { fanIn, fanOut, W, dW, db, input } = net.layers[l];
      dW.fill(0.0);
      db.fill(0.0);
      for (let i = 0; i < n; i += 1) {
        for (let j = 0; j < fanOut; j += 1) {
          const g = dout[i * fanOut + j];
          db[j] += g;
          for (let k = 0; k < fanIn; k += 1) dW[k * fanOut + j] += input[i * fanIn + k] * g;
        }
      }
      if (l === 0) break;
      const below = net.layers[l - 1].z;
      const dx = new Float64Array(n * fanIn);
      for (let i = 0; i < n; i += 1) {
        for (let k = 0; k < fanIn; k += 1) {
          let s = 0.0;
          for (let j = 0; j < fanOut; j += 1) s += dout[i * fanOut + j] * W[k * fanOut + j];
          dx[i * fanIn + k] = s * net.df(below[i * fanIn + k]);
        }
      }
      dout = dx;
    }
  }

  // Mean squared error and its gradient 2 (y_hat - y) / N, as nnlib.losses.mse.
  function mse(yHat, y) {
    const grad = new Float64Array(y.length);
    let total = 0.0;
    for (let i = 0; i < y.length; i += 1) {
      const diff = yHat[i] - y[i];
      total += diff * diff;
      grad[i] = (2.0 * diff) / y.length;
    }
    return [total / y.length, grad];
  }

  // Solve A c = r (A square, n x n, row-major) by Gaussian elimination with partial pivoting.
  function solveLinear(A, r, n) {
    A = Float64Array.from(A);
    r = Float64Array.from(r);
    for (let col = 0; col < n; col += 1) {
      let pivot = col;
      for (let row = col + 1; row < n; row += 1) if (Math.abs(A[row * n + col]) > Math.abs(A[pivot * n + col])) pivot = row;
      if (pivot !== col) {
        for (let k = 0; k < n; k += 1) {
          const swap = A[col * n + k];
          A[col * n + k] = A[pivot * n + k];
          A[pivot * n + k] = swap;
        }
        const swap = r[col];
        r[col] = r[pivot];
        r[pivot] = swap;
      }
      for (let row = col + 1; row < n; row += 1) {
        const factor = A[row * n + col] / A[col * n + col];
        if (factor === 0) continue;
        for (let k = col; k < n; k += 1) A[row * n + k] -= factor * A[col * n + k];
        r[row] -= factor * r[col];
      }
    }
    for (let row = n - 1; row >= 0; row -= 1) {
      let s = r[row];
      for (let k = row + 1; k < n; k += 1) s -= A[row * n + k] * r[k];
      r[row] = s / A[row * n + row];
    }
    return r;
  }

  // nnlib.solve_output_layer: the last layer's W, b by least squares on the last hidden
  // layer's outputs, normal equations with a ridge of `ridge` x the mean squared feature
  // on W (not on b). Returns the training MSE after the solve.
  function solveOutputLayer(net, x, y, n, ridge) {
    forward(net, x, n, 0, net.layers.length - 1);
    const last = net.layers[net.layers.length - 1];
    const features = last.input;
    const h = last.fanIn, m = h + 1;
    // The design matrix [features, 1] stored by columns: column p is columns[p * n .. p * n + n).
    const columns = new Float64Array(m * n);
    for (let i = 0; i < n; i += 1) {
      for (let k = 0; k < h; k += 1) columns[k * n + i] = features[i * h + k];
      columns[h * n + i] = 1.0;
    }
    const gram = new Float64Array(m * m), rhs = new Float64Array(m);
    let trace = 0.0;
    for (let p = 0; p < m; p += 1) {
      for (let q = p; q < m; q += 1) {  // the Gram matrix is symmetric: each pair once
        let s = 0.0;
        for (let i = 0; i < n; i += 1) s += columns[p * n + i] * columns[q * n + i];
        gram[p * m + q] = gram[q * m + p] = s;
      }
      let s = 0.0;
      for (let i = 0; i < n; i += 1) s += columns[p * n + i] * y[i];
      rhs[p] = s;
      trace += gram[p * m + p];
    }
    const shift = ridge * Math.max(trace / m, 1e-300);
    for (let p = 0; p < h; p += 1) gram[p * m + p] += shift;
    const coef = solveLinear(gram, rhs, m);
    last.W.set(coef.subarray(0, h));
    last.b[0] = coef[h];
    let total = 0.0;
    for (let i = 0; i < n; i += 1) {
      let s = 0.0;
      for (let k = 0; k < m; k += 1) s += columns[k * n + i] * coef[k];
      total += (s - y[i]) * (s - y[i]);
    }
    return total / n;
  }

  // Adam (nnlib.optim.Adam, bias-corrected) over a list of { param, grad, m, v } at step t >= 1.
  function adamStep(slots, t, lr, { beta1, beta2, eps }) {
    const c1 = 1 - beta1 ** t, c2 = 1 - beta2 ** t;
    for (const { param, grad, m, v } of slots) {
      for (let i = 0; i < param.length; i += 1) {
        m[i] = m[i] * beta1 + (1 - beta1) * grad[i];
        v[i] = v[i] * beta2 + (1 - beta2) * grad[i] * grad[i];
        param[i] -= (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + eps);
      }
    }
  }

  // nnlib.schedules.cosine(total, final): the learning rate's factor at step t = 0, 1, ...
  function cosine(t, total, final) {
    return final + ((1 - final) * (1 + Math.cos((Math.PI * Math.min(t, total)) / total))) / 2;
  }

  // The shipped data script's document, decoded once.
  let decoded = null;
  function shipped() {
    const doc = (globalThis.nnExplorersData || {}).hidden_units_init;
    if (!doc) throw new Error("the data script explorers-data/hidden_units_init.js is not loaded");
    if (!decoded || decoded.doc !== doc) {
      const data = Object.fromEntries(Object.entries(doc.data).map(([name, text]) => [name, unpack(text)]));
      decoded = { doc, data, normals: {}, positions: {} };
    }
    return decoded;
  }

  // The starting weights nnlib draws for a setting (fits.curve_model), rebuilt from the
  // seed's normal draws: W = std * z (times the first layer's gain), b = -W * position.
  function initialWeights(units, layers, activation, seed) {
    const { doc, normals, positions } = shipped();
    const network = doc.networks[`${activation}|${layers}|${units}`];
    const positionKey = `${layers}|${units}|${seed}`;
    if (!network || !(positionKey in doc.positions) || !(String(seed) in doc.normals)) {
      fail("setting", JSON.stringify({ units, layers, activation, seed }), "a combination the explorer offers");
    }
    normals[seed] ||= unpack(doc.normals[String(seed)]);
    positions[positionKey] ||= unpack(doc.positions[positionKey]);
    const z = normals[seed], kinks = positions[positionKey];
    const sizes = [1, ...Array(layers).fill(units), 1];
    const weights = [];
    let offset = 0;
    for (let l = 0; l < sizes.length - 1; l += 1) {
      const count = sizes[l] * sizes[l + 1];
      let W = z.subarray(offset, offset + count).map((value) => network.std[l] * value);
      offset += count;
      let b = new Float64Array(sizes[l + 1]);
      if (l === 0) {
        W = W.map((value) => value * network.gain);
        b = W.map((value, j) => -value * kinks[j]);
      }
      weights.push([W, b]);
    }
    return { sizes, weights };
  }

  // One in-page training run of the recipe for a setting; .step() is one epoch.
  // solveOutput: false trains every layer by Adam and solves nothing (nnlib.fit without
  // solve_output), which the browser test uses to follow nnlib over many steps.
  function createRun({ units, layers, activation, seed }, { solveOutput = true } = {}) {
    const { doc, data } = shipped();
    const recipe = doc.recipe;
    const { sizes, weights } = initialWeights(units, layers, activation, seed);
    const net = createNetwork(sizes, activation, doc.activation_params[activation], weights);
    const scaled = (xs) => xs.map((v) => v / recipe.x_scale);
    const x = scaled(data.x_train), y = data.y_train, n = y.length;
    const trained = solveOutput ? net.layers.slice(0, -1) : net.layers;
    const slots = trained.flatMap((layer) => [[layer.W, layer.dW], [layer.b, layer.db]])
      .map(([param, grad]) => ({ param, grad, m: new Float64Array(param.length), v: new Float64Array(param.length) }));
    const losses = [];
    const solve = () => solveOutput && solveOutputLayer(net, x, y, n, recipe.ridge);
    solve();

    const predict = (xs) => forward(net, scaled(xs), xs.length, 0, net.layers.length, false);
    const error = (xs, ys) => mse(predict(xs), ys)[0];
    return {
      net,
      losses,
      get epoch() { return losses.length; },
      done: () => losses.length >= recipe.epochs,
      // One epoch: the cost at the current weights, Adam on the hidden layers, then the solve.
      step() {
        const t = losses.length;
        // After a solve the hidden layers' outputs on x are those the solve just computed.
        const [value, dout] = mse(forward(net, x, n, solveOutput ? net.layers.length - 1 : 0), y);
        if (!Number.isFinite(value)) throw new Error(`the loss became ${value} at epoch ${t + 1}`);
        backward(net, dout, n);
        adamStep(slots, t + 1, recipe.lr * cosine(t, recipe.epochs, recipe.cosine_final), recipe);
        solve();
        losses.push(value);
        return value;
      },
      predict,
      // What the explorer draws, in the form of a precomputed fit (fits.curve_snapshot).
      snapshot() {
        const first = net.layers[0];
        const hinges = layers === 1
          ? Array.from(first.b, (b, j) => recipe.x_scale * (-b / first.W[j]))
            .filter((k) => Number.isFinite(k) && k >= -10 && k <= 10).sort((a, b) => a - b)
          : [];
        return {
          y: Array.from(predict(data.x)),
          hinges,
          loss_epochs: losses.map((_, i) => i + 1),
          log10_loss: losses.map((v) => Math.log10(Math.max(v, 1e-6))),
          train_mse: error(data.x_train, data.y_train),
          test_mse: error(data.x_test, data.y_test),
          params: sizes.slice(1).reduce((total, size, l) => total + size * (sizes[l] + 1), 0),
          epoch: losses.length,
          epochs: recipe.epochs,
          settings: { units, layers, activation, seed },
          in_page: true,
        };
      },
    };
  }

  globalThis.nnTrainer = {
    unpack, createNetwork, forward, backward, mse, solveOutputLayer, adamStep, cosine, initialWeights, createRun,
  };
})();
