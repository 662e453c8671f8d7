"""Reward Landscape Explorer: train, audit and refine interactionless-IRL reward
models in 3D toy worlds (arXiv 2602.14844)."""
__version__ = "0.1.0"
