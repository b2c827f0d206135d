"""The Qlib side of ``bench_rolling.py``; runs in the Qlib venv (pyqlib 0.9.7), not alphaloop's.

``bench_rolling.py`` starts this file with the Qlib venv's python; it runs
Qlib's rolling module (``qlib.contrib.rolling.base.Rolling``) on a task file it
writes, with the handler below, and prints one ``BENCH-RESULT`` JSON line.
"""

from __future__ import annotations

import json
import logging
import os
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from qlib.contrib.data.handler import Alpha158

RESULT_TAG = "BENCH-RESULT "


class Alpha158Close(Alpha158):
    """Qlib's Alpha158 handler restricted to the features that read only ``$close``."""

    def get_feature_config(self) -> tuple[list[str], list[str]]:
        fields, names = super().get_feature_config()
        keep = [
            (f, n)
            for f, n in zip(fields, names, strict=True)
            if set(re.findall(r"\$(\w+)", f)) == {"close"}
        ]
        return [f for f, _ in keep], [n for _, n in keep]


def _since_spawn() -> float:
    return time.time() - float(os.environ["BENCH_SPAWN_T"])


def _stopwatch(seconds: dict[str, float], owner: Any, attribute: str, key: str) -> None:
    """Add up the seconds spent in ``owner.attribute`` under ``key`` (calls pass through)."""
    original = getattr(owner, attribute)

    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - t0

    setattr(owner, attribute, timed)


def task_config(spec: dict[str, Any]) -> dict[str, Any]:
    """The rolling module's task: the handler, the first segment's dates, LGBModel."""
    s = spec["schedule"]
    return {
        "model": {
            "class": "LGBModel",
            "module_path": "qlib.contrib.model.gbdt",
            "kwargs": {
                "loss": "mse",
                "num_boost_round": spec["rounds"],
                "early_stopping_rounds": spec["early_stopping"],
                **spec["lgb"],
            },
        },
        "dataset": {
            "class": "DatasetH",
            "module_path": "qlib.data.dataset",
            "kwargs": {
                "handler": {
                    "class": "Alpha158Close",
                    "module_path": "_qlib_rolling",
                    "kwargs": {
                        "instruments": "all",
                        "start_time": s["handler_start"],
                        "end_time": s["handler_end"],
                        "fit_start_time": s["train"][0],
                        "fit_end_time": s["train"][1],
                        "infer_processors": [
                            {"class": "CSZScoreNorm", "kwargs": {"fields_group": "feature"}},
                            {"class": "Fillna", "kwargs": {"fields_group": "feature"}},
                        ],
                        "learn_processors": [{"class": "DropnaLabel"}],
                    },
                },
                "segments": {k: list(s[k]) for k in ("train", "valid", "test")},
            },
        },
        "record": [],
    }


def child_qlib(spec: dict[str, Any]) -> dict[str, Any]:
    """Qlib's rolling workflow: handler cache, RollingGen tasks, TrainerR, RollingEnsemble."""
    # Qlib's default experiment store is MLflow's file store, which MLflow 3 now refuses unless
    # asked; keep Qlib's default
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    t0 = time.perf_counter()
    import lightgbm
    import qlib
    import yaml
    from qlib.contrib.model.gbdt import LGBModel
    from qlib.contrib.rolling.base import Rolling
    from qlib.workflow import R
    from qlib.workflow.task.gen import RollingGen, task_generator

    class SlidingRolling(Rolling):
        """Qlib's Rolling with a sliding training window (its default expands)."""

        def get_task_list(self) -> list[dict]:
            tasks = task_generator(
                self.basic_task(),
                RollingGen(step=self.step, rtype=RollingGen.ROLL_SD, trunc_days=self.horizon + 1),
            )
            for t in tasks:
                t["record"] = ["qlib.workflow.record_temp.SignalRecord"]
            return tasks

    seconds: dict[str, float] = {}
    _stopwatch(seconds, lightgbm, "train", "lgb_train")
    _stopwatch(seconds, LGBModel, "fit", "model_fit")
    tmp = Path(tempfile.mkdtemp(prefix="qlib-rolling-", dir=spec["work"]))
    os.chdir(tmp)  # Qlib puts its MLflow lock file at the store's path made relative
    qlib.init(
        provider_uri=spec["qlib_dir"],
        region="us",
        kernels=spec["threads"],
        expression_cache=None,
        dataset_cache=None,
        logging_level=logging.WARNING,
        exp_manager={
            "class": "MLflowExpManager",
            "module_path": "qlib.workflow.expm",
            "kwargs": {"uri": f"file:{tmp / 'mlruns'}", "default_exp_name": "Experiment"},
        },
    )
    import_s = time.perf_counter() - t0
    conf = tmp / "rolling.yaml"
    conf.write_text(yaml.safe_dump({"task": task_config(spec)}))
    rolling = SlidingRolling(
        conf_path=conf,
        exp_name="rolling_stitched",
        horizon=spec["horizon"],
        step=spec["step"],
        rolling_exp="rolling_models",
    )
    t0 = time.perf_counter()
    rolling.basic_task()  # builds the handler (features, labels, processors) and caches it
    prep_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    tasks = rolling.get_task_list()
    rolling._train_rolling_tasks()
    rolling_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rolling._ens_rolling()
    rec = R.get_recorder(experiment_name=rolling.exp_name, recorder_id=rolling._rid)
    pred, label = rec.load_object("pred.pkl"), rec.load_object("label.pkl")
    stitch_s = time.perf_counter() - t0
    wall_s = _since_spawn()
    days, assets = pd.DatetimeIndex(spec["days"]), {a: j for j, a in enumerate(spec["assets"])}

    def grid(values: pd.Series | pd.DataFrame) -> np.ndarray:
        s = values.iloc[:, 0] if isinstance(values, pd.DataFrame) else values
        out = np.full((len(days), len(assets)), np.nan)
        row = days.get_indexer(s.index.get_level_values("datetime"))
        col = np.array([assets[a] for a in s.index.get_level_values("instrument")])
        out[row, col] = s.to_numpy(dtype=np.float64)
        return out

    if spec.get("features_out"):  # untimed: the handler's normalized features, for agreement
        import pickle

        from qlib.data.dataset.handler import DataHandlerLP

        (cached,) = tmp.glob("Alpha158Close.*.pkl")
        with cached.open("rb") as fh:
            features = pickle.load(fh).fetch(col_set="feature", data_key=DataHandlerLP.DK_I)
        cube = np.full((len(days), len(assets), features.shape[1]), np.nan, dtype=np.float32)
        row = days.get_indexer(features.index.get_level_values("datetime"))
        col = np.array([assets[a] for a in features.index.get_level_values("instrument")])
        cube[row, col] = features.to_numpy(dtype=np.float32)
        np.save(spec["features_out"], cube)
    shutil.rmtree(tmp, ignore_errors=True)  # MLflow runs and the handler cache
    np.savez(
        spec["out"],
        pred=grid(pred),
        label=grid(label),
        days=np.array(spec["days"]),
        assets=np.array(spec["assets"]),
    )
    segs = [t["dataset"]["kwargs"]["segments"] for t in tasks]

    def fmt(value: Any) -> str:  # an open end (None) is the calendar's last day
        return f"{pd.Timestamp(value) if value is not None else days[-1]:%Y-%m-%d}"

    handler = Alpha158Close.get_feature_config(Alpha158Close.__new__(Alpha158Close))
    return {
        "wall_s": wall_s,
        "import_s": import_s,
        "load_s": None,  # the handler reads the files while it computes
        "prep_s": prep_s,
        "rolling_s": rolling_s,
        "stitch_s": stitch_s,
        "fit_s": seconds.get("model_fit", 0.0),
        "lgb_train_s": seconds.get("lgb_train", 0.0),
        "segments": len(tasks),
        "segment_dates": {
            "train_start": [fmt(s["train"][0]) for s in segs],
            "train_end": [fmt(s["train"][1]) for s in segs],
            "valid_start": [fmt(s["valid"][0]) for s in segs],
            "valid_end": [fmt(s["valid"][1]) for s in segs],
            "test_start": [fmt(s["test"][0]) for s in segs],
            "test_end": [fmt(s["test"][1]) for s in segs],
        },
        "first_segments": {k: [fmt(v) for v in segs[0][k]] for k in segs[0]},
        "feature_names": list(handler[1]),
        "predicted": len(pred),
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "version": qlib.__version__,
        "lightgbm": lightgbm.__version__,
        "pandas": pd.__version__,
    }


def main() -> int:
    spec = json.loads(Path(sys.argv[sys.argv.index("--spec-file") + 1]).read_text())
    result = child_qlib(spec)
    print(RESULT_TAG + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _qlib_rolling  # the handler class must live in an importable module, not __main__

    sys.exit(_qlib_rolling.main())
