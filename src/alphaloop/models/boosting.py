"""Gradient-boosted trees: LightGBM and XGBoost behind the estimator contract.

Both early-stop on the validation set passed to ``fit`` (and only on it),
run with a fixed thread count and seed, and save in their library's native
format (LightGBM text, XGBoost UBJSON). The libraries are imported when a
model is fitted or loaded, not with this module.
"""

from __future__ import annotations

from typing import Any

from alphaloop.models.estimators import Estimator, Task

__all__ = ["LightGBMEstimator", "XGBoostEstimator"]


class LightGBMEstimator(Estimator):
    """Gradient-boosted trees with LightGBM (``family="lightgbm"``).

    Parameters
    ----------
    task : {"regression", "classification"}, default="regression"
        Squared-error regression, or binary log-loss with probabilities out.
    n_estimators : int, default=300
        Maximum boosting rounds.
    learning_rate : float, default=0.05
    num_leaves : int, default=15
    min_child_samples : int, default=50
        Minimum rows per leaf.
    subsample : float, default=0.8
        Row fraction bagged each round (1.0 disables bagging).
    colsample : float, default=0.8
        Feature fraction per tree.
    reg_lambda : float, default=1.0
        L2 penalty on leaf values.
    early_stopping_rounds : int, default=30
        Stop when the validation loss has not improved for this many rounds.
    n_jobs : int, default=1
        Threads; results are reproducible for a fixed value.
    seed : int, default=0

    Attributes
    ----------
    booster_ : lightgbm.Booster
    best_iteration_ : int
        Rounds used for prediction.
    """

    family = "lightgbm"

    def __init__(
        self,
        task: Task = "regression",
        *,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        subsample: float = 0.8,
        colsample: float = 0.8,
        reg_lambda: float = 1.0,
        early_stopping_rounds: int = 30,
        n_jobs: int = 1,
        seed: int = 0,
    ) -> None:
        self.task = task
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample = colsample
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.n_jobs = n_jobs
        self.seed = seed

    def _fit(self, x, y, valid):
        import lightgbm as lgb

        params = {
            "objective": "binary" if self.task == "classification" else "regression",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1.0 else 0,
            "feature_fraction": self.colsample,
            "lambda_l2": self.reg_lambda,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.n_jobs,
            "verbosity": -1,
        }
        train_set = lgb.Dataset(x, label=y)
        kwargs: dict[str, Any] = {}
        if valid is not None:
            kwargs["valid_sets"] = [lgb.Dataset(valid[0], label=valid[1], reference=train_set)]
            kwargs["valid_names"] = ["valid"]
            kwargs["callbacks"] = [lgb.early_stopping(self.early_stopping_rounds, verbose=False)]
        booster = lgb.train(params, train_set, num_boost_round=self.n_estimators, **kwargs)
        best = booster.best_iteration if valid is not None else 0
        self.best_iteration_ = int(best) if best > 0 else booster.current_iteration()
        self.booster_ = booster

    def _predict(self, x):
        return self.booster_.predict(x, num_iteration=self.best_iteration_)

    def _fitted_state(self):
        return {"best_iteration": self.best_iteration_}

    def _save_model(self, directory):
        self.booster_.save_model(str(directory / "model.txt"), num_iteration=self.best_iteration_)

    def _load_model(self, directory, state):
        import lightgbm as lgb

        self.booster_ = lgb.Booster(model_file=str(directory / "model.txt"))
        self.best_iteration_ = int(state["best_iteration"])


class XGBoostEstimator(Estimator):
    """Gradient-boosted trees with XGBoost's ``hist`` method (``family="xgboost"``).

    Parameters
    ----------
    task : {"regression", "classification"}, default="regression"
        ``reg:squarederror``, or ``binary:logistic`` with probabilities out.
    n_estimators : int, default=300
        Maximum boosting rounds.
    learning_rate : float, default=0.05
    max_depth : int, default=4
    min_child_weight : float, default=5.0
    subsample : float, default=0.8
    colsample : float, default=0.8
        Feature fraction per tree.
    reg_lambda : float, default=1.0
    early_stopping_rounds : int, default=30
    n_jobs : int, default=1
        Threads; results are reproducible for a fixed value.
    seed : int, default=0

    Attributes
    ----------
    booster_ : xgboost.Booster
        Cut to the best round when early stopping ran.
    best_iteration_ : int
        Rounds kept.
    """

    family = "xgboost"

    def __init__(
        self,
        task: Task = "regression",
        *,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        max_depth: int = 4,
        min_child_weight: float = 5.0,
        subsample: float = 0.8,
        colsample: float = 0.8,
        reg_lambda: float = 1.0,
        early_stopping_rounds: int = 30,
        n_jobs: int = 1,
        seed: int = 0,
    ) -> None:
        self.task = task
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample = colsample
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.n_jobs = n_jobs
        self.seed = seed

    def _fit(self, x, y, valid):
        import xgboost as xgb

        classify = self.task == "classification"
        params = {
            "objective": "binary:logistic" if classify else "reg:squarederror",
            "eval_metric": "logloss" if classify else "rmse",
            "eta": self.learning_rate,
            "max_depth": self.max_depth,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample,
            "lambda": self.reg_lambda,
            "tree_method": "hist",
            "nthread": self.n_jobs,
            "seed": self.seed,
            "verbosity": 0,
        }
        train = xgb.DMatrix(x, label=y, nthread=self.n_jobs)
        kwargs: dict[str, Any] = {"verbose_eval": False}
        if valid is not None:
            kwargs["evals"] = [
                (xgb.DMatrix(valid[0], label=valid[1], nthread=self.n_jobs), "valid")
            ]
            kwargs["early_stopping_rounds"] = self.early_stopping_rounds
        booster = xgb.train(params, train, num_boost_round=self.n_estimators, **kwargs)
        if valid is not None:
            booster = booster[: booster.best_iteration + 1]
        self.booster_ = booster
        self.best_iteration_ = int(booster.num_boosted_rounds())

    def _predict(self, x):
        import xgboost as xgb

        return self.booster_.predict(xgb.DMatrix(x, nthread=self.n_jobs))

    def _fitted_state(self):
        return {"best_iteration": self.best_iteration_}

    def _save_model(self, directory):
        self.booster_.save_model(str(directory / "model.ubj"))

    def _load_model(self, directory, state):
        import xgboost as xgb

        booster = xgb.Booster(params={"nthread": self.n_jobs})
        booster.load_model(str(directory / "model.ubj"))
        self.booster_ = booster
        self.best_iteration_ = int(state["best_iteration"])
