"""The live explorers: anywidgets that train with nnlib in the kernel while the browser draws.

The kernel never draws: it replaces the widget's ``fit`` trait (plain lists of
numbers) and static/explorers.js, the same script the website uses, redraws.
Training runs in a background thread so the kernel keeps answering the
controls: a new setting cancels the running fit (``report`` returns True) and
starts the new one; finished fits are cached per setting and shown at once
when the setting comes back.
"""
import threading
import time
from pathlib import Path

import anywidget
import traitlets

import nnlib

from . import fits
from . import optimization as optimizer_explorer

SCRIPT = Path(__file__).resolve().parent / "static" / "explorers.js"
# anywidget wants an ES module with a default export; the site's classic script
# defines the global nnExplorers, so the module is that script plus the export.
# Explorers with a script of their own (static/optimizer.js) follow it in the module.
OWN_SCRIPTS = [SCRIPT.with_name("optimizer.js")]
ESM = "\n".join(path.read_text(encoding="utf-8") for path in [SCRIPT, *OWN_SCRIPTS]) + "\nexport default { render: globalThis.nnExplorers.render };\n"
PUSH_INTERVAL = 0.05  # seconds between two redraws while training


class LiveExplorer(anywidget.AnyWidget):
    """Shared machinery: controls -> (cached or background) fit -> the ``fit`` trait.

    Subclasses declare their control traits (tagged ``control=True``), set
    ``kind`` and implement ``_run(settings, report)`` returning the final fit.
    A fit that diverges shows as ``{"error": message}``.
    """

    _esm = ESM
    kind = traitlets.Unicode().tag(sync=True)
    options = traitlets.Dict().tag(sync=True)
    data = traitlets.Dict().tag(sync=True)
    fit = traitlets.Dict().tag(sync=True)

    def __init__(self, **controls):
        super().__init__(**controls)
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._thread = None
        self._running = None
        self.cache = {}
        self.observe(self._on_control, names=self.trait_names(control=True))
        self._start()

    def settings(self):
        """The current values of the controls, as a dict."""
        return {name: getattr(self, name) for name in sorted(self.trait_names(control=True))}

    def _on_control(self, change):
        self._start()

    def _start(self):
        settings = self.settings()
        key = tuple(settings.items())
        with self._lock:
            if key == self._running:  # two controls changed in one message: one fit
                return
            self._cancel.set()
            self._running = key
            if key in self.cache:
                self.fit = self.cache[key]
                return
            cancel = self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._train, args=(settings, key, cancel), daemon=True)
        self._thread.start()

    def _train(self, settings, key, cancel):
        last_push = -float("inf")

        def report(epoch, snapshot):
            nonlocal last_push
            if cancel.is_set():
                return True
            now = time.monotonic()
            if now - last_push >= PUSH_INTERVAL:
                with self._lock:
                    if cancel.is_set():
                        return True
                    self.fit = {**snapshot(), "settings": settings}
                last_push = time.monotonic()
            return False

        try:
            result = self._run(settings, report)
        except nnlib.TrainingDiverged as error:
            result = {"error": f"training diverged: {error}"}
        if result is not None:
            # Each fit names the setting it belongs to: the browser describes the fit it
            # draws, not whatever the controls show by the time it arrives.
            result = {**result, "settings": settings}
        with self._lock:
            if result is not None and not cancel.is_set():
                self.cache[key] = result
                self.fit = result

    def wait(self, timeout=60.0):
        """Block until the current fit has finished (for scripts and tests); True if it did."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _run(self, settings, report):
        raise NotImplementedError


class HiddenUnitsExplorer(LiveExplorer):
    """Fit y = x sin(x) with a chosen width, depth, activation and seed (chapter 8)."""

    units = traitlets.Int(16).tag(sync=True, control=True)
    layers = traitlets.Int(1).tag(sync=True, control=True)
    activation = traitlets.Unicode("relu").tag(sync=True, control=True)
    seed = traitlets.Int(0).tag(sync=True, control=True)

    def __init__(self, **controls):
        # Live, any width from 1 to 64 is one slider step away.
        self._data = fits.curve_data()
        options = dict(fits.HIDDEN_UNITS_OPTIONS, units=list(range(1, 65)))
        shown = {name: self._data[name].round(3).tolist() for name in ("x_train", "y_train", "x", "y_true")}
        super().__init__(kind="hidden_units", options=options, data=shown, **controls)

    def _run(self, settings, report):
        return fits.run_hidden_units(report=report, data=self._data, **settings)


class ActivationExplorer(LiveExplorer):
    """An activation, its derivative and where it saturates, for a chosen parameter (chapter 2)."""

    activation = traitlets.Unicode("sigmoid").tag(sync=True, control=True)
    param = traitlets.Float(None, allow_none=True).tag(sync=True, control=True)

    def __init__(self, **controls):
        super().__init__(kind="activation", options=fits.activation_options(), data=fits.activation_data(),
                         **controls)

    def _run(self, settings, report):
        return fits.run_activation(settings["activation"], settings["param"])


class RegularizationExplorer(LiveExplorer):
    """A 20-hidden-unit classifier's decision regions under L2 and dropout (chapter 7)."""

    l2 = traitlets.Float(0.0).tag(sync=True, control=True)
    drop_prob = traitlets.Float(0.0).tag(sync=True, control=True)
    seed = traitlets.Int(0).tag(sync=True, control=True)

    def __init__(self, **controls):
        self._data = fits.classification_data()
        shown = {
            "x_train": self._data["x_train"].round(3).tolist(), "y_train": self._data["y_train"].tolist(),
            "x_test": self._data["x_test"].round(3).tolist(), "y_test": self._data["y_test"].tolist(),
            "range": fits.REGION_RANGE, "grid": fits.NUM_REGION,
        }
        super().__init__(kind="regularization", options=fits.REGULARIZATION_OPTIONS, data=shown, **controls)

    def _run(self, settings, report):
        return fits.run_regularization(report=report, data=self._data, **settings)


class OptimizerExplorer(LiveExplorer):
    """An optimizer and learning rate on the ravine (drawn by the browser) and the x·sin(x) fit (trained here)."""

    optimizer = traitlets.Unicode(optimizer_explorer.DEFAULTS["optimizer"]).tag(sync=True, control=True)
    lr = traitlets.Float(optimizer_explorer.DEFAULTS["lr"]).tag(sync=True, control=True)

    def __init__(self, **controls):
        self._data = fits.curve_data()
        super().__init__(kind="optimizer", options=optimizer_explorer.options(), data=optimizer_explorer.page_data(),
                         **controls)

    def _run(self, settings, report):
        return optimizer_explorer.run_fit(report=report, data=self._data, **settings)
