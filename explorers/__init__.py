"""Interactive explorers of "Neural Networks from the Neuron Up".

A chapter cell calls ``explorers.hidden_units()`` (or ``activation()``,
``regularization()``). In JupyterLab or Notebook that is a live widget training
with nnlib; everywhere else, notably when the book build executes the chapter,
it is an HTML snippet that the website runs with no kernel: a container and a
classic script that includes ``_static/explorers.js`` and the precomputed fits
``_static/explorers-data/<kind>.js`` (see precompute.py). Classic scripts, not
ES modules or ``fetch``, so that the site works served and opened from disk.
"""
import html
import itertools
import os

KINDS = ("hidden_units", "activation", "regularization", "optimizer")
TITLES = {
    "hidden_units": "Hidden-units explorer: fit y = x·sin(x)",
    "activation": "Activation explorer: a function, its derivative, where it saturates",
    "regularization": "Regularization explorer: L2 and dropout on a 20-unit classifier",
    "optimizer": "Optimizer explorer: learning rate and optimizer on a ravine and on the x·sin(x) fit",
}
# Explorers whose renderer lives in a script of its own, loaded after explorers.js.
OWN_SCRIPTS = {"optimizer": "_static/optimizer.js"}
_counter = itertools.count(1)


def in_live_jupyter():
    """True in a kernel that a Jupyter server started for a notebook (JupyterLab, Notebook, VS Code).

    Jupyter Server names each notebook kernel's session in JPY_SESSION_NAME; VS Code
    puts __vsc_ipynb_file__ in the user namespace. Kernels started by nbclient (the
    book build, nbconvert, nbval) have neither and get the website's static version.
    """
    if "JPY_SESSION_NAME" in os.environ:
        return True
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "__vsc_ipynb_file__" in shell.user_ns


class StaticExplorer:
    """The website's explorer: displays as HTML that draws precomputed fits, no kernel needed."""

    def __init__(self, kind):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.kind = kind
        self.element_id = f"nn-explorer-{kind}-{next(_counter)}"

    def _repr_html_(self):
        title = html.escape(TITLES[self.kind])
        own_script = f'include("{OWN_SCRIPTS[self.kind]}")' if self.kind in OWN_SCRIPTS else "null"
        # Pages are built from book/, so the site root is "../" from them; Sphinx also
        # states it on <html data-content_root>, which wins when present. Each script is
        # included once per page however many explorers it shows.
        return f"""<div id="{self.element_id}" class="nn-explorer" data-explorer="{self.kind}">
<noscript>{title}: needs JavaScript.</noscript>
</div>
<script>
(function () {{
  var host = document.getElementById("{self.element_id}");
  var root = document.documentElement.dataset.content_root || "../";
  var loads = window.nnExplorersLoads || (window.nnExplorersLoads = {{}});
  function include(src) {{
    return loads[src] || (loads[src] = new Promise(function (resolve, reject) {{
      var script = document.createElement("script");
      script.src = root + src;
      script.onload = resolve;
      script.onerror = function () {{ reject(new Error("could not load " + src)); }};
      document.head.appendChild(script);
    }}));
  }}
  Promise.all([include("_static/explorers.js"), include("_static/explorers-data/{self.kind}.js")])
    .then(function () {{ return {own_script}; }})
    .then(function () {{
      var data = window.nnExplorersData["{self.kind}"];
      window.nnExplorers.render({{ model: window.nnExplorers.createStaticModel(data), el: host }});
    }})
    .catch(function (error) {{
      host.setAttribute("role", "alert");
      host.textContent = "{title} cannot be shown: " + error.message +
        ". The site's _static folder may be incomplete; rebuild it with make book.";
    }});
}})();
</script>"""

    def __repr__(self):
        return f"{TITLES[self.kind]} (interactive on the website and in JupyterLab)"


def _explorer(kind, live, controls):
    if live is None:
        live = in_live_jupyter()
    if not live:
        if controls:
            raise ValueError("initial control values need the live explorer: pass live=True")
        return StaticExplorer(kind)
    from . import widgets

    cls = {"hidden_units": widgets.HiddenUnitsExplorer, "activation": widgets.ActivationExplorer,
           "regularization": widgets.RegularizationExplorer, "optimizer": widgets.OptimizerExplorer}[kind]
    return cls(**controls)


def hidden_units(live=None, **controls):
    """The hidden-units explorer (chapter 8): width, depth, activation and seed vs the fit of x sin(x).

    live : None (decide from the environment), True (a widget training in this
        kernel) or False (the website's static version).
    controls : initial values for the live widget, e.g. ``units=16, layers=2``.
    """
    return _explorer("hidden_units", live, controls)


def activation(live=None, **controls):
    """The activation explorer (chapter 2): ``activation`` and its ``param`` (slope, alpha or beta)."""
    return _explorer("activation", live, controls)


def regularization(live=None, **controls):
    """The regularization explorer (chapter 7): ``l2``, ``drop_prob`` and ``seed`` vs decision regions."""
    return _explorer("regularization", live, controls)


def optimizer(live=None, **controls):
    """The optimizer explorer (optimization chapter): ``optimizer`` and ``lr`` on the ravine and the x·sin(x) fit."""
    return _explorer("optimizer", live, controls)
