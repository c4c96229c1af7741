"""Settings of every skycut function, read once from the environment."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from skycut.collection_rules import CollectionRule

if TYPE_CHECKING:
    from skycut.cutout.readplan import ReadCost

__all__ = ["DEFAULT_COLLECTIONS", "Settings", "get_settings"]

DEFAULT_COLLECTIONS = (
    CollectionRule("sample/deepcoadd-*", "deepcoadd", calib_level=3),
    CollectionRule("sample/calexp-*", "calexp", calib_level=2),
)
"""The sample survey's collections (images elsewhere get their folder's name)."""


class Settings(BaseSettings):
    """Configuration shared by the API, the worker and bulk submission.

    Every field is read from an environment variable named ``SKYCUT_<FIELD>``
    (e.g. ``SKYCUT_RESULTS_BUCKET``). The Google clients find emulators only
    through the standard ``*_EMULATOR_HOST`` variables, never through these.
    """

    model_config = SettingsConfigDict(env_prefix="SKYCUT_", extra="ignore")

    project_id: str = Field(
        "skycut-local", description="Google Cloud project holding Firestore and Pub/Sub."
    )
    base_path: str = Field(
        "/api/image/soda", description="URL path under which the SODA service is served."
    )
    public_base_url: str | None = Field(
        None,
        description="Externally visible service base URL; derived from each request if unset.",
    )
    source_buckets: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["skycut-sources"],
        description="Buckets an ID may name (comma separated in the environment).",
    )
    results_bucket: str = Field("skycut-results", description="Bucket receiving cutouts.")
    drop_bucket: str = Field("skycut-drop", description="Bucket whose new files start bulk jobs.")
    results_public_base_url: str | None = Field(
        None,
        description=(
            "If set, results are linked as <this>/<bucket>/<object> (a public bucket or a "
            "storage emulator); otherwise as V4 signed URLs."
        ),
    )
    signed_url_seconds: int = Field(
        3600, gt=0, le=604800, description="Lifetime of signed result URLs (V4: at most 7 days)."
    )
    signing_service_account: str | None = Field(
        None,
        description=(
            "Service account that signs result URLs through IAM signBlob (on Cloud "
            "Functions there is no private key); unset signs with the credentials' own key."
        ),
    )
    jobs_collection: str = Field("skycut-jobs", description="Firestore collection of jobs.")
    job_topic: str = Field("skycut-cutout-jobs", description="Pub/Sub topic of job messages.")
    sync_timeout_seconds: float = Field(
        60.0, gt=0, description="How long a sync request waits for its job."
    )
    destruction_days: float = Field(
        7.0, gt=0, description="Default (and maximum) lifetime of a job and its results."
    )
    execution_duration_seconds: int = Field(
        3600, gt=0, description="Default (and maximum) run time of a job before it is aborted."
    )
    wait_max_seconds: float = Field(
        600.0, gt=0, description="Longest a UWS WAIT blocks (WAIT=-1 waits this long)."
    )
    service_collection: str = Field(
        "skycut-service",
        description=(
            "Firestore collection of service-wide documents: 'status' (operators set "
            "{available: false, note: ...} to drain: availability reports false and new "
            "jobs are refused) and 'throughput' (measured cutout rate, for quotes)."
        ),
    )
    dev_identity: str = Field(
        "dev", description="Owner of requests when not running behind API Gateway."
    )
    trust_gateway_identity: bool = Field(
        False,
        description="Read the caller from X-Apigateway-Api-Userinfo (only behind API Gateway).",
    )
    header_chunk_bytes: int = Field(
        262144,
        gt=2879,
        description="First read of a FITS file: its headers, and a tile table of 4,096 rows.",
    )
    max_bulk_rows: int = Field(1_000_000, gt=0, description="Rows accepted in one drop file.")
    max_combinations: int = Field(
        1000, gt=0, description="Cutouts (ID x stencil x BAND x TIME) one async job may ask for."
    )
    max_cutout_pixels: int = Field(
        100_000_000, gt=0, description="Pixels one cutout may hold, over all its HDUs."
    )
    max_request_bytes: int = Field(
        1024 * 1024, gt=0, description="Largest request body, except BULK file uploads."
    )
    max_bulk_bytes: int = Field(
        256 * 1024 * 1024, gt=0, description="Largest drop file accepted, in bytes."
    )
    job_events_topic: str = Field(
        "skycut-job-events",
        description="Topic a message is published to when a job ends (anyone may subscribe).",
    )
    read_round_trip_seconds: float = Field(
        0.025, gt=0, description="Round-trip time of one storage request, for read planning."
    )
    read_bandwidth_bytes: float = Field(
        100e6, gt=0, description="Bytes per second one storage request delivers."
    )
    read_concurrency: int = Field(
        8, gt=0, description="Range requests one cutout may have in flight at once."
    )
    read_total_bandwidth_bytes: float = Field(
        250e6,
        gt=0,
        description="Bytes per second all of a worker's storage requests share (its network).",
    )
    read_max_span_bytes: int = Field(
        256 * 1024 * 1024,
        gt=0,
        description="Largest byte range one read holds in memory (gaps are not bridged beyond it).",
    )
    cutout_concurrency: int = Field(
        8,
        gt=0,
        description=(
            "Cutouts one job message runs at once in a worker (each mostly waits on "
            "storage round trips); their memory is bounded by cutout_pixels_in_flight."
        ),
    )
    cutout_pixels_in_flight: int = Field(
        200_000_000,
        gt=0,
        description=(
            "Pixels the cutouts running in one worker process hold at once, over all "
            "its messages; a cutout waits until its pixels fit (one larger than this "
            "runs alone)."
        ),
    )
    tasks_per_message: int = Field(
        50, gt=0, description="Cutouts carried by one job message of a bulk job."
    )
    job_lease_seconds: float = Field(
        900.0,
        gt=0,
        description=(
            "A QUEUED or EXECUTING job that finishes no cutout for this long is taken "
            "over by the sweep, which publishes its uncounted messages again."
        ),
    )
    max_job_recoveries: int = Field(
        3,
        ge=0,
        description=(
            "Republications the sweep makes for a job that still finishes nothing; "
            "after them the job ends in ERROR."
        ),
    )

    images_collection: str = Field(
        "skycut-images",
        description="Firestore collection of the image index (one document per source object).",
    )
    collections: list[CollectionRule] = Field(
        default_factory=lambda: list(DEFAULT_COLLECTIONS),
        description=(
            "Rules naming the ObsCore collection of indexed images, first match wins, as JSON: "
            '[{"pattern": "survey/deepcoadd-*", "collection": "deepcoadd", "calib_level": 3}]; '
            "a pattern is a glob over the object name (or the whole gs:// ID if it starts "
            "with gs://). Images no rule names are in their top-level folder's collection."
        ),
    )
    filters: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description=(
            "Filter names (FILTER/BANDPASS cards) → [em_min, em_max] in metres, as JSON; "
            "added to, or replacing, the built-in table of u g r i z y J H Ks."
        ),
    )
    index_chunk_bytes: int = Field(
        65536, gt=2879, description="First read of a file being indexed, to catch its headers."
    )
    sia_default_maxrec: int = Field(
        1000, gt=0, description="Records an SIA query returns when it gives no MAXREC."
    )
    sia_max_maxrec: int = Field(
        10000, gt=0, description="Most records one SIA query returns, whatever its MAXREC."
    )
    max_images_per_position: int = Field(
        1000,
        gt=0,
        description="Images one position of an ID-less cutout request may be cut from.",
    )
    mosaic_sync_max_pixels: int = Field(
        4_194_304,
        gt=0,
        description="Output pixels (width x height) one synchronous mosaic may have (2048²).",
    )
    mosaic_sync_max_inputs: int = Field(
        16,
        gt=0,
        description="Input images one synchronous mosaic (each band of a colour one) may use.",
    )
    mosaic_sync_max_area: float = Field(
        4.0, gt=0, description="Sky area one synchronous mosaic may cover, in square degrees."
    )
    mosaic_max_plane_pixels: int = Field(
        16_777_216,
        gt=0,
        description=(
            "Reprojected pixels one synchronous mosaic may hold in memory (output pixels "
            "times the inputs covering them; 16 bytes each): 4 inputs over 2048², 16 over 1024²."
        ),
    )

    mosaic_topic: str = Field(
        "skycut-mosaic-jobs",
        description="Pub/Sub topic of the asynchronous mosaic jobs' stage messages.",
    )
    mosaic_max_pixels: int = Field(
        67_108_864,
        gt=0,
        description="Output pixels (width x height) one asynchronous mosaic may have (8192²).",
    )
    mosaic_max_inputs: int = Field(
        256,
        gt=0,
        description="Input images one asynchronous mosaic (each band of a colour one) may use.",
    )
    mosaic_max_area: float = Field(
        100.0, gt=0, description="Sky area one asynchronous mosaic may cover, in square degrees."
    )
    mosaic_tile_size: int = Field(
        2048,
        gt=0,
        description=(
            "Side in pixels of the tiles an asynchronous mosaic is made in: one reprojection "
            "task per input and tile, one coadd per tile, one tile in a worker's memory at a time."
        ),
    )
    mosaic_units_per_message: int = Field(
        4, gt=0, description="Reprojection tasks one mosaic stage message carries (others: one)."
    )

    @field_validator("source_buckets", mode="before")
    @classmethod
    def _split_buckets(cls, value: object) -> object:
        if isinstance(value, str):
            return [b.strip() for b in value.split(",") if b.strip()]
        return value

    @field_validator("base_path")
    @classmethod
    def _normalise_base_path(cls, value: str) -> str:
        return "/" + value.strip("/") if value.strip("/") else ""

    def read_cost(self) -> ReadCost:
        """Return the read planner's cost model these settings describe (the ``read_*`` ones)."""
        from skycut.cutout.readplan import ReadCost  # the engine, loaded only when cutting

        return ReadCost(
            round_trip=self.read_round_trip_seconds,
            bandwidth=self.read_bandwidth_bytes,
            max_concurrency=self.read_concurrency,
            total_bandwidth=self.read_total_bandwidth_bytes,
            max_span_bytes=self.read_max_span_bytes,
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read from the environment once."""
    return Settings()
