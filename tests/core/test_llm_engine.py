"""llama.cpp's server as the engine: the LLM suite through it, its key, cancellation, restarts."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from core.llm.base import GenerationStats
from core.llm.engine import EngineOptions, EngineProcess, available_cores, engine_binary
from core.llm.factory import build_backend, build_llm
from core.llm.managed import ManagedEngineLLM
from shared_schemas.config import (
    LLM_MODEL_ID,
    CommonSettings,
    EngineLLMConfig,
    LocalLLMConfig,
    OpenAILLMConfig,
)
from tests.core.llm_suite import MESSAGES, LLMBackendContract

pytestmark = [pytest.mark.integration]

LONG = [
    {"role": "system", "content": "You write long stories."},
    {"role": "user", "content": "Tell a very long story about a lighthouse keeper."},
]


def _engine_llm(parallel: int = 2) -> ManagedEngineLLM:
    llm = build_backend(EngineLLMConfig(model_id=LLM_MODEL_ID, threads=2, parallel=parallel))
    assert isinstance(llm, ManagedEngineLLM)
    return llm


@pytest.fixture(scope="module")
def engine_llm() -> Iterator[ManagedEngineLLM]:
    llm = _engine_llm()
    yield llm
    llm.close()


def _busy_slots(llm: ManagedEngineLLM) -> int:
    resp = httpx.get(
        f"http://127.0.0.1:{llm.engine.port}/slots",
        headers={"Authorization": f"Bearer {llm.engine.api_key}"},
        timeout=2,
    )
    resp.raise_for_status()
    return sum(1 for slot in resp.json() if slot.get("is_processing"))


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


class TestEngineLLM(LLMBackendContract):
    """The managed llama.cpp engine against the LLMBackend suite (it reports real usage)."""

    @pytest.fixture
    def llm(self, engine_llm: ManagedEngineLLM) -> ManagedEngineLLM:
        return engine_llm


def test_engine_is_installed_and_found() -> None:
    binary = engine_binary()
    assert binary is not None
    assert binary.name == "llama-server"


def test_engine_listens_on_loopback_behind_a_key(engine_llm: ManagedEngineLLM) -> None:
    engine = engine_llm.engine
    assert engine.options.host == "127.0.0.1"
    assert len(engine.api_key) >= 16
    refused = httpx.get(f"{engine.base_url}/models", timeout=5)
    assert refused.status_code == 401
    ok = httpx.get(
        f"{engine.base_url}/models",
        headers={"Authorization": f"Bearer {engine.api_key}"},
        timeout=5,
    )
    assert ok.status_code == 200
    assert LLM_MODEL_ID in [m["id"] for m in ok.json()["data"]]
    # the key is not on the command line, readable by any user in /proc (issue 27 item 6)
    cmdline = Path(f"/proc/{engine.pid}/cmdline").read_bytes().decode()
    assert engine.api_key not in cmdline
    assert "--api-key-file" in cmdline


def test_a_cancelled_stream_frees_its_slot_and_the_cpu_within_a_second(
    engine_llm: ManagedEngineLLM,
) -> None:
    stats = GenerationStats()
    pieces = engine_llm.stream(LONG, max_new_tokens=1024, stats=stats)  # type: ignore[arg-type]
    first = next(pieces)
    t_first = time.monotonic()
    got = [first, *(next(pieces) for _ in range(3))]
    token_s = (time.monotonic() - t_first) / 3  # this machine's time per token, right now
    assert all(got)
    assert _busy_slots(engine_llm) == 1  # generating now
    stats.cancel()
    rest = list(pieces)  # the adapter stops at the next piece and closes the stream
    assert len(rest) <= 1
    cancelled_at = time.monotonic()
    # the engine notices a closed stream when it writes its next tokens: within a second on a
    # quiet machine; on a loaded one, within a few of its (slower) tokens
    bound = max(1.0, 8 * token_s)
    while _busy_slots(engine_llm) and time.monotonic() - cancelled_at < bound:
        time.sleep(0.02)  # poll interval of a bounded wait on the engine's own state
    assert _busy_slots(engine_llm) == 0
    assert time.monotonic() - cancelled_at < bound
    # and the engine's CPU stays still once the slot is free (measured over 0.5 s)
    pid = engine_llm.engine.pid
    assert pid is not None
    before = _cpu_ticks(pid)
    time.sleep(0.5)  # a measurement window, not a synchronisation
    assert _cpu_ticks(pid) - before <= 10  # < 0.1 s of CPU (ticks are 10 ms): idle


def test_a_killed_engine_is_restarted_by_the_next_call() -> None:
    llm = _engine_llm(parallel=1)
    try:
        pid = llm.engine.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        assert not llm.ready()
        text = llm.generate(MESSAGES, max_new_tokens=8)  # type: ignore[arg-type]
        assert text
        assert llm.engine.pid != pid
        assert llm.ready()
    finally:
        llm.close()
    assert not llm.engine.alive()


def test_auto_takes_the_engine_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TANDEM_LLM_URL", raising=False)
    llm = build_llm(CommonSettings(llm_backend="auto", llm_engine_threads=1, llm_engine_parallel=1))
    try:
        assert isinstance(llm, ManagedEngineLLM)
        assert llm.generate(MESSAGES, max_new_tokens=4)  # type: ignore[arg-type]
    finally:
        llm.close()


def test_auto_resolves_by_what_is_there() -> None:
    settings = CommonSettings(llm_backend="auto")
    assert isinstance(settings.llm_config(engine_installed=True), EngineLLMConfig)
    assert isinstance(settings.llm_config(engine_installed=False), LocalLLMConfig)
    with_url = CommonSettings(llm_backend="auto", llm_url="http://127.0.0.1:9/v1")
    assert isinstance(with_url.llm_config(engine_installed=True), OpenAILLMConfig)
    assert isinstance(
        CommonSettings(llm_backend="engine").llm_config(url="http://127.0.0.1:9/v1"),
        OpenAILLMConfig,
    )


def test_batches_take_every_core_waiting_passively_when_one_thread_decodes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def flag(argv: list[str], name: str) -> str:
        return argv[argv.index(name) + 1]

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    gguf = tmp_path / "m.gguf"
    one = EngineOptions(gguf_path=gguf, threads=1)
    argv = one.argv(Path("llama-server"), 1, Path("key"))
    cores = available_cores()
    assert (flag(argv, "--threads"), flag(argv, "--threads-batch")) == ("1", str(cores))
    assert one.env().get("OMP_WAIT_POLICY") == ("PASSIVE" if cores > 1 else None)
    # a node sized for the engine: batches as wide as decode, OpenMP's own waiting
    many = EngineOptions(gguf_path=gguf, threads=4)
    assert flag(many.argv(Path("llama-server"), 1, Path("key")), "--threads-batch") == "4"
    assert "OMP_WAIT_POLICY" not in many.env()
    explicit = EngineOptions(gguf_path=gguf, threads=3, threads_batch=5)
    argv = explicit.argv(Path("llama-server"), 1, Path("key"))
    assert (flag(argv, "--threads"), flag(argv, "--threads-batch")) == ("3", "5")
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # the operator's choice wins
    assert EngineOptions(gguf_path=gguf, threads=1, threads_batch=2).env()["OMP_WAIT_POLICY"] == (
        "ACTIVE"
    )
    config = CommonSettings(llm_engine_threads_batch=7).llm_config(engine_installed=True)
    assert isinstance(config, EngineLLMConfig)
    assert config.threads_batch == 7


def test_cores_follow_the_affinity_mask_and_the_cgroup_quota(tmp_path: Path) -> None:
    mask = len(os.sched_getaffinity(0))
    cpu_max = tmp_path / "cpu.max"
    assert available_cores(cpu_max) == mask  # no cgroup file: the mask
    cpu_max.write_text("max 100000\n")
    assert available_cores(cpu_max) == mask  # no quota
    cpu_max.write_text("50000 100000\n")  # half a CPU: at least one
    assert available_cores(cpu_max) == 1
    cpu_max.write_text(f"{150000 * mask} 100000\n")  # more quota than cores: the mask
    assert available_cores(cpu_max) == mask
    cpu_max.write_text("garbage\n")
    assert available_cores(cpu_max) == mask


def test_a_missing_gguf_is_a_clear_error(tmp_path: Path) -> None:
    from core.errors import LLMUnavailableError

    with pytest.raises(LLMUnavailableError, match="GGUF file not found"):
        EngineProcess(EngineOptions(gguf_path=tmp_path / "none.gguf"))


def test_llm_serve_refuses_a_public_bind_without_a_real_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tandem_cli.main import app

    monkeypatch.setenv("TANDEM_LLM_API_KEY", "changeme")
    result = CliRunner().invoke(app, ["llm", "serve", "--host", "0.0.0.0", "--port", "1"])
    assert result.exit_code == 2
    assert "placeholder" in result.output
    monkeypatch.delenv("TANDEM_LLM_API_KEY")
    result = CliRunner().invoke(app, ["llm", "serve", "--host", "0.0.0.0", "--port", "1"])
    assert result.exit_code == 2
    assert "blank" in result.output


def test_the_deep_engine_runs_at_a_lower_cpu_priority() -> None:
    """A warm or refine beside the service must not starve live answers: the deep tier's
    engine is started under ``nice`` (TANDEM_DEEP_LLM_ENGINE_NICE, 10), the live one is not."""
    settings = CommonSettings(llm_engine_threads=1, llm_engine_parallel=1)
    fast = settings.llm_config(engine_installed=True)
    deep = settings.for_tier("deep").llm_config(engine_installed=True)
    assert isinstance(fast, EngineLLMConfig)
    assert isinstance(deep, EngineLLMConfig)
    assert (fast.nice, deep.nice) == (0, 10)
    llm = build_llm(settings.for_tier("deep"))
    try:
        assert isinstance(llm, ManagedEngineLLM)
        stat = Path(f"/proc/{llm.engine.pid}/stat").read_text()
        assert int(stat.rsplit(")", 1)[1].split()[16]) == 10  # the process's nice value
        assert llm.generate(MESSAGES, max_new_tokens=2)  # type: ignore[arg-type]
    finally:
        llm.close()


def test_a_cancelled_generation_frees_its_slot(engine_llm: ManagedEngineLLM) -> None:
    """Issue 27 item 3: a non-streamed generation whose caller left (a client gone, a timeout)
    kept its slot decoding to the token cap; it is read as a stream and closed at cancel."""
    import threading

    stats = GenerationStats()
    failed: list[Exception] = []

    def run() -> None:
        try:
            engine_llm.generate(LONG, max_new_tokens=1024, stats=stats)  # type: ignore[arg-type]
        except Exception as exc:
            failed.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 30
    while _busy_slots(engine_llm) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)  # poll interval of a bounded wait on the engine's own state
    assert _busy_slots(engine_llm) == 1
    stats.cancel()
    cancelled_at = time.monotonic()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert failed
    assert "cancelled" in str(failed[0])
    while _busy_slots(engine_llm) and time.monotonic() - cancelled_at < 5.0:
        time.sleep(0.02)  # poll interval of a bounded wait on the engine's own state
    assert _busy_slots(engine_llm) == 0
    # and an uncancelled one still answers whole, with its counts
    done = GenerationStats()
    assert engine_llm.generate(MESSAGES, max_new_tokens=8, stats=done)  # type: ignore[arg-type]
    assert done.tokens > 0


def test_weights_are_not_repacked_where_the_cpu_has_amx(tmp_path: Path) -> None:
    from core.llm.engine import cpu_has_amx

    amx, plain = tmp_path / "amx", tmp_path / "plain"
    amx.write_text("flags\t\t: fpu avx512f avx512_vnni amx_bf16 amx_tile amx_int8\n")
    plain.write_text("flags\t\t: fpu avx2 avx512f\n")
    assert cpu_has_amx(amx)
    assert not cpu_has_amx(plain)
    assert not cpu_has_amx(tmp_path / "absent")
    gguf = tmp_path / "m.gguf"
    argv = EngineOptions(gguf_path=gguf, repack=False).argv(Path("s"), 1, Path("k"))
    assert argv[-1] == "--no-repack"
    assert "--no-repack" not in EngineOptions(gguf_path=gguf, repack=True).argv(
        Path("s"), 1, Path("k")
    )
    auto = EngineOptions(gguf_path=gguf).argv(Path("s"), 1, Path("k"))
    assert ("--no-repack" in auto) is cpu_has_amx()
