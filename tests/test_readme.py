"""The README's promises: two set-up commands at the top, and a Python tour that runs as printed."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_two_setup_commands_at_the_top() -> None:
    first_block = re.search(r"```bash\n(.*?)```", README, re.S)
    assert first_block is not None
    commands = [line for line in first_block.group(1).splitlines() if line.strip()]
    assert commands == ["pip install -e . && immunoreset demo", 'pip install -e ".[dev]" && python -m pytest']
    assert README.index("```bash") < README.index("## ")
    assert 'pip install -e ".[dev]" && python -m pytest' in (ROOT / ".ci" / "run").read_text()


def test_python_tour_runs_and_prints_what_it_says() -> None:
    block = re.search(r"```python\n(.*?)```", README, re.S)
    assert block is not None
    code = block.group(1)
    expected = [line[2:] for line in code.splitlines() if line.startswith("# ") and "(" in line]
    namespace: dict[str, object] = {}
    lines = code.splitlines()
    # Execute statements; evaluate the bare expressions the README shows the value of.
    shown: list[str] = []
    buffer: list[str] = []
    for line in lines:
        if line.startswith("#"):
            continue
        buffer.append(line)
        source = "\n".join(buffer)
        try:
            compiled = compile(source, "README", "eval")
        except SyntaxError:
            try:
                compiled = compile(source, "README", "exec")
            except SyntaxError:
                continue
            exec(compiled, namespace)
        else:
            shown.append(repr(eval(compiled, namespace)))
        buffer = []
    assert not buffer
    assert shown[0] == expected[0]
    assert shown[1] == "False"
