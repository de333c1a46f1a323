"""Streaming through the platform versus asking the model server directly, in the same run.

Starts the built-in model server and the web platform (uvicorn, as `./run.sh` does) as
separate processes on a throw-away SQLite database, then alternates rounds of:

- direct:   two concurrent streamed chat completions to the model server (the arena asks both
            sides at once, so the baseline does too), read with httpx;
- platform: one arena turn over the websocket (the platform asks the same two endpoints).

Reports the median time to first token and tokens per second for each, and their ratios.
Usage: .venv/bin/python bench/arena_streaming.py [--rounds 5] [--max-tokens 64]
"""

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets

ROOT = Path(__file__).resolve().parent.parent
MODEL = "SmolLM2-135M-Instruct"
PROMPTS = [
    "What is the capital of France?",
    "Explain photosynthesis in two sentences.",
    "Give me three tips for learning a new language.",
    "Why is the sky blue?",
    "Write a haiku about the sea.",
]
TOKEN = re.compile(r'^<div id="answer-([ab])-\d+" hx-swap-oob="beforeend">')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up")


def platform_prepare(env: dict, max_tokens: int) -> str:
    """Migrate the throw-away database, add a member and two endpoints; return a session id."""
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    script = f"""
import django; django.setup()
from django.contrib.sessions.backends.db import SessionStore
from community.models import Community, User
from community.services import membership_accept_licence
from inference.models import ModelEndpoint
user = User.objects.create_user(email="bench@example.org", password="bench-password-1")
community = Community.objects.create(name="Bench", slug="bench")
membership_accept_licence(user=user, community=community)
for name in ("bench-a", "bench-b"):
    ModelEndpoint.objects.create(name=name, kind="builtin", model_id="{MODEL}", temperature=0.0,
                                 max_tokens={max_tokens}, community=community)
session = SessionStore()
session["_auth_user_id"] = str(user.pk)
session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
session["_auth_user_hash"] = user.get_session_auth_hash()
session.create()
print(session.session_key)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return result.stdout.strip().splitlines()[-1]


async def direct_round(client: httpx.AsyncClient, model_url: str, prompt: str, max_tokens: int) -> list[dict]:
    async def one_side() -> dict:
        body = {
            "model": MODEL,
            "messages": [{"role": "user", "content": prompt}],
            "stream": True,
            "temperature": 0.0,
            "max_tokens": max_tokens,
        }
        start = time.perf_counter()
        first = last = None
        tokens = 0
        async with client.stream("POST", f"{model_url}/chat/completions", json=body) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                choices = json.loads(line[6:]).get("choices") or [{}]
                if choices[0].get("delta", {}).get("content"):
                    last = time.perf_counter()
                    first = first or last
                    tokens += 1
        return {"ttft": first - start, "tokens": tokens, "span": last - first}

    return list(await asyncio.gather(one_side(), one_side()))


async def platform_round(ws_url: str, session: str, prompt: str) -> list[dict]:
    headers = {"Cookie": f"sessionid={session}", "Origin": "http://127.0.0.1"}
    async with websockets.connect(ws_url, additional_headers=headers, max_size=None) as socket_:
        start = time.perf_counter()
        await socket_.send(json.dumps({"prompt": prompt, "conversation": ""}))
        sides = {"a": {"first": None, "last": None, "tokens": 0}, "b": {"first": None, "last": None, "tokens": 0}}
        while True:
            fragment = await socket_.recv()
            now = time.perf_counter()
            match = TOKEN.match(fragment)
            if match:
                side = sides[match.group(1)]
                side["first"] = side["first"] or now
                side["last"] = now
                side["tokens"] += 1
            elif 'class="vote-bar ready"' in fragment or 'class="vote-bar errored"' in fragment:
                break
    return [{"ttft": s["first"] - start, "tokens": s["tokens"], "span": s["last"] - s["first"]} for s in sides.values()]


def summarise(samples: list[dict]) -> tuple[float, float]:
    ttft = statistics.median(s["ttft"] for s in samples)
    rate = statistics.median((s["tokens"] - 1) / s["span"] for s in samples if s["span"] > 0)
    return ttft, rate


async def measure(model_url: str, ws_url: str, session: str, rounds: int, max_tokens: int) -> None:
    direct, platform = [], []
    async with httpx.AsyncClient(timeout=120) as client:
        await direct_round(client, model_url, "Warm up.", 8)  # load the model once
        for index in range(rounds):
            prompt = PROMPTS[index % len(PROMPTS)]
            # Alternate the order so drift on a noisy machine hits both sides alike.
            if index % 2:
                platform += await platform_round(ws_url, session, prompt)
                direct += await direct_round(client, model_url, prompt, max_tokens)
            else:
                direct += await direct_round(client, model_url, prompt, max_tokens)
                platform += await platform_round(ws_url, session, prompt)
    (d_ttft, d_rate), (p_ttft, p_rate) = summarise(direct), summarise(platform)
    print(f"rounds: {rounds} (two concurrent answers each), max_tokens: {max_tokens}")
    print(f"{'':10}{'first token (ms)':>18}{'tokens/s':>12}")
    print(f"{'direct':10}{d_ttft * 1000:18.0f}{d_rate:12.1f}")
    print(f"{'platform':10}{p_ttft * 1000:18.0f}{p_rate:12.1f}")
    print(f"ratio platform/direct: first token {p_ttft / d_ttft:.3f}, tokens/s {p_rate / d_rate:.3f}")
    print(f"overhead: first token {100 * (p_ttft / d_ttft - 1):+.1f}%, throughput {100 * (1 - p_rate / d_rate):+.1f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()

    model_port, web_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATA_DIR": data_dir,
            "MODELS_DIR": str(ROOT / "var" / "models"),
            "MODEL_SERVER_URL": f"http://127.0.0.1:{model_port}/v1",
            "LOG_LEVEL": "WARNING",
        }
        session = platform_prepare(env, args.max_tokens)
        processes = [
            subprocess.Popen(
                [sys.executable, "manage.py", "serve_models", "--port", str(model_port)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "config.asgi:application",
                    "--port",
                    str(web_port),
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=env,
            ),
        ]
        try:
            wait_http(f"http://127.0.0.1:{model_port}/health")
            wait_http(f"http://127.0.0.1:{web_port}/")
            asyncio.run(
                measure(
                    f"http://127.0.0.1:{model_port}/v1",
                    f"ws://127.0.0.1:{web_port}/ws/arena/bench/",
                    session,
                    args.rounds,
                    args.max_tokens,
                )
            )
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)


if __name__ == "__main__":
    main()
