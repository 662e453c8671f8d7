"""Policies that consume a reward: value iteration, gradient ascent, the runtime
gate, Gymnasium environments (``explorer/Cube-v0`` ...) and a PPO agent."""
from explorer.policy import registration  # noqa: F401  (registers the explorer/* Gymnasium ids)
