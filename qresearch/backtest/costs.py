"""Transaction costs shared by the vectorized engines and the simulator.

Each engine builds a :class:`Costs` from its arguments and hands its fields to its
kernel; the kernels and :meth:`Costs.buy` / :meth:`Costs.sell` price, size and charge a
fill through the same execution core, :mod:`qresearch.backtest._exec`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar

from qresearch.config import Config
from qresearch.exceptions import ConfigError

__all__ = ["Costs"]


@dataclass(frozen=True, kw_only=True)
class Costs(Config):
    """Proportional fees, a fixed fee per order and slippage.

    Parameters
    ----------
    fees : float, default 0.0
        Fraction of the traded value paid per order (0.001 = 10 bps).
    fixed_fees : float, default 0.0
        Currency paid per order, whatever its size.
    slippage : float, default 0.0
        Fraction of the price lost per fill: buys fill at ``price * (1 + slippage)``,
        sells at ``price * (1 - slippage)``.
    impact : float, default 0.0
        Square-root market impact coefficient ``k``: a fill of ``qty`` shares moves its
        price by ``k * sigma * sqrt(qty / adv)`` (a fraction, added to ``slippage``),
        with ``sigma`` the daily return volatility and ``adv`` the average daily
        volume over the ``impact_window`` bars before the fill's bar.
    participation : float, optional
        Largest fill as a fraction of its bar's volume; the rest of the order is not
        filled (the next rebalance trades again towards the target).
    impact_window : int, default 20
        Bars used for ``sigma`` and ``adv``.

    Examples
    --------
    >>> c = Costs(fees=0.001, slippage=0.0005)
    >>> c.buy_price(100.0), c.sell_price(100.0), c.fee(10_000.0)
    (100.05, 99.95, 10.0)
    >>> Costs(fees=-0.1)
    Traceback (most recent call last):
    ...
    qresearch.exceptions.ConfigError: Costs.fees must be a finite number >= 0; got -0.1.
    """

    kind: ClassVar[str] = "costs"

    fees: float = 0.0
    fixed_fees: float = 0.0
    slippage: float = 0.0
    impact: float = 0.0
    participation: float | None = None
    impact_window: int = 20

    def validate(self) -> None:
        """Check that every cost is finite and non-negative, and slippage below 1."""
        for name in ("fees", "fixed_fees", "slippage", "impact"):
            value = getattr(self, name)
            if (
                not isinstance(value, numbers.Real)
                or isinstance(value, bool)
                or not math.isfinite(value)
                or value < 0
            ):
                raise ConfigError(f"Costs.{name} must be a finite number >= 0; got {value!r}.")
        if self.slippage >= 1:
            raise ConfigError(
                f"Costs.slippage is a fraction of the price and must be < 1; got {self.slippage}."
            )
        p = self.participation
        if p is not None and not (isinstance(p, numbers.Real) and 0 < p <= 1):
            raise ConfigError(
                f"Costs.participation is a fraction of bar volume in (0, 1] or None; got {p!r}."
            )
        w = self.impact_window
        if not (isinstance(w, int) and not isinstance(w, bool) and w >= 2):
            raise ConfigError(f"Costs.impact_window must be an integer >= 2; got {w!r}.")

    @property
    def needs_volume(self) -> bool:
        """True when impact or a participation cap is set (both need bar volume)."""
        return self.impact > 0 or self.participation is not None

    def impact_fraction(self, qty: float, sigma: float, adv: float) -> float:
        """Return the square-root impact ``impact * sigma * sqrt(|qty| / adv)`` (0 if adv <= 0).

        Examples
        --------
        >>> Costs(impact=0.5).impact_fraction(qty=10_000, sigma=0.02, adv=1_000_000)
        0.001
        """
        from qresearch.backtest._exec import slip_fraction_py

        return slip_fraction_py(qty, 0.0, self.impact, sigma, adv)

    def impact_inputs(self, close: Any, volume: Any) -> tuple[Any, Any]:
        """Return ``(sigma, adv)`` panels known before each bar (no look-ahead).

        ``sigma`` is the standard deviation of simple returns and ``adv`` the mean
        volume over the ``impact_window`` bars ending at the previous bar.
        """
        window = self.impact_window
        rets = close.pct_change(fill_method=None)
        sigma = rets.rolling(window, min_periods=2).std().shift(1)
        adv = volume.rolling(window, min_periods=1).mean().shift(1)
        return sigma, adv

    def buy(
        self,
        qty: float,
        price: float,
        *,
        cash: float = math.inf,
        sigma: float = math.nan,
        adv: float = math.nan,
    ) -> tuple[float, float, float, float]:
        """Return ``(qty, fill price, fee, cash spent)`` of a buy, as every engine books it.

        The execution core of the engines (``qresearch.backtest._exec``): slippage plus
        impact on the price, fees on the value, and the size reduced so that no more
        than ``cash`` is spent (``qty`` 0.0 when nothing can be bought).

        Examples
        --------
        >>> Costs(fees=0.001, slippage=0.001).buy(10, 100.0)
        (10.0, 100.1, 1.001, 1002.001)
        >>> Costs(fees=0.01).buy(10, 100.0, cash=505.0)[0]  # 500 of shares + 5 of fees
        5.0
        """
        from qresearch.backtest._exec import buy_py, slip_fraction_py

        slip = slip_fraction_py(qty, self.slippage, self.impact, sigma, adv)
        return buy_py(float(qty), price, slip, cash, self.fees, self.fixed_fees, math.nan, 0.0)

    def sell(
        self, qty: float, price: float, *, sigma: float = math.nan, adv: float = math.nan
    ) -> tuple[float, float, float, float]:
        """Return ``(qty, fill price, fee, cash received)`` of a sell (see :meth:`buy`).

        Examples
        --------
        >>> Costs(fees=0.001, slippage=0.001).sell(10, 100.0)
        (10.0, 99.9, 0.999, 998.001)
        """
        from qresearch.backtest._exec import sell_py, slip_fraction_py

        slip = slip_fraction_py(qty, self.slippage, self.impact, sigma, adv)
        return sell_py(float(qty), price, slip, self.fees, self.fixed_fees, math.nan, 0.0)

    def buy_price(self, price: float) -> float:
        """Return the fill price of a buy at ``price`` (slippage only)."""
        return self.buy(1.0, price)[1]

    def sell_price(self, price: float) -> float:
        """Return the fill price of a sell at ``price`` (slippage only)."""
        return self.sell(1.0, price)[1]

    def fee(self, traded_value: float) -> float:
        """Return the fee of one order of absolute value ``traded_value``."""
        return abs(traded_value) * self.fees + self.fixed_fees
