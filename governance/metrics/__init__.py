"""The scores' arithmetic, without Django: one module per quantity of the specification.

``classification`` (numpy only; the training engine imports it for validation metrics) is exported
here. ``fairness`` and ``calibration`` import fairlearn and scikit-learn, ``pii`` phonenumbers;
import them from their modules where they are needed so that the engine starts without them.
"""

from governance.metrics.classification import accuracy, confusion_matrix, macro_f1, per_class_scores

__all__ = ["accuracy", "confusion_matrix", "macro_f1", "per_class_scores"]
