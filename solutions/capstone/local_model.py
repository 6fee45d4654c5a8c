"""The free tier: the kit's local classifier (``mock_llm.local_model``, shipped in the student kit too)."""

from mock_llm.local_model import (
    DATA,
    LABELS,
    LocalClassifier,
    Prediction,
    features,
    in_training_half,
    load_rows,
    trained,
)

__all__ = ["DATA", "LABELS", "LocalClassifier", "Prediction", "features", "in_training_half", "load_rows", "trained"]
