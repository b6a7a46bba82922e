"""The Explain tab: look inside a trained network (saliency, Grad-CAM, occlusion, top images,
embedding, class models, DeepDream, fooling images)."""
from .tab import ExplainTab

__all__ = ["ExplainTab"]
