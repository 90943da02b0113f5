"""RREDCoT: segment-level reward redistribution for RL fine-tuning of reasoning models."""

__version__ = "0.1.0"
