"""An allocation-heavy, threaded Python workload with deterministic output."""
import hashlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor


def work(seed):
    data = {}
    for i in range(30000):
        key = f"k{seed}-{i}"
        data[key] = [i, str(i) * (i % 7), {"n": i, "s": key[::-1]}]
    # Churn: drop and rebuild part of it, as real programs do.
    for i in range(0, 30000, 3):
        del data[f"k{seed}-{i}"]
    text = json.dumps(sorted(data.items())[:2000])
    return hashlib.sha256(text.encode()).hexdigest()


results = {}
lock = threading.Lock()


def run(seed):
    digest = work(seed)
    with lock:
        results[seed] = digest


with ThreadPoolExecutor(max_workers=4) as pool:
    list(pool.map(run, range(12)))

print(hashlib.sha256("".join(results[k] for k in sorted(results)).encode()).hexdigest())
print(len(results), "threads-of-work done")
