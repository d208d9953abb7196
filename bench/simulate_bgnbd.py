"""Simulates customer summaries from BG/NBD (purchases) and Gamma-Gamma (spend) with known
parameters, at day resolution, in weeks: prints CSV rows frequency,recency,tenure,monetary.
Usage: python3 bench/simulate_bgnbd.py CUSTOMERS SEED [MIN_DAYS MAX_DAYS] > file.csv
(tenure drawn uniformly in whole days, default 140..280: 20 to 40 weeks)"""
import sys
import numpy as np

n, seed = int(sys.argv[1]), int(sys.argv[2])
lo, hi = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) > 4 else (140, 280)
rng = np.random.default_rng(seed)
r, alpha, a, b = 0.5, 5.0, 0.8, 2.5          # BG/NBD, weeks
p, q, v = 6.0, 4.0, 15.0                      # Gamma-Gamma
T = rng.integers(lo, hi + 1, n) / 7.0         # whole days, in weeks
lam = rng.gamma(r, 1.0 / alpha, n)
drop = rng.beta(a, b, n)
now = np.zeros(n); x = np.zeros(n, dtype=np.int64); last = np.zeros(n)
alive = np.ones(n, dtype=bool)
while alive.any():
    idx = np.nonzero(alive)[0]
    now[idx] += rng.exponential(1.0 / lam[idx])
    bought = now[idx] <= T[idx]
    alive[idx[~bought]] = False
    got = idx[bought]
    x[got] += 1
    last[got] = now[got]
    died = rng.random(len(got)) < drop[got]
    alive[got[died]] = False
last = np.floor(last * 7.0) / 7.0             # whole days
nu = rng.gamma(q, 1.0 / v, n)
m = np.where(x > 0, rng.gamma(p * np.maximum(x, 1), 1.0 / (nu * np.maximum(x, 1))), 0.0)
m = np.round(m, 2)
out = sys.stdout
for xi, li, ti, mi in zip(x, last, T, m):
    out.write(f"{int(xi)},{float(li)!r},{float(ti)!r},{float(mi)!r}\n")
