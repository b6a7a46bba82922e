"""Qt-free interpretability: saliency, SmoothGrad, Grad-CAM, occlusion, top images per filter, t-SNE
embeddings, class models, DeepDream and fooling images, as functions of (network with its weights,
image); `methods.explain` runs any of them by name, `render` draws the result without Qt."""
