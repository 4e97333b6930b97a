"""What reading and writing a whole book in progress costs the store's codec: a 20-page book
(about 300 characters a page) decoded and encoded, in milliseconds of one core. Decoding builds
the aggregate again, and every value object checks itself, typed text included.

Usage: .venv/bin/python bench/codec_bench.py [--runs 300]"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.domain.values import ChildInput, Questions
from app.infrastructure.store.codec import dumps, loads
from tests.unit.fakes import LEASE, T0, image_of, opened_book

PAGE = "Momo and Tori walk through the snowy forest, looking for the map the old owl told of. " * 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    runs = parser.parse_args().runs
    book = opened_book(20)
    for number in range(1, 21):
        attempt = f"attempt-{number}"
        book.begin_generation(attempt, ChildInput("Momo finds a glowing map"), T0, LEASE)
        questions = Questions() if number == 20 else Questions(("What next?",))
        book.complete_page(attempt, PAGE, image_of(book, number), questions, T0)
    raw = dumps(book)
    read = timeit.timeit(lambda: loads(raw), number=runs) / runs * 1e3
    write = timeit.timeit(lambda: dumps(book), number=runs) / runs * 1e3
    print(f"20-page book ({len(raw)} bytes): decode {read:.2f} ms, encode {write:.2f} ms")


if __name__ == "__main__":
    main()
