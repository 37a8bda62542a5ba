"""Local impression models: trained on the uploaded training file, no download needed.

Every model follows :class:`radimpress_training.models.base.ImpressionModel`; look them up by name
with :func:`get_model_class` and reload a saved one with :func:`load_model`.
"""

from radimpress_training.models.base import (
    DEFAULT_MODEL,
    ImpressionModel,
    TrainingPair,
    available_models,
    get_model_class,
    load_model,
    register,
)

__all__ = [
    "DEFAULT_MODEL",
    "ImpressionModel",
    "TrainingPair",
    "available_models",
    "get_model_class",
    "load_model",
    "register",
]
