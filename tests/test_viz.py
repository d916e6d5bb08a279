"""emolib.viz: the per-stage curves of a fine-tuning run."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from emolib.viz import plot_stage_curves  # noqa: E402

STAGES = [{"stage": 1, "val_loss": [1.5, 1.3, 1.4], "val_accuracy": [0.4, 0.5, 0.45], "best_epoch": 2},
          {"stage": 2, "val_loss": [1.2, 1.1], "val_accuracy": [0.55, 0.6], "best_epoch": 2}]


def test_stage_curves_number_epochs_across_stages():
    fig = plot_stage_curves(STAGES)
    loss_ax = fig.axes[0]
    stage2 = [line for line in loss_ax.lines if line.get_label() == "stage 2"][0]
    np.testing.assert_array_equal(stage2.get_xdata(), [4, 5])
    np.testing.assert_array_equal(stage2.get_ydata(), [1.2, 1.1])


def test_stage_curves_mark_where_stage_two_begins_and_each_best_epoch():
    fig = plot_stage_curves(STAGES)
    loss_ax = fig.axes[0]
    xs = [tuple(np.atleast_1d(line.get_xdata())) for line in loss_ax.lines]
    assert (3.5, 3.5) in xs                       # the dashed boundary
    assert (2,) in xs and (5,) in xs              # the rings on both best epochs
    assert [a.get_title() for a in fig.axes] == ["val loss", "val accuracy"]
