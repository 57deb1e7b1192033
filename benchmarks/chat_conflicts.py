"""Conflicting answers on the planted chat set: ``python benchmarks/chat_conflicts.py [--seeds 7 8 9]``.

For each seed, ``sample_data/generate.py``'s chat generator writes a chat set with planted
pairs of records asking the same question (a near-copy: a greeting added, punctuation
changed): contradictory pairs (another number of days/amount/percent, a yes/no flip, an
answer to another question) and consistent pairs (the same answer up to a greeting and a
sign-off, or up to punctuation and spacing). A pair counts as reported when a
``conflicting_outputs`` finding puts its two records in different answer groups.

The plain peer is what a pandas user would write: the same input groups, and a conflict
whenever two normalised answers (NFKC, case, whitespace) are not equal.

Real answers (``--shared``, default ../shared/data): the Clough & Stevenson short answers
are 95 students' answers to five questions, each copied (cut), lightly or heavily revised
from, or written independently of one Wikipedia source. None contradicts the source, so
every answer the rule calls conflicting with its source is a false alarm of the
dissimilarity rule on a legitimate rewording; the table shows how often, by revision level.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "sample_data"), str(REPO / "benchmarks")]


def run_seed(seed: int) -> dict[str, dict[str, list[int]]]:
    """Per pair kind: [reported by dqaudit, reported by the plain peer, pairs]."""
    import generate  # sample_data/generate.py

    from dqaudit import AuditConfig, audit
    from dqaudit.checkers.outputs import input_groups
    from dqaudit.context import AuditContext
    from dqaudit.text import normalize

    with tempfile.TemporaryDirectory() as tmp:
        chat = generate.ChatGenerator(seed)
        chat.build()
        truth = chat.write(tmp)
        fields = {"text": "messages[user]", "output": "messages[assistant]", "label": "intent"}
        config = AuditConfig(fields=fields, cache={"enabled": False})
        from dqaudit.data import load_dataset

        dataset = load_dataset(Path(tmp) / "support_chat.jsonl", config.fields, config.input)
        result = audit(dataset, config, checks=["conflicting_outputs"])
        ctx = AuditContext(dataset, config)
        groups = dict(zip(dataset.frame["id"], input_groups(ctx).tolist(), strict=True))
        normalised = dataset.frame["output"].fillna("").map(normalize)
        answers = dict(zip(dataset.frame["id"], normalised, strict=True))
    answer_group: dict[str, tuple[str, int]] = {}
    for finding in result.check("conflicting_outputs").findings:
        for k, group in enumerate(finding.details["answers"]):
            for rid in group["record_ids"]:
                answer_group[rid] = (finding.key, k)
    out: dict[str, dict[str, list[int]]] = defaultdict(lambda: {"dqaudit": [0, 0], "plain": [0, 0]})
    for side in ("contradictory_pairs", "consistent_pairs"):
        for a, b, kind in truth[side]:
            name = f"{side.split('_')[0]} / {kind}"
            ga, gb = answer_group.get(a), answer_group.get(b)
            hit = ga is not None and gb is not None and ga[0] == gb[0] and ga[1] != gb[1]
            plain = groups[a] == groups[b] and answers[a] != answers[b]
            out[name]["dqaudit"][0] += hit
            out[name]["plain"][0] += plain
            out[name]["dqaudit"][1] += 1
            out[name]["plain"][1] += 1
    return out


def clough_false_alarms(shared: Path) -> None:
    """Share of real answers called conflicting with the source they were written from, by revision level."""
    from containment import CATEGORIES, clough  # benchmarks/containment.py reads the corpus

    from dqaudit.features.answers import compare, parse_answer

    frame = clough(shared / "clough_stevenson_plagiarism")
    sources = {row.label: parse_answer(row.text) for row in frame.itertuples() if row.category == "orig"}
    print("\nClough & Stevenson: answers called conflicting with their Wikipedia source (all are consistent)")
    print(f"{'revision':<10}{'answers':>9}{'dqaudit':>10}{'plain peer':>12}  reasons")
    for category in CATEGORIES:
        rows = frame[frame["category"] == category]
        verdicts = [compare(sources[row.label], parse_answer(row.text)) for row in rows.itertuples()]
        reasons = Counter(v.reason for v in verdicts if v is not None)
        flagged = sum(v is not None for v in verdicts)
        print(f"{category:<10}{len(rows):>9}{flagged / len(rows):>10.1%}{1.0:>12.1%}  "
              f"{dict(sorted(reasons.items()))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    totals: dict[str, dict[str, list[int]]] = defaultdict(lambda: {"dqaudit": [0, 0], "plain": [0, 0]})
    for seed in args.seeds:
        for name, counts in run_seed(seed).items():
            for who in ("dqaudit", "plain"):
                totals[name][who][0] += counts[who][0]
                totals[name][who][1] += counts[who][1]
    print(f"seeds {args.seeds}: share of pairs reported as conflicting")
    print(f"{'pair kind':<32}{'pairs':>7}{'dqaudit':>10}{'plain peer':>12}")
    summary = {}
    for side in ("contradictory", "consistent"):
        hit = {"dqaudit": 0, "plain": 0}
        n = 0
        for name in sorted(k for k in totals if k.startswith(side)):
            t = totals[name]
            n += t["dqaudit"][1]
            for who in hit:
                hit[who] += t[who][0]
            print(f"{name:<32}{t['dqaudit'][1]:>7}{t['dqaudit'][0] / t['dqaudit'][1]:>10.1%}"
                  f"{t['plain'][0] / t['plain'][1]:>12.1%}")
        print(f"{side + ' (all)':<32}{n:>7}{hit['dqaudit'] / n:>10.1%}{hit['plain'] / n:>12.1%}")
        summary[side] = {"pairs": n, **{who: round(count / n, 4) for who, count in hit.items()}}
    print(json.dumps(summary))
    if (args.shared / "clough_stevenson_plagiarism").is_dir():
        clough_false_alarms(args.shared)


if __name__ == "__main__":
    main()
