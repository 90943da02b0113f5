"""RREDCoT: segment-level reward redistribution for RL fine-tuning of reasoning models.

``from rredcot import RREDCoTTrainer, RREDCoTConfig`` gives the drop-in replacement for TRL's ``GRPOTrainer``;
they are imported lazily so that the segmentation, value and redistribution functions load without TRL.
"""

__version__ = "0.1.0"
__all__ = ["RREDCoTConfig", "RREDCoTTrainer"]


def __getattr__(name: str):
    if name in __all__:
        from rredcot import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module 'rredcot' has no attribute {name!r}")
