"""One plotting style for every figure of the course.

The palette is Okabe & Ito's, distinguishable with the common forms of colour
blindness; line styles differ too, so no figure relies on colour alone.
"""
import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
LINESTYLES = ["-", "--", "-.", ":"]
MARKERS = ["o", "s", "^", "D", "v", "P"]


def use_style():
    """Apply the course style to matplotlib (call once per notebook)."""
    mpl.rcParams.update({
        "axes.prop_cycle": mpl.cycler(color=PALETTE[:6]) + mpl.cycler(linestyle=LINESTYLES + LINESTYLES[:2]),
        "figure.figsize": (6.4, 3.6),
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": "medium",
        "legend.frameon": False,
        "font.size": 10,
        "svg.hashsalt": "nnlib",
    })


def plot_fit(ax, x, y, x_grid, y_grid, y_true=None, label="network"):
    """Training points, the true curve (optional) and a fitted curve on ``ax``.

    x, y : (N, 1) training points; x_grid, y_grid : (G, 1) the fit; y_true : (G, 1).
    """
    ax.scatter(np.ravel(x), np.ravel(y), s=10, color=PALETTE[7], alpha=0.5, label="training data")
    if y_true is not None:
        ax.plot(np.ravel(x_grid), np.ravel(y_true), color=PALETTE[1], linestyle="--", label="target")
    ax.plot(np.ravel(x_grid), np.ravel(y_grid), color=PALETTE[0], linestyle="-", lw=2, label=label)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(loc="best", fontsize="small")


def plot_loss(ax, losses, label=None, log=True):
    """A loss curve against the epoch (or step) number, log scale by default."""
    ax.plot(np.arange(1, len(losses) + 1), losses, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if log:
        ax.set_yscale("log")


def plot_decision_regions(ax, predict_classes, x, y, resolution=200, padding=0.5):
    """Shade the class each point of the plane gets, then draw the labelled points.

    predict_classes : callable mapping (G, 2) points to (G,) integer labels.
    x : (N, 2) points; y : (N,) integer labels.
    """
    lo, hi = x.min(axis=0) - padding, x.max(axis=0) + padding
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    labels = predict_classes(np.column_stack([g0.ravel(), g1.ravel()])).reshape(g0.shape)
    num_classes = int(max(labels.max(), y.max())) + 1
    cmap = mpl.colors.ListedColormap(PALETTE[:num_classes])
    ax.contourf(g0, g1, labels, levels=np.arange(num_classes + 1) - 0.5, cmap=cmap, alpha=0.25)
    for label in range(num_classes):
        mask = y == label
        ax.scatter(x[mask, 0], x[mask, 1], s=14, color=PALETTE[label], marker=MARKERS[label],
                   edgecolor="white", linewidth=0.4, label=f"class {label}")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.legend(loc="best", fontsize="small")


def figure(ncols=1, nrows=1, width=6.4, height=3.6, **kwargs):
    """A new figure in the course style with ``nrows`` x ``ncols`` axes."""
    use_style()
    return plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained", **kwargs)


# Training diagnostics, drawn from nnlib.callbacks (the capstone chapter).

def plot_update_ratios(ax, stats, target=1e-3):
    """Each layer's update-to-weight ratio against the step, from a ``callbacks.GradientStats``.

    Log scale, with a guide line at ``target`` (Karpathy's rule of thumb, 1e-3).
    """
    steps = np.arange(1, len(stats.update_ratios) + 1)
    for index, name in enumerate(stats.names):
        ax.plot(steps, stats.update_ratios[:, index], color=PALETTE[index],
                linestyle=LINESTYLES[index % len(LINESTYLES)], lw=1, label=name)
    ax.axhline(target, color=PALETTE[7], linestyle=":", label=f"{target:g}")
    ax.set_yscale("log")
    ax.set_xlabel("update step")
    ax.set_ylabel("update / weight norm")
    ax.legend(loc="best", fontsize="small")


def plot_histograms(axes, arrays, titles, xlabel, bins=40):
    """One histogram per axis: ``arrays[i]`` (any shape, flattened) on ``axes[i]``, titled ``titles[i]``."""
    for index, (ax, values, title) in enumerate(zip(axes, arrays, titles)):
        ax.hist(np.ravel(values), bins=bins, color=PALETTE[index % 6])
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
    axes[0].set_ylabel("count")


def plot_confusion_matrix(ax, counts):
    """A (C, C) confusion matrix (rows true class, columns predicted), every cell labelled with its count."""
    ax.imshow(counts, cmap="Blues")
    for (row, col), count in np.ndenumerate(counts):
        ax.text(col, row, str(count), ha="center", va="center", fontsize="small",
                color="white" if count > counts.max() / 2 else "black")
    ticks = np.arange(len(counts))
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.grid(False)


def show_images(axes, images, titles, shape=(8, 8)):
    """Draw each row of ``images`` (number of images, shape[0] * shape[1]) in grey on ``axes``, titled; spare axes are hidden."""
    axes = np.ravel(axes)
    for ax in axes:
        ax.set_axis_off()
    for ax, image, title in zip(axes, images, titles):
        ax.imshow(np.reshape(image, shape), cmap="gray_r")
        ax.set_title(title, fontsize="small")
