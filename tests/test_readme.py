"""The README's scripting example runs as written (CI keeps the README true)."""
from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_scripting_example_runs(tmp_path, monkeypatch):
    text = README.read_text(encoding="utf-8")
    section = text.split("## Scripting from Python", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md (Scripting from Python)", "exec"), namespace)
    s, t = namespace["s"], namespace["t"]
    assert (tmp_path / "runs/demo/session.json").exists()
    assert t.version == s.version == 3 and len(t.flags) == 1
