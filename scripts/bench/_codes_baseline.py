"""Baseline for scripts/bench/issue_period: the print batch without a database.

python _codes_baseline.py HOUSEHOLDS_CSV OUT_CSV SECRET_KEY
Reads the address list, and for every address generates a code, computes its HMAC (as the app stores it)
and writes the address columns + the grouped code, like `buurtkas periods open --codes-out` does.
"""

from __future__ import annotations

import csv
import sys

from app.kit.codes import code_hash_key, format_code, generate_code, hash_code

COLUMNS = ("address_id", "postcode", "huisnummer", "huisletter", "toevoeging", "straat", "woonplaats", "code")


def main() -> None:
    source, target, secret = sys.argv[1:4]
    key = code_hash_key(secret)
    hashes = 0
    with (
        open(source, newline="", encoding="utf-8") as inp,
        open(target, "w", newline="", encoding="utf-8") as out,
    ):
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for row in csv.DictReader(inp):
            code = generate_code()
            hashes += len(hash_code(code, key))
            writer.writerow(
                (
                    row["address_id"],
                    row["postcode"],
                    row["huisnummer"],
                    row["huisletter"],
                    row["toevoeging"],
                    row["straat"],
                    row["woonplaats"],
                    format_code(code),
                )
            )
    print(f"codes written; {hashes // 64} hashes")


if __name__ == "__main__":
    main()
