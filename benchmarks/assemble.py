"""Assemble docs/benchmarks.md from the per-topic results in docs/benchmarks/*.md.

Each benchmark script writes its own part (with the command that produced it); run this after
any of them::

    python benchmarks/assemble.py
"""
from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"
ORDER = ["convolution", "polynomial", "symbolic", "randmat", "kernels", "jacobian"]


def main() -> None:
    parts = {p.stem: p for p in (DOCS / "benchmarks").glob("*.md")}
    names = [n for n in ORDER if n in parts] + sorted(set(parts) - set(ORDER))
    lines = ["# Benchmarks", "",
             "Speed and accuracy of the toolkit against peers and baselines, measured in the same run.",
             "Each section was written by the script named in it (in `benchmarks/`); this page is",
             "assembled by `python benchmarks/assemble.py`.", ""]
    lines += [f"- [{n}](#{n})" for n in names] + [""]
    for n in names:
        lines += [f'<a id="{n}"></a>', "", parts[n].read_text(encoding="utf-8").rstrip(), "", "---", ""]
    (DOCS / "benchmarks.md").write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {DOCS / 'benchmarks.md'} from {len(names)} parts")


if __name__ == "__main__":
    main()
