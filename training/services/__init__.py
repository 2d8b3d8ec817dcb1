"""Writes of the training app. A run's status changes only here, under a row lock."""

from training.services.evaluation import evaluate_after_run, execute_evaluation, request_evaluation
from training.services.execution import CANCEL_POLL_SECONDS, ProgressRecorder, execute_run
from training.services.pools import create_pool, share_pool
from training.services.recovery import recover_stale_runs
from training.services.runs import (
    TransitionError,
    cancel_run,
    submit_run,
    transition,
    validate_hyperparameters,
)

__all__ = [
    "CANCEL_POLL_SECONDS",
    "ProgressRecorder",
    "TransitionError",
    "cancel_run",
    "create_pool",
    "evaluate_after_run",
    "execute_evaluation",
    "execute_run",
    "recover_stale_runs",
    "request_evaluation",
    "share_pool",
    "submit_run",
    "transition",
    "validate_hyperparameters",
]
