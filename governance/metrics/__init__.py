"""Model-quality metrics computed with numpy alone (no scikit-learn at run time)."""

from governance.metrics.classification import accuracy, confusion_matrix, macro_f1, per_class_scores

__all__ = ["accuracy", "confusion_matrix", "macro_f1", "per_class_scores"]
