"""Tables of the finished books. The Alembic revisions create exactly this schema."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    CHAR,
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeEngine

MYSQL_DIALECTS = ("mysql", "mariadb")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Row options for MySQL/MariaDB: InnoDB for foreign keys, utf8mb4 so emoji and Hangul round-trip.
MYSQL_TABLE_OPTIONS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def book_id_type() -> TypeEngine[str]:
    """A UUID as text; ASCII-binary on MySQL so ids are small in indexes and sort bytewise."""
    return CHAR(36).with_variant(
        mysql.CHAR(36, charset="ascii", collation="ascii_bin"), *MYSQL_DIALECTS
    )


def user_id_type() -> TypeEngine[str]:
    """A user id (`sub`: 1-64 of A-Z a-z 0-9 _ . @ -), compared exactly: ASCII-binary on MySQL,
    whose default collations ignore case (`PAULA` would see `paula`'s shelf). SQLite compares
    text bytewise already."""
    return String(64).with_variant(
        mysql.VARCHAR(64, charset="ascii", collation="ascii_bin"), *MYSQL_DIALECTS
    )


def datetime_type() -> TypeEngine[datetime]:
    """DATETIME keeping microseconds on MySQL (its default precision is whole seconds)."""
    return DateTime().with_variant(mysql.DATETIME(fsp=6), *MYSQL_DIALECTS)


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (portable across both backends), returned timezone-aware UTC."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(datetime_type())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing to store a naive datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class BookRow(Base):
    __tablename__ = "books"
    __table_args__ = (
        Index("ix_books_user_id_finished_at_id", "user_id", "finished_at", "id"),
        # Every user's books newest first (the admin's list) and a day's totals.
        Index("ix_books_finished_at_id", "finished_at", "id"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[str] = mapped_column(book_id_type(), primary_key=True)
    user_id: Mapped[str] = mapped_column(user_id_type())
    title: Mapped[str] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(2))
    reader_age: Mapped[int | None] = mapped_column(SmallInteger)
    setting: Mapped[str] = mapped_column(String(200))
    characters: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    page_count: Mapped[int] = mapped_column(SmallInteger)
    cover_key: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_by: Mapped[str] = mapped_column(String(10))
    tokens_in: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    tokens_out: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    images_generated: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    pages: Mapped[list[PageRow]] = relationship(
        back_populates="book",
        order_by="PageRow.number",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class PageRow(Base):
    __tablename__ = "book_pages"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    book_id: Mapped[str] = mapped_column(
        book_id_type(), ForeignKey("books.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    input: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    image_key: Mapped[str] = mapped_column(String(255))

    book: Mapped[BookRow] = relationship(back_populates="pages")


class ShareLinkRow(Base):
    """A book's one share link (a new one replaces it); deleted with its book."""

    __tablename__ = "share_links"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    id: Mapped[str] = mapped_column(book_id_type(), primary_key=True)
    book_id: Mapped[str] = mapped_column(
        book_id_type(), ForeignKey("books.id", ondelete="CASCADE"), unique=True
    )
    # The SHA-256 of the token (hex): the token itself is never stored.
    token_digest: Mapped[str] = mapped_column(
        CHAR(64).with_variant(
            mysql.CHAR(64, charset="ascii", collation="ascii_bin"), *MYSQL_DIALECTS
        ),
        unique=True,
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AdminActionRow(Base):
    """One admin action that succeeded (the audit log); kept when its book is deleted."""

    __tablename__ = "admin_actions"
    __table_args__ = (
        Index("ix_admin_actions_at_id", "at", "id"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[str] = mapped_column(book_id_type(), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    admin_id: Mapped[str] = mapped_column(user_id_type())
    action: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(user_id_type(), nullable=True)
    book_id: Mapped[str | None] = mapped_column(book_id_type(), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
