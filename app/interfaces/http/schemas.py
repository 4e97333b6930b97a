"""Request and response bodies of the contract (docs/api.md); requests refuse unknown fields."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic.config import JsonDict

from app.domain.values import text_problem, typed_text

# The marker `_documented` leaves in a field's JSON Schema.
TYPED_TEXT = "x-typed-text"


def _typed(min_length: int, *, multiline: bool) -> AfterValidator:
    """The domain's rules for typed text, refused here so that a 422 names the field."""

    def check(value: str) -> str:
        problem = text_problem(value.strip(), multiline=multiline, min_visible=min_length)
        if problem is not None:
            raise ValueError(problem)
        return typed_text("text", value, multiline=multiline)

    return AfterValidator(check)


def _text(min_length: int, max_length: int) -> object:
    # Lengths count the text as sent, as JSON Schema's minLength and maxLength do; what is
    # trimmed from its ends (any whitespace, tabs and line breaks too) is not checked further.
    return StringConstraints(min_length=min_length, max_length=max_length)


def _documented(min_length: int, *, multiline: bool) -> object:
    """Marks the field for the OpenAPI document, which gives it the pattern of these rules
    (`openapi.py`: deriving it takes a scan of Unicode, done once, when the document is made)."""
    rules: JsonDict = {"multiline": multiline, "needs_visible": min_length > 0}
    return Field(json_schema_extra={TYPED_TEXT: rules})


def _typed_text(min_length: int, max_length: int, *, multiline: bool) -> list[object]:
    return [
        _text(min_length, max_length),
        _typed(min_length, multiline=multiline),
        _documented(min_length, multiline=multiline),
    ]


Name = Annotated[str, *_typed_text(1, 40, multiline=False)]
Description = Annotated[str, *_typed_text(0, 300, multiline=True)]
Setting = Annotated[str, *_typed_text(0, 200, multiline=False)]
PageInput = Annotated[str, *_typed_text(1, 500, multiline=True)]
TitleText = Annotated[str, *_typed_text(1, 100, multiline=False)]


def _whole(value: object) -> object:
    """A JSON number with no fraction is an integer (`13.0`, as JSON Schema says); a string or
    a boolean is not, which strictness refuses."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# The bounds before the validator, so that the document shows them as minimum and maximum.
PageCount = Annotated[int, Field(strict=True, ge=1, le=20), BeforeValidator(_whole)]
ReaderAge = Annotated[int, Field(strict=True, ge=2, le=12), BeforeValidator(_whole)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CharacterIn(Request):
    name: Annotated[
        Name,
        Field(
            description="The character's name: 1-40 visible characters on one line.",
            examples=["Momo"],
        ),
    ]
    description: Annotated[
        Description,
        Field(
            description="Who the character is, for the story and the pictures (0-300).",
            examples=["a brave little rabbit with a red scarf"],
        ),
    ] = ""


class StartBookIn(Request):
    characters: Annotated[
        list[CharacterIn],
        Field(min_length=1, max_length=5, description="The story's characters, 1 to 5."),
    ]
    page_count: Annotated[
        PageCount,
        Field(description="How many pages the book will have (1-20).", examples=[6]),
    ]
    language: Annotated[
        Literal["en", "ko"],
        Field(description="The language the book is written in.", examples=["en"]),
    ] = "en"
    reader_age: Annotated[
        ReaderAge | None,
        Field(description="The child's age (2-12), to fit the words to.", examples=[5]),
    ] = None
    setting: Annotated[
        Setting,
        Field(
            description="Where the story happens (0-200, one line).", examples=["a snowy forest"]
        ),
    ] = ""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "characters": [
                        {"name": "Momo", "description": "a brave little rabbit with a red scarf"}
                    ],
                    "page_count": 6,
                    "language": "en",
                    "reader_age": 5,
                    "setting": "a snowy forest",
                }
            ]
        }
    )


class WritePageIn(Request):
    input: Annotated[
        PageInput,
        Field(
            description="The child's idea for the next page (1-500 visible characters).",
            examples=["Momo finds a glowing map under the snow"],
        ),
    ]

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"input": "Momo finds a glowing map under the snow"}]}
    )


class FinishIn(Request):
    title: Annotated[
        TitleText,
        Field(
            description="The book's title, named by the child (1-100, one line).",
            examples=["Momo and the Glowing Map"],
        ),
    ]

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"title": "Momo and the Glowing Map"}]}
    )


class AdminFinishIn(FinishIn):
    force: Annotated[
        bool,
        Field(
            strict=True,
            description="Finish a book that is not `done` with the pages it has (at least one).",
            examples=[False],
        ),
    ] = False


BookStateName = Literal["bookInit", "bookInProgress", "generating", "done"]


class CharacterOut(BaseModel):
    name: str
    description: str


class PageOut(BaseModel):
    number: int
    input: str
    text: str
    image_url: str | None = Field(
        description="The picture's link; null while the picture is pending or failed."
    )
    image_status: Literal["pending", "ready", "failed"] = Field(
        description="Pages written with `Prefer: respond-async` are stored text first; a failed "
        "picture is drawn again with POST /v1/books/current/pages/{number}/illustration."
    )


class BookOut(BaseModel):
    id: str
    state: BookStateName
    language: str
    reader_age: int | None
    setting: str
    characters: list[CharacterOut]
    page_count: int
    pages: list[PageOut]
    questions: list[str]
    cover_image_url: str | None
    version: int
    created_at: str
    updated_at: str
    expires_at: str
    queued_until: str | None = Field(
        description="While `generating`: when the page's work is expected to start, as it "
        "waits its turn under the model provider's limits; null once it started, or when it "
        "did not wait."
    )


class FinishedPageOut(BaseModel):
    number: int
    text: str
    image_url: str


class FinishedBookOut(BaseModel):
    id: str
    title: str
    language: str
    reader_age: int | None
    setting: str
    characters: list[CharacterOut]
    page_count: int
    pages: list[FinishedPageOut]
    cover_image_url: str
    created_at: str
    finished_at: str
    finished_by: Literal["user", "admin"]


class UsageOut(BaseModel):
    """What generating the book cost (admin views only)."""

    tokens_in: int
    tokens_out: int
    images: int


class AdminBookOut(BookOut):
    usage: UsageOut


class AdminFinishedBookOut(FinishedBookOut):
    user_id: str = Field(description="Whose book it is: the `sub` of its owner's token.")
    usage: UsageOut
    share_link_active: bool = Field(description="Whether the book has a share link open now.")


class ShareIn(Request):
    expires_in_days: Annotated[
        int | None,
        Field(
            ge=1,
            le=365,
            description="Days the link works (1-365); null: until it is taken back.",
            examples=[30],
        ),
    ] = None


class ShareLinkOut(BaseModel):
    url: str = Field(description="The reader's page for the book: `<base>/read/<token>`.")
    token: str
    created_at: str
    expires_at: str | None


class SharedPageOut(BaseModel):
    number: int
    text: str
    image_url: str


class SharedBookOut(BaseModel):
    """A finished book as anyone with its link sees it: never its owner, cost or inputs."""

    title: str
    language: str
    reader_age: int | None
    characters: list[CharacterOut]
    page_count: int
    cover_image_url: str
    pages: list[SharedPageOut]
    finished_at: str


class BookSummaryOut(BaseModel):
    id: str
    title: str
    cover_image_url: str
    page_count: int
    finished_at: str


class ShelfOut(BaseModel):
    items: list[BookSummaryOut]
    next_cursor: str | None


class BookInProgressItemOut(BaseModel):
    """A book in progress in the admin's list."""

    user_id: str
    id: str
    state: BookStateName = Field(
        description="The stored state (what the list's `state` filter matches): a book whose "
        "generation is stuck past its lease stays `generating`, with `stuck` true, until "
        "recovery gives it back."
    )
    pages_written: int
    page_count: int
    updated_at: str
    expires_at: str
    stuck: bool = Field(
        description="A page, picture, opening or finish holds the book past its lease (its "
        "process may have died); recovery gives it back within its interval."
    )


class BooksInProgressOut(BaseModel):
    items: list[BookInProgressItemOut]
    next_cursor: str | None


class AdminBookSummaryOut(BaseModel):
    """A finished book in the admin's list, with what generating it cost."""

    id: str
    user_id: str
    title: str
    cover_image_url: str
    page_count: int
    language: str
    finished_at: str
    finished_by: Literal["user", "admin"]
    usage: UsageOut


class AdminShelfOut(BaseModel):
    items: list[AdminBookSummaryOut]
    next_cursor: str | None


class DayUsageOut(BaseModel):
    day: str = Field(description="The UTC day, `YYYY-MM-DD`.", examples=["2026-12-01"])
    books: int = Field(description="Books finished that day.")
    usage: UsageOut


AdminActionName = Literal["finish", "takedown", "view_book_in_progress", "view_book"]


class AuditEntryOut(BaseModel):
    id: str
    at: str
    admin_id: str = Field(description="The admin token's `sub`.")
    action: AdminActionName
    user_id: str | None = Field(description="Whose book the action concerned.")
    book_id: str | None
    detail: dict[str, str | int | bool | None] = Field(
        description="`finish`: `title` and `force`; `takedown`: the book's `title`."
    )


class AuditLogOut(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str]


class FieldErrorOut(BaseModel):
    field: str = Field(
        description="Where in the request: `body.characters.0.name`, `body.input`, `query.limit`."
    )
    message: str


class ProblemOut(BaseModel):
    """An RFC 9457 problem (`application/problem+json`)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = Field(description="What went wrong, in words a parent can read.")
    code: str = Field(description="Stable machine-readable code, e.g. `invalid_book_state`.")
    errors: list[FieldErrorOut] | None = Field(
        default=None, description="On 422 `validation_error`: each field and what is wrong."
    )
    request_id: str | None = Field(
        default=None,
        description="The request's `X-Request-ID` (the client's, or one the server made): "
        "quote it when reporting a problem; every log line of the request carries it.",
        examples=["4f0c8e3b9d2a4c51a7e6f3b2c1d0e9f8"],
    )
    hint: str | None = Field(
        default=None,
        description="On a development server's 401 for a token signed with another key: "
        "where this server's key comes from (never in production).",
    )


class OidcConfigOut(BaseModel):
    """What the page needs to sign in at the identity provider (public values only)."""

    authorize_url: str
    token_url: str
    client_id: str
    scope: str
    token: Literal["access_token", "id_token"] = Field(
        description="Which token of the provider's answer the page sends as its bearer."
    )
    audience: str | None = Field(
        default=None, description="Sent as `audience` with the authorization request (Auth0)."
    )


class AuthConfigOut(BaseModel):
    oidc: OidcConfigOut | None = Field(
        description="The provider's sign-in, for `/static/oidc.js`; null when tokens come from "
        "`littlewriter token` or `login-link` only."
    )
    roles_claim: str = Field(
        description="Where a token holds its roles (`LW_JWT_ROLES_CLAIM`): a top-level claim by "
        "its whole name, else a dotted path into nested objects. For display only: the "
        "server decides what a token may do."
    )
    admin_role: str = Field(
        description="The role among them that makes the user an admin (`LW_JWT_ADMIN_ROLE`)."
    )
