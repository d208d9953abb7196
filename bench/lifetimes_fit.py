"""Fits BG/NBD and Gamma-Gamma with the Python package lifetimes on a CSV of
frequency,recency,tenure,monetary and prints the seconds and the parameters as JSON."""
import json, sys, time
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter

d = pd.read_csv(sys.argv[1], names=["frequency", "recency", "T", "monetary"])
t0 = time.perf_counter()
bg = BetaGeoFitter().fit(d["frequency"], d["recency"], d["T"])
t1 = time.perf_counter()
rep = d[(d["frequency"] > 0) & (d["monetary"] > 0)]
gg = GammaGammaFitter().fit(rep["frequency"], rep["monetary"])
t2 = time.perf_counter()
print(json.dumps({"bgnbd_s": t1 - t0, "gg_s": t2 - t1,
                  "bgnbd": {k: float(v) for k, v in bg.params_.items()},
                  "gg": {k: float(v) for k, v in gg.params_.items()}}))
