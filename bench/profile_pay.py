"""Profile the pay path in-process: N payments through the Flask test client under pyinstrument.

Dev-only: `pip install pyinstrument` into the venv (not a project dependency), seed the bench city
(`python -m bench.seed`), then `python -m bench.profile_pay [N]`. Writes
bench/results/profile_pay.txt (and .html) and prints the top of the call tree (wall time), then
runs N more payments under cProfile and prints the CPU time by package and the number of
database round trips per payment.
"""

from __future__ import annotations

import json
import sys
import time
import uuid

from bench import common
from bench.capture import mint_token


def main(count: int = 300) -> None:
    from pyinstrument import Profiler

    city = json.loads((common.RESULTS / "city.json").read_text())
    app = common.make_app()
    client = app.test_client()
    tokens = [mint_token(app, common.stable_id("usr", "u", n)) for n in range(1, 201)]
    stickers = [m["token"] for m in city["merchants"][:50]]

    def pay(i):
        response = client.post(
            "/api/v1/payments",
            json={"token": stickers[i % len(stickers)], "amount": 12_500},
            headers={
                "Authorization": f"Bearer {tokens[i % len(tokens)]}",
                "Idempotency-Key": uuid.uuid4().hex,
            },
        )
        assert response.status_code == 201, response.get_json()

    for i in range(20):  # warm caches and connections
        pay(i)
    profiler = Profiler(interval=0.0005)
    started = time.perf_counter()
    profiler.start()
    for i in range(count):
        pay(i)
    profiler.stop()
    elapsed = time.perf_counter() - started
    text = profiler.output_text(unicode=True, color=False, show_all=False)
    (common.RESULTS / "profile_pay.txt").write_text(text)
    (common.RESULTS / "profile_pay.html").write_text(profiler.output_html())
    print(f"{count} payments in {elapsed:.2f} s: {1000 * elapsed / count:.2f} ms each (one thread)")
    print(text[:12000])
    by_package(pay, count)


def by_package(pay, count: int) -> None:
    """CPU seconds per payment by the package whose code ran (cProfile tottime, grouped)."""
    import cProfile
    import pstats
    from collections import defaultdict

    profile = cProfile.Profile()
    cpu = time.process_time()
    profile.enable()
    for i in range(count):
        pay(10_000 + i)
    profile.disable()
    cpu = time.process_time() - cpu
    groups = defaultdict(float)
    stats = pstats.Stats(profile)
    for (filename, _, function), (_, _, tottime, _, _) in stats.stats.items():
        if "site-packages/" in filename:
            name = filename.split("site-packages/", 1)[1].split("/", 1)[0]
        elif "/gateway/" in filename:
            name = "gateway"
        elif filename == "~":
            name = f"builtin {function}"[:40]
        else:
            name = "stdlib " + filename.rsplit("/", 1)[-1]
        groups[name] += tottime
    total = sum(groups.values())
    print(f"\nCPU: {1000 * cpu / count:.2f} ms per payment (process time); by package (cProfile):")
    for name, seconds in sorted(groups.items(), key=lambda item: -item[1])[:18]:
        print(f"  {name:<42} {1000 * seconds / count:7.2f} ms  {100 * seconds / total:5.1f} %")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
