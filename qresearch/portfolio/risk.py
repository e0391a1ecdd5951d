"""Risk overlays on weight panels, sizing helpers and stress tests.

Overlays take a target-weight panel (NaN rows = hold) and return one with the same
shape; they change only rows that trade and use data up to each row's date.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from qresearch._compat import renamed_parameters
from qresearch._validation import check_aligned, check_number, check_panel
from qresearch.config import Config
from qresearch.exceptions import ConfigError, ParameterError
from qresearch.portfolio.report import keep_attrs

__all__ = [
    "DEFAULT_STRESS_WINDOWS",
    "RiskLimits",
    "cap_leverage",
    "cap_positions",
    "factor_shock",
    "fixed_fractional_size",
    "kelly_fraction",
    "limit_turnover",
    "stress_test",
    "target_volatility",
]

DEFAULT_STRESS_WINDOWS: dict[str, tuple[str, str]] = {
    "dot-com crash 2000-02": ("2000-03-10", "2002-10-09"),
    "global financial crisis 2008-09": ("2008-09-01", "2009-03-09"),
    "covid crash 2020-03": ("2020-02-19", "2020-03-23"),
}


@dataclass(frozen=True, kw_only=True)
class RiskLimits(Config):
    """Path-dependent risk rules enforced inside the backtest (later: simulator, live).

    When one triggers at the close of a bar, every position is liquidated on the next
    bar and the book stays flat for ``cooldown_bars`` bars, then the latest target
    weights apply again. The simulator and the live guard enforce the same object.

    Parameters
    ----------
    max_drawdown : float, optional
        Halt when equity falls this fraction below its running peak (0.2 = 20%).
    bar_loss_limit : float, optional
        Halt when equity loses this fraction in one bar (a daily loss limit on daily
        bars).
    max_losing_bars : int, optional
        Halt after this many consecutive losing bars.
    cooldown_bars : int or None, default None
        Bars to stay flat after the liquidation bar; None: flat to the end.

    Examples
    --------
    >>> RiskLimits(max_drawdown=0.2, cooldown_bars=21).config_id == RiskLimits(
    ...     max_drawdown=0.2, cooldown_bars=21).config_id
    True
    >>> RiskLimits(max_drawdown=1.5)
    Traceback (most recent call last):
    ...
    qresearch.exceptions.ConfigError: RiskLimits.max_drawdown must be in (0, 1) or None; got 1.5.
    """

    kind: ClassVar[str] = "risk_limits"

    max_drawdown: float | None = None
    bar_loss_limit: float | None = None
    max_losing_bars: int | None = None
    cooldown_bars: int | None = None

    def validate(self) -> None:
        """Check that fractions are in (0, 1) and counts are positive integers."""
        for name in ("max_drawdown", "bar_loss_limit"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, int | float) and 0 < v < 1):
                raise ConfigError(f"RiskLimits.{name} must be in (0, 1) or None; got {v!r}.")
        v = self.max_losing_bars
        if v is not None and not (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
            raise ConfigError(f"RiskLimits.max_losing_bars must be an int >= 1 or None; got {v!r}.")
        v = self.cooldown_bars
        if v is not None and not (isinstance(v, int) and not isinstance(v, bool) and v >= 0):
            raise ConfigError(f"RiskLimits.cooldown_bars must be an int >= 0 or None; got {v!r}.")

    def kernel_args(self) -> tuple[float, float, int, int]:
        """Return the limits as the backtest kernel takes them (NaN / 0 / -1: none)."""
        return (
            math.nan if self.max_drawdown is None else float(self.max_drawdown),
            math.nan if self.bar_loss_limit is None else float(self.bar_loss_limit),
            0 if self.max_losing_bars is None else int(self.max_losing_bars),
            -1 if self.cooldown_bars is None else int(self.cooldown_bars),
        )


def _rows(weights: pd.DataFrame) -> np.ndarray:
    # Positions of the rows that trade (at least one non-NaN weight).
    return np.flatnonzero(weights.notna().any(axis=1).to_numpy())


@renamed_parameters(target_vol="target_volatility", lookback="window")
def target_volatility(
    weights: pd.DataFrame,
    close: pd.DataFrame,
    target_volatility: float = 0.10,
    *,
    window: int = 63,
    periods_per_year: float = 252,
    max_gross: float | None = None,
) -> pd.DataFrame:
    """Scale each trading row to an ex-ante annualized volatility of ``target_volatility``.

    The ex-ante volatility of row t is ``sqrt(w' S w * periods_per_year)`` with ``S``
    the sample covariance of simple returns over the ``window`` bars ending at t
    (held symbols only, rows with a missing return dropped). The scaled row is capped
    at a gross exposure of ``max_gross`` when given. ``target_vol`` and ``lookback``
    are deprecated aliases of ``target_volatility`` and ``window`` (removed in the next
    release).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> idx = pd.bdate_range("2024-01-01", periods=5, name="timestamp")
    >>> close = pd.DataFrame({"A": [100, 101, 100, 101, 100.0]}, index=idx)
    >>> w = pd.DataFrame({"A": [np.nan] * 4 + [1.0]}, index=idx)
    >>> out = target_volatility(w, close, 0.1, window=4, periods_per_year=1)
    >>> vol = close["A"].pct_change().std()
    >>> bool(np.isclose(out.iloc[-1, 0], 0.1 / vol))
    True
    """
    check_panel(weights, "weights")
    check_panel(close, "close")
    check_aligned(close, weights, "close", "weights")
    check_number("target_volatility", target_volatility, "target_volatility")
    if not (isinstance(window, int) and window >= 2):
        raise ParameterError(
            f"The 'window' parameter of target_volatility must be an int >= 2; got {window!r}."
        )
    if max_gross is not None:
        check_number("max_gross", max_gross, "target_volatility")
    rets = close.pct_change(fill_method=None).to_numpy()
    w = weights.to_numpy(dtype=np.float64, na_value=np.nan).copy()
    for r in _rows(weights):
        if r < window:
            continue
        row = np.nan_to_num(w[r])
        held = row != 0
        if not held.any():
            continue
        sample = rets[r - window + 1 : r + 1][:, held]
        sample = sample[~np.isnan(sample).any(axis=1)]
        if len(sample) < 2:
            continue
        cov = np.atleast_2d(np.cov(sample, rowvar=False, ddof=1))
        vol = math.sqrt(max(float(row[held] @ cov @ row[held]), 0.0) * periods_per_year)
        if vol <= 0:
            continue
        scale = target_volatility / vol
        if max_gross is not None:
            scale = min(scale, max_gross / np.abs(row).sum())
        w[r] = np.where(np.isnan(w[r]), np.nan, w[r] * scale)
    return keep_attrs(pd.DataFrame(w, index=weights.index, columns=weights.columns), weights)


def cap_leverage(
    weights: pd.DataFrame, max_gross: float = 1.0, max_net: float | None = None
) -> pd.DataFrame:
    """Scale rows down so that gross (sum |w|) <= ``max_gross`` and |net| <= ``max_net``.

    The net cap scales down the larger leg only. Rows within limits are unchanged.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=1, name="timestamp")
    >>> w = pd.DataFrame({"A": [1.0], "B": [0.5], "C": [-0.5]}, index=idx)
    >>> cap_leverage(w, max_gross=1.0).iloc[0].tolist()
    [0.5, 0.25, -0.25]
    >>> cap_leverage(w, max_gross=2.0, max_net=0.5).iloc[0].tolist()
    [0.6666666666666666, 0.3333333333333333, -0.5]
    """
    check_panel(weights, "weights")
    check_number("max_gross", max_gross, "cap_leverage")
    out = weights.copy()
    if max_net is not None:
        check_number("max_net", max_net, "cap_leverage", strict=False)
        longs = out.clip(lower=0).sum(axis=1)
        shorts = -out.clip(upper=0).sum(axis=1)
        net = longs - shorts
        long_scale = ((shorts + max_net) / longs).where(net > max_net, 1.0)
        short_scale = ((longs + max_net) / shorts).where(net < -max_net, 1.0)
        out = out.clip(lower=0).mul(long_scale, axis=0) + out.clip(upper=0).mul(short_scale, axis=0)
        out = out.where(weights.notna())
    gross = out.abs().sum(axis=1)
    scale = (max_gross / gross).where(gross > max_gross, 1.0)
    return keep_attrs(out.mul(scale, axis=0), weights)


def cap_positions(weights: pd.DataFrame, max_weight: float) -> pd.DataFrame:
    """Clip every weight to ``[-max_weight, max_weight]`` (no redistribution).

    Use :func:`qresearch.portfolio.cap_weights` to redistribute the excess instead.
    """
    check_panel(weights, "weights")
    check_number("max_weight", max_weight, "cap_positions")
    return keep_attrs(weights.clip(lower=-max_weight, upper=max_weight), weights)


def limit_turnover(weights: pd.DataFrame, max_turnover: float) -> pd.DataFrame:
    """Move at most ``max_turnover`` (sum of |w_new - w_old|) per rebalance row.

    Each trading row moves from the previous (limited) row towards its target along a
    straight line, as far as the turnover budget allows; the portfolio starts flat.
    NaN cells are treated as 0 (not held).

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=2, name="timestamp")
    >>> w = pd.DataFrame({"A": [1.0, 0.0], "B": [0.0, 1.0]}, index=idx)
    >>> limit_turnover(w, 0.5).round(6).values.tolist()  # 2nd row: 1/3 of the way
    [[0.5, 0.0], [0.333333, 0.333333]]
    """
    check_panel(weights, "weights")
    check_number("max_turnover", max_turnover, "limit_turnover")
    w = weights.to_numpy(dtype=np.float64, na_value=np.nan).copy()
    prev = np.zeros(w.shape[1])
    for r in _rows(weights):
        target = np.nan_to_num(w[r])
        step = target - prev
        turnover = np.abs(step).sum()
        new = prev + step * (max_turnover / turnover) if turnover > max_turnover else target
        w[r] = new
        prev = new
    return keep_attrs(pd.DataFrame(w, index=weights.index, columns=weights.columns), weights)


def kelly_fraction(
    expected_return: float, variance: float, *, fraction: float = 1.0, cap: float = 1.0
) -> float:
    """Return the (fractional) Kelly leverage ``fraction * mu / sigma^2``, within ±cap.

    Examples
    --------
    >>> kelly_fraction(0.08, 0.04), kelly_fraction(0.08, 0.04, fraction=0.5, cap=3.0)
    (1.0, 1.0)
    """
    check_number("variance", variance, "kelly_fraction")
    check_number("fraction", fraction, "kelly_fraction")
    check_number("cap", cap, "kelly_fraction")
    return float(np.clip(fraction * expected_return / variance, -cap, cap))


def fixed_fractional_size(
    equity: float, risk_per_trade: float, entry_price: float, stop_price: float
) -> float:
    """Return the shares that lose ``risk_per_trade * equity`` if the stop is hit.

    Examples
    --------
    >>> fixed_fractional_size(100_000, 0.01, entry_price=50.0, stop_price=48.0)
    500.0
    """
    check_number("equity", equity, "fixed_fractional_size")
    check_number("risk_per_trade", risk_per_trade, "fixed_fractional_size")
    check_number("entry_price", entry_price, "fixed_fractional_size")
    check_number("stop_price", stop_price, "fixed_fractional_size")
    if stop_price == entry_price:
        raise ParameterError("stop_price must differ from entry_price.")
    return float(equity * risk_per_trade / abs(entry_price - stop_price))


def stress_test(
    weights: pd.Series,
    close: pd.DataFrame,
    windows: Mapping[str, tuple[Any, Any]] | None = None,
) -> pd.DataFrame:
    """Replay fixed weights through historical windows; report P&L and drawdown.

    The portfolio buys ``weights`` at the first close of each window and holds the
    shares (no rebalancing) to the last close; symbols without a price at the start
    of a window are left out and their weight kept in cash.

    Parameters
    ----------
    weights : Series
        Weights by symbol (fractions of equity).
    close : DataFrame
        Close panel covering the windows.
    windows : mapping of name -> (start, end), optional
        Default :data:`DEFAULT_STRESS_WINDOWS`; windows outside the data are skipped.

    Returns
    -------
    DataFrame
        One row per window in range: ``start, end, pnl`` (fraction of equity),
        ``max_drawdown`` (<= 0) and ``covered`` (weight that had prices).
    """
    if not isinstance(weights, pd.Series):
        raise ParameterError("weights must be a Series of weights by symbol.")
    check_panel(close, "close")
    missing = [s for s in weights.index if s not in close.columns]
    if missing:
        raise ParameterError(
            f"close has no prices for {missing[:5]}; pass a panel with every held symbol."
        )
    rows = []
    for name, (start, end) in (windows or DEFAULT_STRESS_WINDOWS).items():
        px = close.loc[start:end, list(weights.index)]
        if len(px) < 2:
            continue
        first = px.iloc[0]
        ok = first.notna()
        shares = (weights[ok] / first[ok]).fillna(0.0)
        cash = 1.0 - float(weights[ok].sum())
        value = cash + (px.loc[:, ok].ffill() * shares).sum(axis=1)
        dd = value / value.cummax() - 1.0
        rows.append(
            {
                "window": name,
                "start": px.index[0],
                "end": px.index[-1],
                "pnl": float(value.iloc[-1] - 1.0),
                "max_drawdown": float(dd.min()),
                "covered": float(weights[ok].sum()),
            }
        )
    columns = ["window", "start", "end", "pnl", "max_drawdown", "covered"]
    return pd.DataFrame(rows, columns=columns).set_index("window")


def factor_shock(weights: pd.Series, exposures: pd.DataFrame, shocks: Mapping[str, float]) -> float:
    """Return the portfolio return of factor shocks: ``sum_i w_i * sum_f beta_if * shock_f``.

    Parameters
    ----------
    weights : Series
        Weights by symbol.
    exposures : DataFrame
        Factor betas, symbols x factors.
    shocks : mapping
        Factor name -> return of that factor in the scenario (e.g. {"market": -0.2}).

    Examples
    --------
    >>> import pandas as pd
    >>> w = pd.Series({"A": 0.6, "B": 0.4})
    >>> betas = pd.DataFrame({"market": [1.2, 0.5]}, index=["A", "B"])
    >>> round(factor_shock(w, betas, {"market": -0.1}), 10)
    -0.092
    """
    unknown = [f for f in shocks if f not in exposures.columns]
    if unknown:
        raise ParameterError(
            f"exposures has no factors {unknown}; it has {list(exposures.columns)}."
        )
    missing = [s for s in weights.index if s not in exposures.index]
    if missing:
        raise ParameterError(f"exposures has no row for symbols {missing[:5]}.")
    shock = pd.Series(dict(shocks), dtype=float)
    per_symbol = exposures.loc[weights.index, list(shock.index)].to_numpy() @ shock.to_numpy()
    return float(np.dot(weights.to_numpy(dtype=float), per_symbol))
