"""Allocation-heavy single-threaded Python: objects, strings, dicts, lists
and their garbage, with deterministic output."""
import sys

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 6
total = 0
for r in range(rounds):
    d = {}
    for i in range(150000):
        d[f"key-{i}-{r}"] = [i, str(i) * (i % 5), (i, r)]
    for i in range(0, 150000, 2):
        del d[f"key-{i}-{r}"]
    s = sorted(d.items(), key=lambda kv: kv[1][0] % 1000)
    total += len(s) + sum(len(v[1]) for _, v in s[:5000])
print(total)
