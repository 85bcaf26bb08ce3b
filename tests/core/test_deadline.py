"""core.deadline: asyncio.timeout's semantics at a dictionary entry per use."""

from __future__ import annotations

import asyncio
import time

import pytest

from core import deadline as mod
from core.deadline import MIN_COARSE_S, TICK_S, CoarseDeadline, deadline


async def _forever() -> None:
    await asyncio.Event().wait()


def test_a_body_past_its_deadline_gets_timeout_error_about_on_time() -> None:
    async def main() -> float:
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            async with CoarseDeadline(0.3):
                await _forever()
        return time.monotonic() - t0

    took = asyncio.run(main())
    assert 0.3 <= took < 0.3 + TICK_S + 0.25


def test_a_body_within_its_deadline_is_left_alone_and_the_watchdog_stops() -> None:
    async def main() -> tuple[int, bool]:
        async with CoarseDeadline(5.0):
            await asyncio.sleep(0)
            value = 7
        dog = mod._watchdogs[asyncio.get_running_loop()]
        assert not dog.live
        task = dog.task
        if task is not None:
            await task  # it ends once nothing is watched
        return value, dog.task is None

    assert asyncio.run(main()) == (7, True)


def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    async def main() -> None:
        started = asyncio.Event()

        async def body() -> None:
            async with CoarseDeadline(5.0):
                started.set()
                await _forever()

        task = asyncio.create_task(body())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_nested_deadlines_the_inner_one_fires_and_the_outer_one_goes_on() -> None:
    async def main() -> str:
        async with CoarseDeadline(10.0):
            try:
                async with CoarseDeadline(0.3):
                    await _forever()
            except TimeoutError:
                pass
            await asyncio.sleep(0)  # the task is not left cancelled
            return "outer went on"

    assert asyncio.run(main()) == "outer went on"


def test_the_outer_deadline_fires_through_an_inner_longer_one() -> None:
    async def main() -> str:
        try:
            async with CoarseDeadline(0.3), CoarseDeadline(10.0):
                await _forever()
        except TimeoutError:
            return "outer fired"
        return "no"

    assert asyncio.run(main()) == "outer fired"


def test_short_deadlines_use_asyncio_timeout_and_long_ones_the_coarse_one() -> None:
    async def main() -> tuple[object, object]:
        return deadline(MIN_COARSE_S / 2), deadline(MIN_COARSE_S)

    short, coarse = asyncio.run(main())
    assert isinstance(short, asyncio.timeouts.Timeout)
    assert isinstance(coarse, CoarseDeadline)


def test_each_event_loop_has_its_own_watchdog() -> None:
    async def one() -> None:
        with pytest.raises(TimeoutError):
            async with CoarseDeadline(0.3):
                await _forever()

    asyncio.run(one())
    asyncio.run(one())  # the first loop's watchdog is gone with its loop; this one still fires
