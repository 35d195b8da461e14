"""atheris (libFuzzer, coverage-guided) over the command parser: ``make chaos``.

    python -m tests.fuzz.atheris_commands -max_total_time=60 [corpus_dir]

Every input is checked by ``command_properties.check``: parse never raises, a payment
always has a sane euro amount, a real payee that is neither the bot nor the author, no
hidden character, and the bot named (outside a DM). libFuzzer stops at the first input
that breaks one and saves it as ``crash-*``; at the end it prints ``Done N runs``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from tests.fuzz import command_properties


def test_one_input(data: bytes) -> None:
    command_properties.check(data)


def main() -> None:
    args = list(sys.argv)
    if not any(not a.startswith("-") for a in args[1:]):
        # No corpus directory given: start from the seeds in a fresh one.
        corpus = Path(tempfile.mkdtemp(prefix="envoi-atheris-"))
        for n, seed in enumerate(command_properties.SEEDS):
            for author in range(len(command_properties.AUTHORS)):
                for direct in (False, True):
                    data = command_properties.encode(author, seed, direct=direct)
                    (corpus / f"seed-{n}-{author}-{int(direct)}").write_bytes(data)
        args.append(str(corpus))
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
