"""Load generator for scripts/bench/pledges in Python (asyncio + httpx), the alternative to wrk.

Run in its own process: python _pledge_client.py URL CODES_FILE OFFSET CONCURRENCY SECONDS INITIATIVES AMOUNT NONCE
Prints one line `BENCH_RESULT <json>` with the same fields as pledges.lua.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import httpx


async def main() -> None:
    url, codes_file, offset, concurrency, seconds, initiatives, amount, nonce = sys.argv[1:9]
    with open(codes_file) as handle:
        codes = [line.strip() for line in handle if line.strip()]
    inits = [int(part) for part in initiatives.split(",")]
    first, clients, duration = int(offset), int(concurrency), float(seconds)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    samples: list[str] = []
    errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    counter = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10.0) as client:
        started = time.perf_counter()
        deadline = started + duration

        async def worker() -> None:
            nonlocal counter
            while time.perf_counter() < deadline:
                n = first + counter
                counter += 1
                body: dict[str, object] = {
                    "code": codes[n % len(codes)],
                    "initiative_id": inits[n % len(inits)],
                }
                if amount:
                    body["amount_cents"] = int(amount)
                t0 = time.perf_counter()
                try:
                    response = await client.post(
                        "/api/v1/pledges", json=body, headers={"Idempotency-Key": f"{nonce}-{n}"}
                    )
                except httpx.TimeoutException:
                    errors["timeout"] += 1
                    continue
                except httpx.HTTPError:
                    errors["read"] += 1
                    continue
                latencies.append(time.perf_counter() - t0)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code != 201 and len(samples) < 5:
                    samples.append(f"{response.status_code} {response.text[:300]}")

        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> int:
        return (
            int(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1e6) if latencies else 0
        )

    non201 = sum(count for status, count in statuses.items() if status != 201)
    errors["status"] = sum(count for status, count in statuses.items() if status >= 400)
    result = {
        "completed": len(latencies),
        "duration_us": int(elapsed * 1e6),
        "sent": counter,
        "non201": non201,
        "errors": errors,
        "latency_us": {
            "p50": pct(50),
            "p90": pct(90),
            "p99": pct(99),
            "p999": pct(99.9),
            "max": int(latencies[-1] * 1e6) if latencies else 0,
            "mean": sum(latencies) / len(latencies) * 1e6 if latencies else 0.0,
        },
        "statuses": ",".join(f"{status}x{count}" for status, count in statuses.items() if status != 201),
        "samples": " | ".join(samples),
    }
    print("BENCH_RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
