"""pyg_negdiff: diffusion-based and causal negative sampling for PyG recommenders."""
__version__ = "0.1.0"
