"""The README's promises: two set-up commands at the top, and a Python tour that runs as printed."""

from __future__ import annotations

import re
import sys
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


def _tour() -> str:
    block = re.search(r"### Command line\n.*?```bash\n(.*?)```", README, re.S)
    assert block is not None
    return block.group(1)


def test_every_command_line_tour_line_runs_as_written(tmp_path: Path) -> None:
    """The tour, run as printed from a folder that has the repository's examples/ (as the root has)."""
    import os
    import shutil
    import subprocess

    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    tour = _tour()
    # each command on its own: `set -e` stops at the first that fails, and the transcript shows which
    script = "set -euo pipefail\n" + tour
    env = {k: v for k, v in os.environ.items() if k not in {"IMMUNORESET_DATABASE_URL", "IMMUNORESET_USER"}}
    bindir = Path(sys.executable).parent
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=1200, env=env, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "my-trial" / "report.html").is_file()
    assert (tmp_path / "my-trial" / "redcap" / "export.csv").is_file()
    assert (tmp_path / "my-redcap-project" / "data_dictionary.csv").is_file()
    assert "15 patient(s) loaded" in done.stdout and "2 empty repeating instances skipped" in done.stdout
    assert "audit trail intact" in done.stdout
    assert (tmp_path / "sdtm" / "dm.xpt").is_file() and (tmp_path / "report.html").is_file()
    assert (tmp_path / "population.parquet").is_file()
