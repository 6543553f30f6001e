"""The simulated provider over loopback HTTP, for tests and benchmarks in another process:
`python -m core.simulator --port N` (or `python -m core.sim_server`). Routes: /v1/chat/completions,
/v1/models, /v1/files, /v1/batches, and /_sim/stats, /_sim/revoke, /_sim/reset, /_sim/batches for the tests that drive it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
from dataclasses import asdict

from aiohttp import web

from .sim_errors import STRUCTURED_OUTPUTS
from .simulator import _JSON, ERROR_STYLES, Simulator, SimulatorConfig

__all__ = ["build_app", "start_server", "main"]

# --- Loopback HTTP server ---------------------------------------------------------------------


def build_app(sim: Simulator) -> web.Application:
    """The simulator as an aiohttp app: /v1/* for the SDK, /_sim/* for tests in another process."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    hanging: set[asyncio.Task[object]] = set()

    async def api(request: web.Request) -> web.StreamResponse:
        res = await sim.handle(request.method, request.path, request.headers, await request.read(), request.query_string)
        if res.action == "respond":
            return web.Response(status=res.status, body=res.body, headers=res.headers)
        if res.action == "hang":
            task = asyncio.current_task()
            if task is not None:
                hanging.add(task)  # cancelled on shutdown, else a 1-hour sleep outlives the server
            try:
                await sim._sleep(sim.config.hang_s)
            finally:
                hanging.discard(task)
        # "drop" (or a hang that ran out): close the socket with nothing sent. aiohttp's write of
        # the response below then fails with a ConnectionError, which it ignores quietly.
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=204)

    def as_json(payload: object, status: int = 200) -> web.Response:
        return web.Response(status=status, body=json.dumps(payload).encode(), content_type=_JSON)

    async def stats(request: web.Request) -> web.Response:
        return as_json({key: asdict(s) for key, s in sim.stats().items()})

    async def revoke(request: web.Request) -> web.Response:
        try:
            key = (await request.json()).get("key")
        except (ValueError, AttributeError):
            key = None
        if not isinstance(key, str):
            return as_json({"error": 'send {"key": "..."}'}, 400)
        sim.revoke(key)
        return as_json({"revoked": True})

    async def batches(request: web.Request) -> web.Response:
        return as_json({"created": sim.batch.created, "answered": dict(sim.batch.answered), "states": {b: d["status"] for b, d in sim.batch.batches.items()}})

    async def finish_batches(request: web.Request) -> web.Response:
        sim.batch.finish_all()
        return as_json({"finished": True})

    async def reset(request: web.Request) -> web.Response:
        sim.reset_stats()
        return as_json({"reset": True})

    async def cancel_hanging(app: web.Application) -> None:
        for task in list(hanging):
            task.cancel()

    app.router.add_get("/_sim/stats", stats)
    app.router.add_post("/_sim/revoke", revoke)
    app.router.add_post("/_sim/reset", reset)
    app.router.add_get("/_sim/batches", batches)
    app.router.add_post("/_sim/batches/finish", finish_batches)
    app.router.add_route("*", "/{tail:.*}", api)
    app.on_shutdown.append(cancel_hanging)
    return app


async def start_server(sim: Simulator, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, int]:
    """Serve `sim` on host:port (0 picks a free port). Stop it with `await runner.cleanup()`."""
    # No access log: it would cost more than answering, and this is a benchmark target.
    runner = web.AppRunner(build_app(sim), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, int(runner.addresses[0][1])


# --- Command line -----------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    d = SimulatorConfig()
    p = argparse.ArgumentParser(prog="python -m core.simulator", description="Simulated OpenAI-compatible provider.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on start)")
    for flag, kind, default in (
        ("--rpm", int, d.rpm),
        ("--tpm", int, d.tpm),
        ("--latency", float, d.latency_s),
        ("--jitter", float, d.latency_jitter_s),
        ("--error-rate", float, d.error_rate),
        ("--p-5xx", float, d.p_5xx),
        ("--p-timeout", float, d.p_timeout),
        ("--p-drop", float, d.p_drop),
        ("--p-nonjson", float, d.p_nonjson),
        ("--hang", float, d.hang_s),
        ("--seed", int, d.seed),
        ("--batch-completion", float, d.batch_completion_s),
    ):
        p.add_argument(flag, type=kind, default=default)
    p.add_argument("--dead-key", action="append", default=[])
    p.add_argument("--no-quota-key", action="append", default=[])
    p.add_argument("--model", action="append", default=None, help="accept only these models (repeatable)")
    p.add_argument(
        "--reasoning-model",
        action="append",
        default=[],
        help="refuse max_tokens and temperatures but 1 for this model, as OpenAI's reasoning models do (repeatable)",
    )
    p.add_argument("--error-style", choices=ERROR_STYLES, default=d.error_style)
    p.add_argument(
        "--structured",
        choices=STRUCTURED_OUTPUTS,
        default=d.structured_outputs,
        help="response_format the provider takes: json_schema (and json_object), json_object only (as DeepSeek), none",
    )
    p.add_argument("--shared-limit", metavar="KEY,KEY", action="append", default=[], help="these keys share one account's limits (repeatable, one group each)")
    p.add_argument("--no-limit-headers", action="store_true", help="send no x-ratelimit-* headers (as DeepSeek, vLLM)")
    p.add_argument("--no-retry-after", action="store_true", help="send no retry-after on a 429")
    return p


async def _serve(sim: Simulator, host: str, port: int) -> None:
    runner, bound = await start_server(sim, host, port)
    shown = f"[{host}]" if ":" in host else host
    print(f"simulator listening on http://{shown}:{bound}/v1", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # Windows has no loop signal handlers
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    config = SimulatorConfig(
        rpm=a.rpm,
        tpm=a.tpm,
        latency_s=a.latency,
        latency_jitter_s=a.jitter,
        error_rate=a.error_rate,
        p_5xx=a.p_5xx,
        p_timeout=a.p_timeout,
        p_drop=a.p_drop,
        p_nonjson=a.p_nonjson,
        hang_s=a.hang,
        dead_keys=frozenset(a.dead_key),
        no_quota_keys=frozenset(a.no_quota_key),
        models=frozenset(a.model) if a.model else None,
        reasoning_models=frozenset(a.reasoning_model),
        error_style=a.error_style,
        structured_outputs=a.structured,
        seed=a.seed,
        batch_completion_s=a.batch_completion,
        shared_limit_groups=tuple(frozenset(k.strip() for k in g.split(",") if k.strip()) for g in a.shared_limit),
        limit_headers=not a.no_limit_headers,
        retry_after=not a.no_retry_after,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(Simulator(config), a.host, a.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
