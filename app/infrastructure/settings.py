"""Every setting, read from the environment (prefix LW_). Each real backend is switched on by its
setting alone; with none set the service runs embedded on one machine."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Literal, Self

from limits import parse
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LW_", extra="ignore", frozen=True)

    env: Environment = Environment.DEVELOPMENT
    data_dir: Path = Field(
        default=Path("./var"),
        description="Where the service keeps its files; a relative path is taken from the folder "
        "the command runs in, and every command resolves it the same way (made absolute here).",
    )
    port: int = Field(
        default=8000,
        ge=1,
        le=65_535,
        description="The port `littlewriter serve` listens on unless --port says otherwise; "
        "`littlewriter login-link` points at it when LW_PUBLIC_BASE_URL is unset.",
    )
    public_base_url: str | None = Field(
        default=None,
        description="Base of the service's own image links; the request's own when unset "
        "(development only: production requires it, so a Host header cannot move links).",
    )
    docs_enabled: bool = Field(
        default=True,
        description="Serve the API docs (/docs, /openapi.json) with their assets from the app.",
    )
    cors_origins: str = Field(
        default="",
        description="Comma-separated origins allowed to call the API from a browser; none "
        "by default.",
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses or networks of the reverse proxies whose "
        "X-Forwarded-For and X-Forwarded-Proto are believed; none by default.",
    )

    database_url: str | None = None
    redis_url: str | None = None
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_public_endpoint_url: str | None = Field(
        default=None,
        description="Endpoint that clients reach for presigned links, when it differs (MinIO).",
    )
    s3_connect_timeout_seconds: float = Field(default=1.0, gt=0)
    s3_read_timeout_seconds: float = Field(default=5.0, gt=0)
    s3_max_attempts: int = Field(default=2, ge=1, le=10)
    s3_deadline_seconds: float = Field(
        default=2.5,
        gt=0,
        description="The longest one S3 call may take, retries included; past it 503.",
    )
    database_timeout_seconds: float = Field(
        default=1.0,
        gt=0,
        description="MySQL connect, read and write timeouts and the pool's checkout wait.",
    )
    database_deadline_seconds: float = Field(
        default=2.5,
        gt=0,
        description="The longest one database call may take, all its steps included; past it 503.",
    )
    redis_timeout_seconds: float = Field(default=2.0, gt=0)
    redis_max_connections: int = Field(
        default=256, ge=8, description="Connections to Redis per process; more commands wait."
    )
    allow_embedded_in_production: bool = False
    failpoint: str | None = Field(
        default=None, description="Test only: the process exits at this named step of a finish."
    )

    staging_expiration_days: int = Field(default=2, ge=1, le=365)
    book_ttl_seconds: int = Field(default=86_400, ge=60)
    book_max_age_seconds: int = Field(default=86_400, ge=60)
    image_url_ttl_seconds: int = Field(default=3_600, ge=60, le=7 * 86_400)
    generation_lease_seconds: int = Field(default=120, ge=5)
    finish_lease_seconds: int = Field(
        default=60,
        ge=5,
        description="How long a finish holds the book; past it the recovery loop completes it.",
    )
    sweep_interval_seconds: int = Field(default=3_600, ge=1)

    jwt_secret: SecretStr | None = None
    jwt_algorithm: str = "HS256"
    jwt_public_key: str | None = None
    jwt_audience: str = "littlewriter"
    jwt_issuer: str | None = None
    jwt_jwks_url: str | None = Field(
        default=None,
        description="The identity provider's JWKS (its public keys by `kid`): tokens are verified "
        "with them instead of a secret or LW_JWT_PUBLIC_KEY; needs LW_JWT_ISSUER.",
    )
    jwt_jwks_cache_seconds: float = Field(
        default=300,
        gt=0,
        description="How long the fetched key set is used before it is fetched again; also the "
        "longest a token stays accepted after its key left the JWKS.",
    )
    jwt_jwks_cooldown_seconds: float = Field(
        default=5,
        ge=0,
        description="A token with an unknown `kid` fetches the key set again at most this often "
        "(and a JWKS that did not answer is not asked again sooner).",
    )
    jwt_jwks_timeout_seconds: float = Field(
        default=3, gt=0, description="The longest one JWKS fetch may take; past it 503."
    )
    jwt_roles_claim: str = Field(
        default="roles",
        description="The claim holding the user's roles: a top-level name "
        "(`cognito:groups`, `https://example.com/roles`), else a dotted path "
        "(`realm_access.roles`).",
    )
    jwt_admin_role: str = Field(
        default="admin", min_length=1, description="The role that grants the admin endpoints."
    )
    jwt_user_id: Literal["sub", "sub-digest"] = Field(
        default="sub",
        description="`sub`: the token's `sub` is the user id (1-64 of A-Z a-z 0-9 _ . @ -); "
        "`sub-digest`: a digest of the issuer and `sub` (`u-` and 40 hex digits), for "
        "providers whose subjects do not fit (Auth0's `auth0|...`).",
    )
    jwt_max_ttl_seconds: int = Field(
        default=30 * 86_400,
        ge=60,
        description="The longest a token may live (exp - iat); longer ones are refused, and "
        "`littlewriter token --ttl` cannot issue them.",
    )
    oidc_authorize_url: str | None = Field(
        default=None,
        description="The provider's authorization endpoint: the page signs in there "
        "(authorization code with PKCE); set with LW_OIDC_TOKEN_URL and LW_OIDC_CLIENT_ID.",
    )
    oidc_token_url: str | None = Field(
        default=None, description="The provider's token endpoint (it must allow CORS)."
    )
    oidc_client_id: str | None = Field(
        default=None, description="The page's public client id at the provider (no secret)."
    )
    oidc_scope: str = Field(default="openid", description="The scopes the page asks for.")
    oidc_audience: str | None = Field(
        default=None,
        description="An `audience` sent with the authorization request (Auth0: the API's "
        "identifier, so that its access token carries it).",
    )
    oidc_token: Literal["access_token", "id_token"] = Field(
        default="access_token",
        description="Which token of the provider's answer the page sends as its bearer.",
    )
    image_url_secret: SecretStr | None = None
    metrics_token: SecretStr | None = Field(
        default=None,
        description="When set, GET /metrics needs `Authorization: Bearer <this>`; in "
        "production /metrics is not served without it.",
    )

    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_api_style: Literal["responses", "chat"] = "responses"
    openai_text_model: str = "gpt-4.1-mini"
    openai_image_model: str = "gpt-image-1"
    openai_moderation_model: str = "omni-moderation-latest"
    openai_image_size: str = "1024x1024"
    openai_image_quality: str = "medium"
    openai_image_moderation: Literal["auto", "low"] = "auto"
    openai_images: bool = Field(
        default=True, description="False: AI text with the offline pictures (e.g. Ollama)."
    )
    openai_timeout_seconds: float = Field(default=60.0, gt=0)
    openai_max_retries: int = Field(default=2, ge=0, le=10)
    page_deadline_seconds: float = Field(default=90.0, gt=0)

    access_log: bool = Field(
        default=True,
        description="Log a line for every answer (method, path, status, time, request id); "
        "false when a proxy in front logs requests already.",
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_header_bytes: int = Field(
        default=16 * 1024,
        ge=1024,
        description="The request line and headers together, at most; past it 431.",
    )
    header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long a request's line and headers may take to arrive; past it 408.",
    )

    idempotency_ttl_seconds: int = Field(
        default=86_400, ge=60, description="How long an Idempotency-Key's response is kept."
    )
    idempotency_lock_seconds: float = Field(
        default=10.0,
        ge=1,
        le=60,
        description="A key in use is locked this long and renewed while its request runs, so a "
        "request that died frees its key within this time.",
    )
    rate_limit_generation: str = Field(
        default="20/minute",
        description="Per-user generations (book starts, pages, illustration retries), "
        "in the `limits` notation: N/second|minute|hour|day.",
    )
    rate_limit_sharing: str = Field(
        default="60/minute",
        description="Requests per client address to shared books (GET /v1/shared/..., the "
        "reader and their exports) and to share links, in the `limits` notation.",
    )
    quota_user_pages_per_day: int = Field(default=300, ge=1)
    quota_user_images_per_day: int = Field(default=400, ge=1)
    quota_service_pages_per_day: int = Field(default=200_000, ge=1)
    quota_service_images_per_day: int = Field(default=300_000, ge=1)
    events_heartbeat_seconds: float = Field(default=15.0, gt=0)
    events_retention: int = Field(
        default=500, ge=10, description="Events kept per user for Last-Event-ID resumes."
    )
    events_max_streams_per_user: int = Field(default=5, ge=1)
    events_max_streams: int = Field(default=5_000, ge=1)
    run_jobs: bool = Field(
        default=True,
        description="This server runs generation jobs too (on a real Redis); false when "
        "separate `littlewriter worker` processes run them.",
    )
    job_queue: str = Field(
        default="littlewriter-generation",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="The job queue's name on Redis: deployments that share one Redis database "
        "use different names.",
    )
    worker_concurrency: int = Field(
        default=100,
        ge=1,
        description="Jobs a process runs at once (they mostly wait for the model provider).",
    )
    shutdown_grace_seconds: int = Field(
        default=30,
        ge=0,
        description="On SIGTERM, how long running jobs may take to finish; the rest go back "
        "to the queue.",
    )
    provider_requests_per_minute: int | None = Field(
        default=None,
        ge=1,
        description="The model provider's text requests a minute that jobs are spread under "
        "(a little under your account's limit); unlimited when unset.",
    )
    provider_tokens_per_minute: int | None = Field(
        default=None,
        ge=1,
        description="The model provider's tokens a minute that jobs are spread under; "
        "unlimited when unset.",
    )
    provider_images_per_minute: int | None = Field(
        default=None,
        ge=1,
        description="The model provider's pictures a minute that jobs are spread under; "
        "unlimited when unset.",
    )
    provider_tokens_per_request: int = Field(
        default=1_500,
        ge=1,
        description="What one text request is counted as against LW_PROVIDER_TOKENS_PER_MINUTE "
        "(an estimate: its real tokens are known only after it).",
    )
    provider_longest_wait_seconds: int = Field(
        default=600,
        ge=0,
        description="The longest a page waits its turn under the provider's limits; past it "
        "the request is refused with 429 and Retry-After.",
    )
    recovery_interval_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How often a process looks for generations whose "
        "server died (their lease passed) and gives them back.",
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("rate_limit_generation", "rate_limit_sharing")
    @classmethod
    def _is_a_rate(cls, value: str) -> str:
        try:
            parse(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a rate; write it like 20/minute or 100/hour"
            ) from None
        return value

    @model_validator(mode="after")
    def _book_outlives_no_image(self) -> Self:
        # A live book must never point at a staged image the lifecycle rule already expired.
        if self.book_max_age_seconds >= self.staging_lifetime.total_seconds():
            raise ValueError(
                "LW_BOOK_MAX_AGE_SECONDS must be below the staging image lifetime "
                f"(LW_STAGING_EXPIRATION_DAYS={self.staging_expiration_days} days)"
            )
        if self.generation_lease_seconds <= self.page_deadline_seconds:
            # A page still inside its deadline must still hold the book.
            raise ValueError(
                "LW_GENERATION_LEASE_SECONDS must be longer than LW_PAGE_DEADLINE_SECONDS"
            )
        if self.book_ttl_seconds > self.book_max_age_seconds:
            raise ValueError("LW_BOOK_TTL_SECONDS must not exceed LW_BOOK_MAX_AGE_SECONDS")
        if self.jwt_algorithm not in {"HS256", "HS384", "HS512", "RS256", "ES256"}:
            raise ValueError("LW_JWT_ALGORITHM must be one of HS256/HS384/HS512/RS256/ES256")
        self._check_token_keys()
        oidc = (self.oidc_authorize_url, self.oidc_token_url, self.oidc_client_id)
        if any(oidc) and not all(oidc):
            raise ValueError(
                "LW_OIDC_AUTHORIZE_URL, LW_OIDC_TOKEN_URL and LW_OIDC_CLIENT_ID go together"
            )
        return self

    def _check_token_keys(self) -> None:
        asymmetric = self.jwt_algorithm.startswith(("RS", "ES"))
        if self.jwt_jwks_url is not None:
            if not asymmetric:
                raise ValueError("LW_JWT_JWKS_URL needs LW_JWT_ALGORITHM=RS256 or ES256")
            if self.jwt_public_key:
                raise ValueError("set LW_JWT_JWKS_URL or LW_JWT_PUBLIC_KEY, not both")
            if not self.jwt_issuer:
                raise ValueError("LW_JWT_JWKS_URL needs LW_JWT_ISSUER (the provider's `iss`)")
            if not self.jwt_jwks_url.startswith(("https://", "http://")):
                raise ValueError("LW_JWT_JWKS_URL must be an http(s) URL")
        elif asymmetric and not self.jwt_public_key:
            raise ValueError(
                f"LW_JWT_ALGORITHM={self.jwt_algorithm} needs LW_JWT_PUBLIC_KEY or LW_JWT_JWKS_URL"
            )

    @property
    def local_base_url(self) -> str:
        """Where `littlewriter serve` answers on this machine by default."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def staging_lifetime(self) -> timedelta:
        return timedelta(days=self.staging_expiration_days)

    @property
    def sqlite_url(self) -> str:
        return f"sqlite:///{(self.data_dir / 'littlewriter.db').resolve()}"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or self.sqlite_url

    @property
    def embedded_backends(self) -> list[str]:
        embedded = []
        if self.redis_url is None:
            embedded.append("book store (in-process fakeredis)")
        if self.database_url is None:
            embedded.append("database (SQLite)")
        if self.s3_bucket is None:
            embedded.append("images (local disk)")
        return embedded
