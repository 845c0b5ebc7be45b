"""Realised model quality once ground truth arrives: AUC, accuracy, precision, recall, and
what it means for the business (fraud amount caught vs fraud amount approved).

Pure functions over arrays of scores, labels and amounts; the label feed computes them over
a rolling window of labelled predictions and exports them as metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties averaged); NaN without both classes."""
    labels = np.asarray(labels).astype(bool)
    pos, neg = int(labels.sum()), int((~labels).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    # Average the ranks of tied scores, so ties count half.
    sorted_scores = np.asarray(scores)[order]
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    for start, count in zip(first, counts, strict=True):
        if count > 1:
            ranks[order[start : start + count]] = start + (count + 1) / 2
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


@dataclass(frozen=True)
class Quality:
    """Quality of a window of labelled predictions at one decision threshold."""

    n: int
    auc: float
    accuracy: float
    precision: float
    recall: float
    fraud_rate: float
    fraud_amount_caught: float  # share of the fraudulent amount the model flagged

    def to_json(self) -> dict[str, float]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in self.__dict__.items()}


def quality(
    scores: np.ndarray, labels: np.ndarray, amounts: np.ndarray, threshold: float
) -> Quality:
    """Every figure of :class:`Quality` for one window (NaN where undefined)."""
    scores, labels, amounts = (
        np.asarray(scores),
        np.asarray(labels).astype(bool),
        np.asarray(amounts),
    )
    flagged = scores >= threshold
    tp = int((flagged & labels).sum())
    nan = float("nan")
    fraud_amount = float(amounts[labels].sum())
    return Quality(
        n=len(scores),
        auc=auc(scores, labels),
        accuracy=float((flagged == labels).mean()) if len(scores) else nan,
        precision=tp / int(flagged.sum()) if flagged.any() else nan,
        recall=tp / int(labels.sum()) if labels.any() else nan,
        fraud_rate=float(labels.mean()) if len(scores) else nan,
        fraud_amount_caught=float(amounts[flagged & labels].sum()) / fraud_amount
        if fraud_amount
        else nan,
    )
