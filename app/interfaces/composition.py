"""The composition root: the one place that builds every client and adapter, and wires use cases.

`build_services` runs inside the FastAPI lifespan (and in CLI commands); nothing is built at import.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace.export import SpanExporter
from pydantic import SecretStr
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import Engine

from app.application.background import BackgroundJobs
from app.application.concurrency import stop
from app.application.errors import ImageStorageUnavailable
from app.application.ports import (
    AddressLimits,
    BookInProgressRepository,
    Clock,
    ContentModerator,
    ContextGenerator,
    FinishedBookRepository,
    GenerationQueue,
    IdempotencyStore,
    IdGenerator,
    Illustrator,
    ImageStorage,
    QuestionGenerator,
)
from app.application.ports.audit import AdminAuditLog
from app.application.ports.sharing import ShareLinkRepository
from app.application.use_cases.finish_book import FINISH_STEPS, Checkpoint
from app.application.wiring import Timings, UseCases, build_use_cases
from app.domain.values import BookLifetime
from app.infrastructure.database.audit_log import SqlAdminAuditLog
from app.infrastructure.database.engine import build_engine
from app.infrastructure.database.migrations import is_at_head, upgrade_to_head
from app.infrastructure.database.repository import SqlFinishedBookRepository
from app.infrastructure.database.share_links import SqlShareLinkRepository
from app.infrastructure.exports.renderer import FileRenderer
from app.infrastructure.generation.offline import (
    OfflineContextGenerator,
    OfflineModerator,
    OfflineQuestionGenerator,
    PillowIllustrator,
)
from app.infrastructure.generation.openai import (
    OpenAIConfig,
    OpenAIContextGenerator,
    OpenAIIllustrator,
    OpenAIModerator,
    OpenAIQuestionGenerator,
    build_openai_client,
)
from app.infrastructure.images.local import LocalImageStorage
from app.infrastructure.images.s3 import S3ImageStorage, build_s3_client, ensure_lifecycle_rule
from app.infrastructure.images.signing import ImageUrlSigner
from app.infrastructure.images.sweep import run_sweeper
from app.infrastructure.jobs.in_process import InProcessGenerationQueue
from app.infrastructure.jobs.saq_queue import HEARTBEAT_SECONDS, SaqGenerationQueue
from app.infrastructure.jwks import JwksKeys
from app.infrastructure.limits import RedisAddressLimits, RedisGenerationLimits
from app.infrastructure.metrics import (
    MeasuredAddressLimits,
    MeasuredBookStore,
    MeasuredContextGenerator,
    MeasuredIllustrator,
    MeasuredLimits,
    MeasuredModerator,
    MeasuredProviderCapacity,
    MeasuredQuestionGenerator,
    ServiceMetrics,
)
from app.infrastructure.provider_capacity import KEY_PREFIX as PROVIDER_KEY_PREFIX
from app.infrastructure.provider_capacity import ProviderLimits, RedisProviderCapacity
from app.infrastructure.settings import Environment, Settings
from app.infrastructure.share_tokens import HmacShareTokens
from app.infrastructure.store.embedded import embedded_redis
from app.infrastructure.store.redis_books import RedisBookStore
from app.infrastructure.store.redis_events import RedisEventFeed
from app.infrastructure.store.redis_idempotency import RedisIdempotencyStore
from app.infrastructure.system import RandomIds, SystemClock
from app.infrastructure.tokens import (
    ConfigurationError,
    TokenCodec,
    resolve_link_key,
    resolve_share_key,
)
from app.infrastructure.tracing import TracedBackgroundJobs, Tracing

if TYPE_CHECKING:  # the stubs are a development dependency
    from mypy_boto3_s3 import S3Client

log = logging.getLogger("littlewriter")

# Redis policies that may evict a key with a TTL; every book in progress has one.
_EVICTING_POLICIES = ("volatile-", "allkeys-")


@dataclass(frozen=True)
class Overrides:
    """Adapters a test (or a bench) supplies instead of the configured ones."""

    context_generator: ContextGenerator | None = None
    question_generator: QuestionGenerator | None = None
    illustrator: Illustrator | None = None
    moderator: ContentModerator | None = None
    clock: Clock | None = None
    ids: IdGenerator | None = None
    span_exporter: SpanExporter | None = None  # tracing on, into this exporter


@dataclass(frozen=True)
class Services:
    settings: Settings
    clock: Clock
    tokens: TokenCodec
    store: BookInProgressRepository
    finished: FinishedBookRepository
    images: ImageStorage
    local_images: LocalImageStorage | None
    use_cases: UseCases
    address_limits: AddressLimits
    idempotency: IdempotencyStore
    events: RedisEventFeed
    jobs: BackgroundJobs
    queue: GenerationQueue
    metrics: ServiceMetrics
    tracing: Tracing


def check_production(settings: Settings) -> None:
    _failpoint(settings)
    if settings.env is not Environment.PRODUCTION:
        return
    if settings.jwt_algorithm.startswith("HS"):
        _check_secret("LW_JWT_SECRET", settings.jwt_secret)
    _check_secret("LW_IMAGE_URL_SECRET", settings.image_url_secret)
    if settings.metrics_token is not None:
        _check_secret("LW_METRICS_TOKEN", settings.metrics_token)
    if settings.jwt_jwks_url is not None and not settings.jwt_jwks_url.startswith("https://"):
        raise ConfigurationError(
            "LW_JWT_JWKS_URL must be https:// in production: the keys it serves decide who signs in"
        )
    if settings.public_base_url is None:
        raise ConfigurationError(
            "LW_PUBLIC_BASE_URL must be set in production: image links would follow the "
            "client's Host header"
        )
    if (
        settings.jwt_secret is not None
        and settings.image_url_secret is not None
        and hmac.compare_digest(
            settings.jwt_secret.get_secret_value().encode(),
            settings.image_url_secret.get_secret_value().encode(),
        )
    ):
        raise ConfigurationError(
            "LW_IMAGE_URL_SECRET must differ from LW_JWT_SECRET: a leaked image link key "
            "must not sign tokens"
        )
    if settings.embedded_backends and not settings.allow_embedded_in_production:
        raise ConfigurationError(
            "production refuses embedded backends: "
            + ", ".join(settings.embedded_backends)
            + " (set their LW_* settings, or LW_ALLOW_EMBEDDED_IN_PRODUCTION=true)"
        )


# Secrets shorter than this can be guessed offline from one signed token or link.
MIN_SECRET_BYTES = 32
# Values that appear in examples and tutorials: a deployment that copied one has no secret.
EXAMPLE_SECRETS = frozenset(
    {
        "changeme-changeme-changeme-changeme",
        "your-256-bit-secret-your-256-bit-secret",
        "please-change-this-secret-in-production",
        "littlewriter-development-secret-do-not-use",
    }
)


def _check_secret(name: str, value: SecretStr | None) -> None:
    """Production refuses a missing, short or example secret."""
    if value is None:
        raise ConfigurationError(f"{name} must be set in production")
    secret = value.get_secret_value()
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ConfigurationError(
            f"{name} must be at least {MIN_SECRET_BYTES} bytes in production "
            "(e.g. `openssl rand -hex 32`)"
        )
    if secret.strip().lower() in EXAMPLE_SECRETS or len(set(secret)) < 8:
        raise ConfigurationError(f"{name} is an example or repeated value; generate a random one")


def _provider_keys(settings: Settings) -> JwksKeys | None:
    """The identity provider's JWKS client, when tokens come from one."""
    if settings.jwt_jwks_url is None:
        return None
    return JwksKeys(
        settings.jwt_jwks_url,
        algorithm=settings.jwt_algorithm,
        lifespan=settings.jwt_jwks_cache_seconds,
        cooldown=settings.jwt_jwks_cooldown_seconds,
        timeout=settings.jwt_jwks_timeout_seconds,
    )


def _failpoint(settings: Settings) -> str | None:
    """The finish step named by LW_FAILPOINT (test only); a name that is no step refuses."""
    step = settings.failpoint
    if step is None:
        return None
    if step not in FINISH_STEPS:
        raise ConfigurationError(
            f"LW_FAILPOINT={step!r} is not a step of a finish; use one of {', '.join(FINISH_STEPS)}"
        )
    if settings.env is Environment.PRODUCTION:
        raise ConfigurationError("LW_FAILPOINT is for tests only; production refuses it")
    return step


def finish_checkpoint(settings: Settings) -> Checkpoint | None:
    """With LW_FAILPOINT set, a checkpoint that kills the process at that step of a finish: no
    cleanup, no response, exactly like a crash (exit status 97). None when it is unset."""
    failpoint = _failpoint(settings)
    if failpoint is None:
        return None
    log.warning("LW_FAILPOINT=%s: the process will exit at that step of a finish", failpoint)

    def checkpoint(step: str) -> None:
        if step == failpoint:
            log.critical("failpoint %s reached: exiting now without cleanup", step)
            os._exit(97)

    return checkpoint


def _reconnecting() -> dict[str, Any]:
    """A pooled connection whose peer reset it (a failover, a proxy restart) fails once when
    next used; uvloop says so with a RuntimeError ("the handler is closed"), which redis-py
    does not count as a connection error. It is one: drop the connection and try again. Not on
    a timeout: a Redis that does not answer would only make each request wait three timeouts
    instead of one."""
    return {
        "retry": Retry(
            ExponentialBackoff(cap=0.25, base=0.02), 2, supported_errors=(RedisConnectionError,)
        ),
        "retry_on_error": [RuntimeError],
    }


async def _redis_client(settings: Settings) -> Redis:
    assert settings.redis_url is not None
    # A blocking pool: past its size a command waits (up to the timeout) for a connection
    # instead of failing at once, as the default pool does past 100.
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        **_reconnecting(),
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        socket_timeout=settings.redis_timeout_seconds,
        health_check_interval=30,
    )
    client: Redis = Redis.from_pool(pool)  # owns the pool: closing the client closes it
    try:
        policy = (await client.config_get("maxmemory-policy")).get("maxmemory-policy", "")
    except Exception as error:  # noqa: BLE001 - managed Redis often forbids CONFIG
        log.warning("could not read Redis maxmemory-policy (%s); make sure it is noeviction", error)
        return client
    if str(policy).startswith(_EVICTING_POLICIES):
        await client.aclose()
        raise ConfigurationError(
            f"Redis maxmemory-policy is {policy!r}, which can evict books in progress "
            "(they all have a TTL); use noeviction"
        )
    return client


async def _database(settings: Settings) -> Engine:
    if settings.database_url is None:  # the embedded SQLite: its busy timeout stays as it is
        engine = build_engine(settings.effective_database_url)
    else:
        timeout = settings.database_timeout_seconds
        engine = build_engine(
            settings.database_url,
            connect_timeout=timeout,
            read_timeout=timeout,
            write_timeout=timeout,
            pool_timeout=timeout,
        )
    if settings.database_url is None:
        await asyncio.to_thread(upgrade_to_head, engine)
    elif not await asyncio.to_thread(is_at_head, engine):
        engine.dispose()
        raise ConfigurationError(
            "the database is not migrated to the latest schema: run `littlewriter migrate`"
        )
    return engine


@dataclass(frozen=True)
class Generators:
    context_generator: ContextGenerator
    question_generator: QuestionGenerator
    illustrator: Illustrator
    moderator: ContentModerator


async def _generators(settings: Settings, stack: contextlib.AsyncExitStack) -> Generators:
    """OpenAI (or any OpenAI-compatible server) with a key; the offline generators without."""
    if settings.openai_api_key is None:
        return Generators(
            OfflineContextGenerator(),
            OfflineQuestionGenerator(),
            PillowIllustrator(),
            OfflineModerator(),
        )
    client = build_openai_client(
        settings.openai_api_key.get_secret_value(),
        settings.openai_base_url,
        settings.openai_timeout_seconds,
        settings.openai_max_retries,
    )
    stack.push_async_callback(client.close)
    config = OpenAIConfig(
        api_style=settings.openai_api_style,
        text_model=settings.openai_text_model,
        image_model=settings.openai_image_model,
        moderation_model=settings.openai_moderation_model,
        image_size=settings.openai_image_size,
        image_quality=settings.openai_image_quality,
        image_moderation=settings.openai_image_moderation,
    )
    moderator = OpenAIModerator(client, config)
    return Generators(
        OpenAIContextGenerator(client, config, moderator),
        OpenAIQuestionGenerator(client, config, moderator),
        OpenAIIllustrator(client, config) if settings.openai_images else PillowIllustrator(),
        moderator,
    )


@dataclass(frozen=True)
class Storage:
    """The durable backends: finished books and images (what `reconcile` needs, and no more)."""

    finished: FinishedBookRepository
    images: ImageStorage
    local_images: LocalImageStorage | None
    share_links: ShareLinkRepository
    audit: AdminAuditLog


@contextlib.asynccontextmanager
async def build_storage(
    settings: Settings, clock: Clock, tracing: Tracing
) -> AsyncIterator[Storage]:
    async with contextlib.AsyncExitStack() as stack:
        engine = await _database(settings)
        stack.callback(engine.dispose)
        tracing.trace_engine(engine)
        finished = SqlFinishedBookRepository(engine, deadline=settings.database_deadline_seconds)
        links = SqlShareLinkRepository(engine, deadline=settings.database_deadline_seconds)
        audit = SqlAdminAuditLog(engine, deadline=settings.database_deadline_seconds)
        if settings.s3_bucket is not None:
            images, s3 = _s3_images(settings, settings.s3_bucket)
            days = settings.staging_expiration_days
            rule = asyncio.create_task(_keep_lifecycle_rule(s3, settings.s3_bucket, days))
            stack.push_async_callback(_cancel, rule)
            # A reachable S3 gets its rule before the first request; an unreachable one later.
            await asyncio.wait({rule}, timeout=settings.s3_connect_timeout_seconds * 2)
            yield Storage(finished, images, None, links, audit)
            return
        signer = ImageUrlSigner(
            resolve_link_key(settings), timedelta(seconds=settings.image_url_ttl_seconds), clock
        )
        local_images = LocalImageStorage(settings.data_dir / "images", signer)
        await local_images.ensure_root()
        yield Storage(finished, local_images, local_images, links, audit)


@contextlib.asynccontextmanager
async def build_book_store(settings: Settings) -> AsyncIterator[BookInProgressRepository | None]:
    """The books in progress on the configured Redis, for maintenance commands; None when the
    store is embedded (it lives in the serving process, which repairs its indexes at start)."""
    if settings.redis_url is None:
        yield None
        return
    redis = await _redis_client(settings)
    try:
        yield RedisBookStore(client=redis)
    finally:
        await redis.aclose()


def _s3_images(settings: Settings, bucket: str) -> tuple[S3ImageStorage, S3Client]:
    def client(endpoint_url: str | None) -> S3Client:
        return build_s3_client(
            endpoint_url,
            settings.s3_region,
            connect_timeout=settings.s3_connect_timeout_seconds,
            read_timeout=settings.s3_read_timeout_seconds,
            max_attempts=settings.s3_max_attempts,
        )

    s3 = client(settings.s3_endpoint_url)
    presigner = client(settings.s3_public_endpoint_url) if settings.s3_public_endpoint_url else None
    ttl = timedelta(seconds=settings.image_url_ttl_seconds)
    images = S3ImageStorage(
        s3, bucket, ttl, presigner=presigner, deadline=settings.s3_deadline_seconds
    )
    return images, s3


async def _keep_lifecycle_rule(s3: S3Client, bucket: str, days: int, retry: float = 30.0) -> None:
    """Ensure the staging expiry rule; while S3 is unreachable keep trying, so that the service
    still starts (and answers 503, with /ready naming the images) instead of refusing to."""
    while True:
        try:
            await ensure_lifecycle_rule(s3, bucket, days)
        except ImageStorageUnavailable as error:
            log.warning("could not ensure the staging lifecycle rule yet: %s", error)
            await asyncio.sleep(retry)
        else:
            return


@contextlib.asynccontextmanager
async def build_services(
    settings: Settings, overrides: Overrides | None = None
) -> AsyncIterator[Services]:
    overrides = overrides or Overrides()
    check_production(settings)
    checkpoint = finish_checkpoint(settings)
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    clock = overrides.clock or SystemClock()
    ids = overrides.ids or RandomIds()
    tokens = TokenCodec(settings, keys=_provider_keys(settings))
    log.info(
        "data directory %s; tokens checked with %s",
        settings.data_dir,
        tokens.secret_source or settings.jwt_jwks_url or "LW_JWT_PUBLIC_KEY",
    )
    # Blocking adapter calls (S3, SQL, disk, Pillow) share the loop's default executor; its own
    # default of min(32, cpus + 4) threads would make 21 image copies queue on a small machine.
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=32, thread_name_prefix="littlewriter")
    )

    async with contextlib.AsyncExitStack() as stack:
        # First in, so last out: the instrumented clients are closed before it is undone.
        tracing = Tracing.from_environment(overrides.span_exporter)
        stack.callback(tracing.close)
        tracer = tracing.tracer("littlewriter")
        if settings.redis_url is None:
            redis = await stack.enter_async_context(
                embedded_redis(settings.data_dir / "books-in-progress.json")
            )
        else:
            redis = await _redis_client(settings)
            stack.push_async_callback(redis.aclose)
        storage = await stack.enter_async_context(build_storage(settings, clock, tracing))
        if storage.local_images is not None:
            sweeper = asyncio.create_task(
                run_sweeper(
                    storage.local_images.root,
                    settings.staging_lifetime,
                    clock,
                    timedelta(seconds=settings.sweep_interval_seconds),
                ),
                name="staging-sweeper",
            )
            stack.push_async_callback(_cancel, sweeper)

        store = RedisBookStore(
            client=redis,
            events_kept=settings.events_retention,
            finished_kept=timedelta(seconds=settings.idempotency_ttl_seconds),
        )
        events = RedisEventFeed(redis)
        events.start()
        stack.push_async_callback(events.close)
        metrics = ServiceMetrics()
        limits = MeasuredLimits(
            inner=RedisGenerationLimits.from_settings(client=redis, settings=settings),
            metrics=metrics,
        )
        capacity = MeasuredProviderCapacity(
            inner=RedisProviderCapacity(
                client=redis,
                limits=ProviderLimits.from_settings(settings),
                key_prefix=f"{PROVIDER_KEY_PREFIX}:{settings.job_queue}",
            ),
            metrics=metrics,
        )
        generators = await _generators(settings, stack)
        # Closed first (the stack unwinds in reverse): a cancelled job gives its book back
        # through the store, which must still be open.
        jobs = TracedBackgroundJobs(tracer=tracer) if tracing.enabled else BackgroundJobs()
        stack.push_async_callback(jobs.close)
        queue = await _generation_queue(settings, jobs, tracing, metrics, stack)
        use_cases = build_use_cases(
            books=MeasuredBookStore(inner=store, metrics=metrics),
            finished=storage.finished,
            images=storage.images,
            context_generator=MeasuredContextGenerator(
                inner=overrides.context_generator or generators.context_generator,
                metrics=metrics,
                tracer=tracer,
            ),
            question_generator=MeasuredQuestionGenerator(
                inner=overrides.question_generator or generators.question_generator,
                metrics=metrics,
                tracer=tracer,
            ),
            illustrator=MeasuredIllustrator(
                inner=overrides.illustrator or generators.illustrator,
                metrics=metrics,
                tracer=tracer,
            ),
            moderator=MeasuredModerator(
                inner=overrides.moderator or generators.moderator,
                metrics=metrics,
                tracer=tracer,
            ),
            limits=limits,
            queue=queue,
            capacity=capacity,
            share_links=storage.share_links,
            share_tokens=HmacShareTokens(key=resolve_share_key(settings)),
            audit=storage.audit,
            renderer=FileRenderer(),
            clock=clock,
            ids=ids,
            timings=Timings(
                lifetime=BookLifetime(
                    ttl=timedelta(seconds=settings.book_ttl_seconds),
                    max_age=timedelta(seconds=settings.book_max_age_seconds),
                ),
                lease=timedelta(seconds=settings.generation_lease_seconds),
                finish_lease=timedelta(seconds=settings.finish_lease_seconds),
                deadline=timedelta(seconds=settings.page_deadline_seconds),
            ),
            checkpoint=checkpoint,
        )
        await _run_jobs(settings, queue, use_cases, stack)
        recovery = asyncio.create_task(
            use_cases.recover.run_forever(timedelta(seconds=settings.recovery_interval_seconds)),
            name="lease-recovery",
        )
        stack.push_async_callback(_cancel, recovery)
        yield Services(
            settings=settings,
            clock=clock,
            tokens=tokens,
            store=store,
            finished=storage.finished,
            images=storage.images,
            local_images=storage.local_images,
            use_cases=use_cases,
            address_limits=MeasuredAddressLimits(
                inner=RedisAddressLimits(client=redis, rate=settings.rate_limit_sharing),
                metrics=metrics,
            ),
            idempotency=RedisIdempotencyStore(redis),
            events=events,
            jobs=jobs,
            queue=queue,
            metrics=metrics,
            tracing=tracing,
        )


# Beyond the worker's slots: enqueueing, watching results, the worker's upkeep, the subscription.
_QUEUE_SPARE_CONNECTIONS = 32


async def _generation_queue(
    settings: Settings,
    jobs: BackgroundJobs,
    tracing: Tracing,
    metrics: ServiceMetrics,
    stack: contextlib.AsyncExitStack,
) -> InProcessGenerationQueue | SaqGenerationQueue:
    """On a real Redis, a durable queue there (SAQ); embedded, the process's own tasks."""
    if settings.redis_url is None:
        return InProcessGenerationQueue(jobs=jobs)
    # Its own connections: each of a worker's slots holds one while it waits for a job, and
    # completion is watched on a subscription; neither may take the request path's.
    # No read timeout: a slot blocks on Redis while it waits for a job, and the subscription
    # waits for news; health checks find a connection that died meanwhile.
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        **_reconnecting(),
        max_connections=settings.worker_concurrency + _QUEUE_SPARE_CONNECTIONS,
        timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        health_check_interval=10,
    )
    redis = Redis.from_pool(pool)
    queue = SaqGenerationQueue(
        redis=redis,
        # A page's text and then its picture each hold the book for a lease: past both, its
        # recovery has given the work back. The heartbeat, not this, notices a dead worker.
        job_timeout_seconds=2 * settings.generation_lease_seconds + 2 * HEARTBEAT_SECONDS,
        command_timeout_seconds=settings.redis_timeout_seconds,
        name=settings.job_queue,
        tracer=tracing.tracer("littlewriter"),
        metrics=metrics,
    )
    await queue.connect()  # sets SAQ up; Redis is not reached until a job is queued
    stack.push_async_callback(queue.close)
    return queue


async def _run_jobs(
    settings: Settings,
    queue: InProcessGenerationQueue | SaqGenerationQueue,
    use_cases: UseCases,
    stack: contextlib.AsyncExitStack,
) -> None:
    """This process runs jobs: its own, on the in-process queue; on SAQ, a worker unless
    LW_RUN_JOBS=false (separate `littlewriter worker` processes run them)."""
    if isinstance(queue, InProcessGenerationQueue):
        queue.serve(use_cases.jobs)
        return
    if not settings.run_jobs:
        return
    worker = queue.worker(
        use_cases.jobs,
        concurrency=settings.worker_concurrency,
        grace_seconds=settings.shutdown_grace_seconds,
    )
    worker.start()
    # On the way out: no more jobs, the running ones get the grace period, the rest go back.
    stack.push_async_callback(worker.stop)


async def _cancel(task: asyncio.Task[None]) -> None:
    await stop(task)
