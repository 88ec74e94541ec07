"""`meshctl analyze`: Istio's analyzers over resources from files or the live mesh."""

from .analyzers import all_analyzers
from .analyzers.base import Analyzer
from .level import ERROR, INFO, WARNING, Level, parse_level
from .messages import Message, MessageType
from .runner import AnalysisRequest, Suppression, SuppressionError, analyze

__all__ = [
    "ERROR",
    "INFO",
    "WARNING",
    "AnalysisRequest",
    "Analyzer",
    "Level",
    "Message",
    "MessageType",
    "Suppression",
    "SuppressionError",
    "all_analyzers",
    "analyze",
    "parse_level",
]
