"""Writes of the governance app: model cards, evaluation reports and PII scans."""

from governance.services.cards import update_model_card

__all__ = ["update_model_card"]
