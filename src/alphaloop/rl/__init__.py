"""Reinforcement learning: gymnasium trading environments, rewards and agents.

Decisions are taken at bar ``t`` and filled at bar ``t + 1`` through the backtester's
cost and fill model, so an episode's equity is a backtest of the same target weights.
"""
