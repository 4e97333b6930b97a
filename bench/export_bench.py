"""A 20-page book's PDF and EPUB: time and size, the first request (made) and the next (kept).

The real app on embedded defaults in a temporary data dir (SQLite, local images, the offline
generators, whose Pillow illustrator draws every picture), called in-process through httpx's
ASGI transport: a 20-page book (English, or Korean with `--language ko`) is written and
finished, then each export is asked for `--rounds` times. The first request of each format
renders the file (fpdf2 / EbookLib, in a worker thread) and keeps it beside the pictures; the
later ones read it back.

Usage: .venv/bin/python bench/export_bench.py [--pages 20] [--language en|ko] [--rounds 5]
    [--json bench/results/export_bench.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from app.infrastructure.settings import Settings
from app.interfaces.http.app import create_app


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data_dir:
        # A book of 20 pages is more generations than one user may make in a minute.
        settings = Settings(data_dir=Path(data_dir), rate_limit_generation="1000/minute")
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            services = app.state.services
            token = services.tokens.issue("bench", datetime.now(UTC), timedelta(hours=1))
            headers = {"Authorization": f"Bearer {token}"}
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                book = {
                    "characters": [{"name": "Momo", "description": "a brave little rabbit"}],
                    "page_count": args.pages,
                    "language": args.language,
                    "setting": "a snowy forest",
                }
                assert (await client.post("/v1/books", json=book, headers=headers)).is_success
                for n in range(args.pages):
                    idea = {"input": f"Momo finds clue number {n + 1} under the snow"}
                    page = await client.post("/v1/books/current/pages", json=idea, headers=headers)
                    assert page.status_code == 200, page.text
                finished = await client.post(
                    "/v1/books/current/finish", json={"title": "Momo's Map"}, headers=headers
                )
                book_id = finished.json()["id"]
                figures: dict[str, Any] = {"pages": args.pages, "language": args.language}
                for export_format in ("pdf", "epub"):
                    url = f"/v1/books/{book_id}/export?format={export_format}"
                    times, size = [], 0
                    for _ in range(args.rounds):
                        began = time.perf_counter()
                        response = await client.get(url, headers=headers)
                        times.append((time.perf_counter() - began) * 1000)
                        assert response.status_code == 200, response.text
                        size = len(response.content)
                    figures[export_format] = {
                        "first_ms": round(times[0], 1),
                        "kept_ms_median": round(statistics.median(times[1:]), 2),
                        "bytes": size,
                    }
                return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--language", choices=["en", "ko"], default="en")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=Path("bench/results/export_bench.json"))
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    print(f"{args.pages}-page book ({args.language}):")
    print("format   first ms   kept ms (median)   bytes")
    for export_format in ("pdf", "epub"):
        f = figures[export_format]
        print(
            f"{export_format:<8} {f['first_ms']:>8}   {f['kept_ms_median']:>16}   {f['bytes']:>9,}"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
