"""scripts/gradient_share.py: the token classes of a hand-written completion."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gradient_share.py"
spec = importlib.util.spec_from_file_location("gradient_share", SCRIPT)
gradient_share = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gradient_share)


def test_every_character_gets_its_class():
    text = "<think>\n3 +4 mod 10\n3+4=7\nAside: hcja\nResult: 7\n</think>\n3+4=7\n\\boxed{7}"
    classes = gradient_share.char_classes(text, "</think>\n")
    by_char = dict(zip(range(len(text)), classes, strict=True))
    think = len("<think>\n")
    restate, step = think, think + len("3 +4 mod 10\n")
    aside = step + len("3+4=7\n")
    result = aside + len("Aside: hcja\n")
    stop = text.index("</think>")
    assert [by_char[k] for k in (restate, step, aside, result, stop)] == ["line start"] * 5
    assert [by_char[step + k] for k in range(1, 6)] == ["other thinking"] * 3 + ["decisive", "other thinking"]
    assert [by_char[aside + 7 + k] for k in range(4)] == ["aside"] * 4
    assert set(classes[stop + 1 :]) == {"write-up"}  # the write-up's own steps are copies, not decisions
    assert set(classes[:think]) == {"other thinking"}
