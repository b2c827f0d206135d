"""LLM-facing parts of alphaloop: providers, structured output and the strategy-code sandbox."""
