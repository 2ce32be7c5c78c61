"""Print the bad-input contract table (issue 10) as markdown: case x command -> exit,
message, traceback, data unchanged, and the count of cases.

Run by hand (it builds the zoo in a temporary folder and runs every case in-process,
as ``test_contract.py`` does)::

    .venv/bin/python tests/cli/contract_table.py > contract.md
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from contract_cases import CASES, make_zoo, run_case


def _first_line(err: str) -> str:
    for line in err.splitlines():
        if line.startswith("torchmusic:") or line.startswith("  /"):
            return line.strip()[:110].replace("|", "\\|")
    return ""


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        zoo = make_zoo(Path(tmp) / "zoo")
        for i, case in enumerate(CASES):
            outcome = run_case(case, zoo, Path(tmp) / f"case{i}")
            ok = not outcome.problems(case)
            unchanged = "n/a" if not case.unchanged else ("yes" if not outcome.changed else "NO")
            rows.append(
                f"| {case.case} | `{case.command}` | {outcome.exit} | {_first_line(outcome.err)} "
                f"| {'PRESENT' if outcome.traceback else 'none'} | {unchanged} "
                f"| {'pass' if ok else 'FAIL'} |"
            )
    print(
        "| case | command | exit | message (first line) | traceback | data unchanged | contract |"
    )
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\n{len(CASES)} cases, {len({c.command for c in CASES})} commands")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
