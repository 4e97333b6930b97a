"""What a worker does with a generation job: the use case that queued it does the work."""

from __future__ import annotations

from typing import assert_never

from app.application.ports import GenerationJob, JobKind, JobRunner
from app.application.use_cases.redraw_picture import RedrawPicture
from app.application.use_cases.start_book import StartBook
from app.application.use_cases.write_page import WritePage


class GenerationJobs(JobRunner):
    def __init__(
        self, *, start_book: StartBook, write_page: WritePage, redraw_picture: RedrawPicture
    ) -> None:
        self._start_book = start_book
        self._write_page = write_page
        self._redraw_picture = redraw_picture

    async def run(self, job: GenerationJob, *, redelivered: bool = False) -> None:
        match job.kind:
            case JobKind.PAGE:
                await self._write_page.run(job, redelivered=redelivered)
            case JobKind.PICTURE:
                await self._redraw_picture.run(job, redelivered=redelivered)
            case JobKind.COVER:
                await self._start_book.run(job, redelivered=redelivered)
            case _:
                assert_never(job.kind)
