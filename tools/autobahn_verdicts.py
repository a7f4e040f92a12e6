#!/usr/bin/env python3
"""Judge a kosoku (Autobahn TestSuite) report: tools/autobahn_verdicts.py OUTDIR [EXPECTED_MIN_CASES]

Reads OUTDIR/index.json ({agent: {case_id: {"behavior", "behaviorClose", "remoteCloseCode",
"duration", "reportfile"}}}) and exits 1 unless every case passed:
  behavior       in OK, NON-STRICT, INFORMATIONAL   (FAILED, UNIMPLEMENTED, ERROR fail)
  behaviorClose  in OK, NON-STRICT, INFORMATIONAL   (FAILED, FAILED BY CLIENT, UNCLEAN, WRONG CODE fail)
This is the same rule as kosoku's own CaseResult.passed, applied to the written report so the
verdict does not rest on kosoku's exit code alone.

AUTOBAHN_ALLOW_UNIMPLEMENTED=1 also accepts UNIMPLEMENTED (e.g. a server without
permessage-deflate running the 12.*/13.* cases).
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter

ACCEPTED = {"OK", "NON-STRICT", "INFORMATIONAL"}
ACCEPTED_CLOSE = {"OK", "NON-STRICT", "INFORMATIONAL"}
ORDER = ["OK", "NON-STRICT", "INFORMATIONAL", "FAILED", "UNIMPLEMENTED", "ERROR"]


def sort_key(case_id: str) -> list[int]:
    try:
        return [int(p) for p in case_id.split(".")]
    except ValueError:
        return [1 << 30]


def detail(outdir: str, entry: dict) -> str:
    """The report's prose for a failed case (result / resultClose), shortened."""
    path = os.path.join(outdir, entry.get("reportfile") or "")
    try:
        with open(path) as f:
            case = json.load(f)
    except (OSError, ValueError):
        return ""
    bits = []
    for key in ("result", "resultClose", "wasNotCleanReason"):
        text = case.get(key)
        if text:
            text = " ".join(str(text).split())
            bits.append(f"{key}: {text[:160]}")
    return "; ".join(bits)


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    outdir = sys.argv[1]
    expected_min = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    accepted = set(ACCEPTED)
    if os.environ.get("AUTOBAHN_ALLOW_UNIMPLEMENTED") == "1":
        accepted.add("UNIMPLEMENTED")

    index_path = os.path.join(outdir, "index.json")
    try:
        with open(index_path) as f:
            index = json.load(f)
    except (OSError, ValueError) as error:
        print(f"autobahn: FAILED: cannot read {index_path}: {error}")
        return 1

    cases: dict[str, dict] = {}
    agents = sorted(index)
    for agent in agents:
        for case_id, entry in index[agent].items():
            cases[case_id] = entry

    counts: Counter[str] = Counter()
    close_counts: Counter[str] = Counter()
    failed: list[tuple[str, dict]] = []
    lenient: dict[str, list[str]] = {}
    for case_id in sorted(cases, key=sort_key):
        entry = cases[case_id]
        behavior = str(entry.get("behavior"))
        close = str(entry.get("behaviorClose"))
        counts[behavior] += 1
        close_counts[close] += 1
        if behavior not in accepted or close not in ACCEPTED_CLOSE:
            failed.append((case_id, entry))
        elif behavior != "OK" or close != "OK":
            lenient.setdefault(f"{behavior}/{close}", []).append(case_id)

    names = ORDER + sorted(set(counts) - set(ORDER))
    summary = " ".join(f"{name}={counts.get(name, 0)}" for name in names)
    bad_close = sum(n for c, n in close_counts.items() if c not in ACCEPTED_CLOSE)
    print(
        f"autobahn: {len(cases)} cases: {summary} BAD-CLOSE={bad_close} "
        f"-> {len(failed)} failing case(s)"
        + (f" [agent: {', '.join(agents)}]" if agents else "")
    )
    for kind in sorted(lenient):
        ids = lenient[kind]
        print(f"autobahn: accepted {kind} ({len(ids)}): {' '.join(ids)}")
    limit = int(os.environ.get("AUTOBAHN_MAX_LISTED", "60"))
    for case_id, entry in failed[:limit]:
        print(
            f"autobahn: FAIL {case_id}: behavior={entry.get('behavior')} "
            f"behaviorClose={entry.get('behaviorClose')} "
            f"remoteCloseCode={entry.get('remoteCloseCode')} "
            f"{detail(outdir, entry)}".rstrip()
        )
    if len(failed) > limit:
        print(f"autobahn: ... and {len(failed) - limit} more failing case(s) (see {index_path})")
    if len(cases) < expected_min:
        print(f"autobahn: FAILED: only {len(cases)} cases in the report, expected at least {expected_min}")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
