#!/usr/bin/env python3
"""One-off helper: copy a small, deterministic subset of banking77 (English) into
sample_data/banking77_subset.csv.

Source: banking77, Casanueva et al. 2020 (arXiv 2003.04807), CC BY 4.0,
GitHub PolyAI-LDN/task-specific-datasets (banking_data/train.csv, commit 57ec275).

Only the categories that generate.py maps onto the sample's intents are kept.
Texts are kept in source-file order, one or two filters applied:
  * single-line, 4-25 words, no digit run of 4+ characters;
  * not a normalized exact duplicate and word-Jaccard < 0.5 to every text kept
    so far (so the sample's "background" has no unplanted near duplicates).
This script is the only one that reads outside the repository; generate.py reads
the committed subset file only.

Usage: python sample_data/make_banking77_subset.py [--src PATH] [--per-category N]
"""
import argparse
import csv
import os
import re
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SRC = os.path.join(HERE, "..", "..", "shared", "data", "banking77", "train.csv")

# banking77 category -> sample intent (must match generate.B77_MAP)
CATEGORIES = [
    "lost_or_stolen_card", "pin_blocked", "failed_transfer", "transfer_fee_charged",
    "card_payment_not_recognised", "request_refund", "exchange_rate",
    "wrong_amount_of_cash_received", "change_pin",
    "balance_not_updated_after_bank_transfer", "passcode_forgotten",
    "edit_personal_details", "terminate_account", "pending_card_payment",
    "compromised_card",
]


def norm(t):
    return " ".join(unicodedata.normalize("NFKC", t).casefold().split())


def toks(t):
    return frozenset(re.findall(r"\w+", norm(t)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", default=DEFAULT_SRC)
    ap.add_argument("--per-category", type=int, default=33)
    ap.add_argument("--out", default=os.path.join(HERE, "banking77_subset.csv"))
    a = ap.parse_args()
    with open(a.src, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    kept, seen, kept_toks = [], set(), []
    for cat in CATEGORIES:
        n = 0
        for r in rows:
            if r["category"] != cat or n >= a.per_category:
                continue
            t = r["text"].strip()
            if "\n" in t or "\r" in t or not (4 <= len(t.split()) <= 25):
                continue
            if re.search(r"\d{4,}", t) or norm(t) in seen:
                continue
            tk = toks(t)
            if any(len(tk & o) / len(tk | o) >= 0.5 for o in kept_toks):
                continue
            seen.add(norm(t))
            kept_toks.append(tk)
            kept.append((t, cat))
            n += 1
    with open(a.out, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["text", "category"])
        w.writerows(kept)
    print(f"wrote {len(kept)} rows to {a.out}")


if __name__ == "__main__":
    main()
